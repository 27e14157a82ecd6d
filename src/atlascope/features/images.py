"""Image features (volumes of interest, histological sections) and regional BOLD time series.

Image features record their providers (format → URL) and bounding box; ``data`` lists the providers.
NIfTI and neuroglancer precomputed providers can be opened as a :class:`~atlascope.volumes.Volume`
with :meth:`ImageFeature.fetch` (precomputed volumes at a scale within the default memory budget).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import NotFoundError
from ..retrieval import zip_member
from ..volumes.precomputed import PrecomputedProvider
from ..volumes.providers import NiftiProvider
from ..volumes.volume import Volume
from .base import Anchor, Feature, _axes, _short

if TYPE_CHECKING:  # pragma: no cover
    import matplotlib.axes

__all__ = ["ImageFeature", "VolumeOfInterest", "CellbodyStainedSection", "RegionalTimeseriesActivity"]


class ImageFeature(Feature):
    """An image in a reference space (``data``: one row per provider: ``format``, ``url``)."""

    MODALITY = "image"

    def __init__(self, anchor: Anchor, providers: dict[str, str], name: str = "", **kwargs: Any) -> None:
        super().__init__(anchor, **kwargs)
        self.providers = dict(providers)
        self.title = name

    @property
    def name(self) -> str:
        """The catalogue's name of the image."""
        return self.title or super().name

    def _load(self) -> pd.DataFrame:
        return pd.DataFrame({"format": list(self.providers), "url": list(self.providers.values())})

    def fetch(self) -> Any:
        """The image as a Volume (a NIfTI provider first, else a neuroglancer precomputed one).

        Raises
        ------
        NotFoundError
            The feature has neither kind of provider.
        """
        for fmt, url in self.providers.items():
            if "nii" in fmt or str(url).endswith((".nii", ".nii.gz")):
                return Volume(NiftiProvider(url), self.anchor.space, self.name)
        for fmt, url in self.providers.items():
            if fmt == "neuroglancer/precomputed" and isinstance(url, str):
                return Volume(PrecomputedProvider(url), self.anchor.space, self.name)
        raise NotFoundError(
            f"{self.name} has neither a NIfTI nor a neuroglancer precomputed image "
            f"(providers: {', '.join(self.providers)})."
        )

    def plot(self, ax: matplotlib.axes.Axes | None = None, **kwargs: Any) -> matplotlib.axes.Axes:
        """An orthogonal slice of the NIfTI image."""
        ax = _axes(ax)
        arr = np.asarray(self.fetch().fetch().dataobj)
        ax.imshow(arr[:, :, arr.shape[2] // 2].T, origin="lower", cmap="gray", **kwargs)
        ax.set_title(_short(self.name))
        return ax


class VolumeOfInterest(ImageFeature):
    """A volume of interest (MRI, PLI, blockface, light-sheet...) in a reference space."""

    MODALITY = "volume of interest"


class CellbodyStainedSection(ImageFeature):
    """A 1 µm scan of a cell-body stained BigBrain section."""

    MODALITY = "cell body staining"


class RegionalTimeseriesActivity(Feature):
    """Regional BOLD time series per subject (``data``: the first subject, time × regions).

    Parameters
    ----------
    anchor : Anchor
        Parcellation and region names (columns).
    files : dict of str to str
        Subject → zip member.
    repository : str
        URL of the zip archive.
    decoder : dict
        CSV options.
    timestep : str
        Sampling interval (e.g. "720 ms").
    """

    MODALITY = "RegionalBOLD"

    def __init__(
        self,
        anchor: Anchor,
        files: dict[str, str],
        repository: str | None,
        decoder: dict | None = None,
        timestep: str = "",
        cohort: str = "",
        paradigm: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(anchor, **kwargs)
        self.files = dict(files)
        self.repository = repository
        self.decoder = dict(decoder or {})
        self.timestep = timestep
        self.cohort = cohort
        self.paradigm = paradigm

    @property
    def subjects(self) -> list[str]:
        """Subject keys."""
        return list(self.files)

    def get_timeseries(self, subject: str | None = None) -> pd.DataFrame:
        """One subject's time series (time points × regions)."""
        key = str(subject) if subject is not None else self.subjects[0]
        if key not in self.files:
            raise NotFoundError(f"No subject {subject!r} in {self.name}.")
        raw = zip_member(self.repository, self.files[key]) if self.repository else b""
        sep = self.decoder.get("delimiter", ",")
        sep = r"\s+" if not sep.strip() else sep
        df = pd.read_csv(io.BytesIO(raw), sep=sep, header=None, engine="c")
        if df.shape[1] == len(self.anchor.region_names):
            df.columns = list(self.anchor.region_names)
        return df

    def _load(self) -> pd.DataFrame:
        return self.get_timeseries(None)

"""Feature and Anchor: what every multimodal feature has in common.

A :class:`Feature` is a piece of data anchored to the brain: to a region (by name, optionally of one
parcellation), to a whole parcellation (connectivity matrices) or to a location (points in a
reference space). Features are *lazy*: building one records URLs only, and the files are read the
first time :attr:`Feature.data` is asked for.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import pandas as pd

from ..core.provenance import Provenance
from ..core.region import Region
from ..errors import InvalidInputError, NotFoundError
from ..locations.point import PointCloud
from ..retrieval.fetching import fetch_parsed

if TYPE_CHECKING:  # pragma: no cover
    import matplotlib.axes

__all__ = ["Feature", "Anchor", "QUALIFICATIONS", "feature_types", "read_table_file"]

T = TypeVar("T")

#: Failures of a table reader that mean the file's content is unusable (not a wrong request).
TABLE_ERRORS = (InvalidInputError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError)

#: Qualifications of a match, best first. They say how the *feature's* anchor relates to the query:
#: ``"exact"`` same area; ``"contains"`` the feature's region contains the queried one (a feature at
#: "hOc1" for the query "hOc1 left"); ``"contained"`` the feature's region lies inside the queried one;
#: ``"overlaps"`` the feature's region or location overlaps the queried volume or location;
#: ``"homologous area"`` the feature describes an area of another parcellation (von Economo's) that a
#: documented correspondence relates to the queried one (it is not the same area).
QUALIFICATIONS = ("exact", "contains", "contained", "overlaps", "homologous area")

#: The registry of Feature classes by name, filled as subclasses are defined (see ``__init_subclass__``).
_TYPES: dict[str, type[Feature]] = {}


def feature_types() -> dict[str, type[Feature]]:
    """Every Feature subclass by class name (including abstract groups such as RegionalConnectivity)."""
    return dict(_TYPES)


def read_table_file(url: str, parse: Callable[[bytes], T], kind: str = "text") -> T:
    """``parse(content)`` of the file ``url`` (URL or path) through the download cache.

    A cached copy that ``parse`` cannot read (one of :data:`TABLE_ERRORS`) is evicted and fetched
    again once, as for every cached file (:func:`~atlascope.retrieval.fetching.fetch_parsed`).

    Raises
    ------
    IntegrityError
        A downloaded file still cannot be read after fetching it again.
    InvalidInputError
        A local file (or mirror copy) cannot be read.
    """
    return fetch_parsed(url, lambda path: parse(path.read_bytes()), TABLE_ERRORS, kind=kind)


@dataclass
class Anchor:
    """Where a feature is anchored.

    Parameters
    ----------
    region : str, optional
        Name of the region the feature describes (e.g. ``"Area hOc1 (V1, 17, CalcS)"``).
    parcellation : str, optional
        Id of the parcellation the names refer to (connectivity matrices, region-wise tables).
    region_names : list of str
        For parcellation-wide features (connectivity), every region of the matrix.
    coordinates : numpy.ndarray, optional
        (N, 3) points in mm, in ``space``.
    space : str, optional
        Id or name of the reference space of ``coordinates`` (resolved only when used).
    species : str
        Species of the data.
    """

    region: str | None = None
    parcellation: str | None = None
    region_names: list[str] = field(default_factory=list)
    coordinates: np.ndarray | None = None
    space: str | None = None
    species: str = "Homo sapiens"
    _matches: dict[Region, str] = field(default_factory=dict, repr=False)

    @property
    def regions(self) -> dict[Region, str]:
        """{Region: qualification} of the query that returned this feature (view).

        Before any query, the anchor's own region (a detached Region with the catalogue's name)
        with ``"exact"``. The qualification says how the feature's region relates to the queried
        concept (see :data:`QUALIFICATIONS`).
        """
        if self._matches:
            return dict(self._matches)
        if self.region:
            return {Region(self.region): "exact"}
        return {}

    @property
    def location(self) -> Any:
        """The anchor's points as a :class:`~atlascope.locations.PointCloud` (``None`` without points).

        The space is resolved through the registry; an unknown space gives a PointCloud without space.
        """
        if self.coordinates is None:
            return None
        try:
            return PointCloud(self.coordinates, self.space)
        except NotFoundError:
            return PointCloud(self.coordinates, None)

    def __str__(self) -> str:
        if self.region:
            return self.region
        if self.parcellation:
            return f"parcellation {self.parcellation} ({len(self.region_names)} regions)"
        if self.coordinates is not None:
            return f"{len(self.coordinates)} points in {self.space}"
        return "unanchored"


class Feature:
    """Base class of every multimodal feature.

    Parameters
    ----------
    anchor : Anchor
        Where the feature lives.
    modality : str, optional
        Kind of measurement (defaults to the class's ``MODALITY``).
    description : str
        Human-readable description.
    datasets : list of Provenance
        Origin: dataset name, DOI/URL, licence, citation, files.
    id : str
        Identifier from the catalogue (``@id``), if any.
    """

    #: Default modality of the class.
    MODALITY: ClassVar[str] = ""
    #: Whether features of this class are computed by a live query instead of read from a catalogue.
    LIVE: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _TYPES[cls.__name__] = cls

    def __init__(
        self,
        anchor: Anchor,
        modality: str = "",
        description: str = "",
        datasets: list[Provenance] | None = None,
        id: str = "",
    ) -> None:
        self.anchor = anchor
        self.modality = modality or self.MODALITY
        self.description = description
        self.datasets = list(datasets or [])
        self.id = id
        # loaded data, shared with the per-query views of this feature (see ``with_matches``)
        self._cache: dict[str, Any] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------ provenance
    @property
    def urls(self) -> list[str]:
        """DOIs / landing pages of the datasets, then the data files (URLs), without repeats."""
        out: list[str] = []
        for d in self.datasets:
            out.extend(d.urls)
        for d in self.datasets:
            out.extend(d.files)
        return list(dict.fromkeys(out))

    @property
    def provenance(self) -> Provenance:
        """The first dataset's provenance (an empty one when the catalogue gives none)."""
        return self.datasets[0] if self.datasets else Provenance()

    @property
    def licence(self) -> str:
        """Licence of the data, when the catalogue gives one."""
        return next((d.licence for d in self.datasets if d.licence), "")

    def cite(self) -> str:
        """A citation string: dataset name or citation, DOI/URL and licence when known."""
        parts = []
        for d in self.datasets or [Provenance(dataset=self.name)]:
            text = d.cite() or d.dataset or self.name
            if d.licence:
                text += f" (licence: {d.licence})"
            parts.append(text)
        return "; ".join(dict.fromkeys(p for p in parts if p))

    # ------------------------------------------------------------------ data
    @property
    def name(self) -> str:
        """Display name: type, modality and anchor."""
        what = type(self).__name__
        return f"{what} ({self.modality}) of {self.anchor}" if self.modality else f"{what} of {self.anchor}"

    @property
    def data(self) -> pd.DataFrame:
        """The feature's table (read on first access, then kept)."""
        with self._lock:
            if "data" not in self._cache:
                self._cache["data"] = self._load()
            return self._cache["data"]

    def with_matches(self, matches: dict[Region, str]) -> Feature:
        """A view of this feature whose ``anchor.regions`` is ``matches`` (one query's answer).

        Views share the loaded data and its lock with the feature, so every query gets its own
        qualifications while files are read once.
        """
        view = copy.copy(self)
        view.anchor = dataclasses.replace(self.anchor, _matches=dict(matches))
        return view

    def _load(self) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def plot(self, ax: matplotlib.axes.Axes | None = None, **kwargs: Any) -> matplotlib.axes.Axes:
        """Draw the feature into ``ax`` (a new figure when None) and return the axes."""
        ax = _axes(ax)
        self.data.plot(ax=ax, **kwargs)
        ax.set_title(_short(self.name))
        return ax

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.modality!r} of {self.anchor}>"


def _axes(ax: matplotlib.axes.Axes | None, polar: bool = False) -> matplotlib.axes.Axes:
    """``ax`` or the axes of a new figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(7, 4))
    return fig.add_subplot(111, projection="polar" if polar else None)


def _short(text: str, n: int = 70) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def provenance_from_spec(
    spec: dict, files: list[str] | tuple[str, ...] = (), dataset: str = ""
) -> Provenance:
    """A Provenance from a catalogue entry: EBRAINS dataset ids become search URLs; publications, DOI.

    Parameters
    ----------
    spec : dict
        The feature's JSON entry.
    files : sequence of str
        The data files (URLs) the feature reads.
    dataset : str
        Dataset name to use when the entry has no better one.
    """
    urls: list[str] = []
    citation = ""
    licence = str(spec.get("license", spec.get("licence", "")) or "")
    for pub in spec.get("publications", []) or []:
        if isinstance(pub, dict):
            if pub.get("citation"):
                citation = citation or str(pub["citation"])
            if pub.get("url"):
                urls.append(str(pub["url"]))
            if not dataset and pub.get("name"):
                dataset = str(pub["name"])
    for key in ("doi", "DOI"):
        if spec.get(key):
            doi = str(spec[key])
            urls.append(doi if doi.startswith("http") else f"https://doi.org/{doi}")
    ebrains = spec.get("ebrains", {}) or {}
    for k in ("openminds/DatasetVersion", "openminds/Dataset", "minds/core/dataset/v1.0.0"):
        if k in ebrains:
            urls.append(f"https://search.kg.ebrains.eu/instances/{ebrains[k]}")
            break
    return Provenance(
        source="siibra-configurations",
        dataset=dataset or str(spec.get("name", "")),
        citation=citation,
        licence=licence,
        urls=tuple(dict.fromkeys(urls)),
        files=tuple(files),
    )

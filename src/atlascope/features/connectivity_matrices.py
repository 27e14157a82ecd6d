"""Region-to-region connectivity matrices (streamline counts and lengths, functional connectivity...).

A catalogue entry names a zip archive (``repository``) or a base URL, one CSV member per subject
(``files``: subject → member) and the region names of the rows and columns (``regions``). The CSV
files have no header (the catalogue's ``decoder`` gives the delimiter); a *named* matrix, whose
first row and first column hold region names, is recognised too (:meth:`RegionalConnectivity.from_file`).

Reading is lazy: :attr:`~RegionalConnectivity.data` averages every subject's matrix once (streaming,
one subject in memory at a time), keeps mean and standard deviation in memory and in the cache
folder (``<cache>/features/connectivity-<key>.npz``), and later calls reuse them.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import re
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..commons import logger, progress
from ..core.region import Region
from ..core.registry import REGISTRY
from ..errors import AmbiguousNameError, CacheError, InvalidInputError, NotFoundError
from ..files import atomic_write, short_digest
from ..retrieval import cache_dir, fetch, zip_member
from .base import Anchor, Feature, _axes, _short, read_table_file
from .compound import CompoundFeature
from .query import RegionQuery, resolve_region

if TYPE_CHECKING:  # pragma: no cover
    import matplotlib.axes

__all__ = [
    "RegionalConnectivity",
    "StreamlineCounts",
    "StreamlineLengths",
    "FunctionalConnectivity",
    "AnatomoFunctionalConnectivity",
    "TracingConnectivity",
    "ConnectivityProfile",
    "read_matrix",
]

#: Version of the on-disk average format (part of the cache key).
_CACHE_VERSION = 1


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_matrix(raw: bytes, decoder: dict | None = None, source: str = "") -> pd.DataFrame:
    """Parse one connectivity matrix (pandas' C engine).

    Parameters
    ----------
    raw : bytes
        The file content (gzip-compressed when the decoder says ``"compression": "gzip"``).
    decoder : dict, optional
        The catalogue's ``decoder`` (``delimiter``, ``skiprows``, ``compression``; ``header`` and
        ``index_col`` are detected: a non-numeric first field means a named matrix).
    source : str
        Name for error messages.

    Returns
    -------
    pandas.DataFrame
        Square matrix; index and columns are region names for a named matrix, integers otherwise.
    """
    decoder = dict(decoder or {})
    if decoder.get("compression") == "gzip" or raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    sep = decoder.get("delimiter", ",")
    if sep in (" ", "\\s+", r"\s+"):
        sep = r"\s+"
    skip = int(decoder.get("skiprows", 0) or 0)
    lines = raw.split(b"\n", skip + 1)
    first = lines[skip].decode("utf-8", "replace").strip() if len(lines) > skip else ""
    fields = [f for f in (re.split(sep, first) if sep == r"\s+" else first.split(sep))]
    fields = [f.strip().strip('"') for f in fields if f.strip() != "" or sep != r"\s+"]
    named = bool(fields) and not all(_is_number(f) for f in fields if f)
    try:
        df = pd.read_csv(
            io.BytesIO(raw),
            sep=sep,
            header=0 if named else None,
            index_col=0 if named else None,
            skiprows=skip,
            engine="c",
            dtype=None if named else float,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInputError(f"{source}: not a connectivity matrix ({exc}).") from exc
    if df.shape[1] == df.shape[0] + 1 and df.iloc[:, -1].isna().all():  # trailing delimiters
        df = df.iloc[:, :-1]
    if df.shape[0] != df.shape[1]:
        raise InvalidInputError(f"{source}: the matrix is {df.shape[0]} × {df.shape[1]}, not square.")
    if named:
        df.index = [str(i) for i in df.index]
        df.columns = [str(c) for c in df.columns]
        df = df.astype(float)
    return df


def _fetch_matrix(url: str, decoder: dict, source: str, kind: str) -> pd.DataFrame:
    """:func:`read_matrix` of a file through the cache (see :func:`~.base.read_table_file`)."""
    return read_table_file(url, lambda raw: read_matrix(raw, decoder, source), kind=kind)


class RegionalConnectivity(Feature):
    """A square matrix of connection strengths between the regions of one parcellation, per subject.

    ``data`` is the mean over subjects (regions × regions, named); :attr:`std` the standard
    deviation. :meth:`get_matrix` gives one subject's matrix, :meth:`get_profile` one region's
    strongest connections.

    Parameters
    ----------
    anchor : Anchor
        Parcellation id and the region names of the rows/columns.
    files : dict of str to str
        Subject (or feature) key → zip member or relative path.
    repository : str, optional
        URL of the zip archive holding the files.
    base_url : str, optional
        URL prefix of the files when they are not zipped.
    decoder : dict, optional
        CSV options from the catalogue.
    cohort, paradigm : str
        Cohort (e.g. "HCP") and paradigm.
    files_indexed_by : str
        ``"subject"`` (average over files) or ``"feature"`` (each file is its own matrix; ``data``
        is the first one).
    """

    MODALITY = "connectivity"

    def __init__(
        self,
        anchor: Anchor,
        files: dict[str, str],
        repository: str | None = None,
        base_url: str | None = None,
        decoder: dict | None = None,
        cohort: str = "",
        paradigm: str = "",
        files_indexed_by: str = "subject",
        **kwargs: Any,
    ) -> None:
        super().__init__(anchor, **kwargs)
        self.files = dict(files)
        self.repository = repository
        self.base_url = base_url
        self.decoder = dict(decoder or {})
        self.cohort = cohort
        self.paradigm = paradigm
        self.files_indexed_by = files_indexed_by

    @classmethod
    def from_file(cls, url: str, modality: str = "", parcellation: str | None = None, **kwargs: Any):
        """A feature of one named matrix (CSV whose first row and column are region names).

        Parameters
        ----------
        url : str
            URL or path of the CSV file.
        modality : str
            Modality label.
        parcellation : str, optional
            Id of the parcellation the names belong to.
        **kwargs
            Passed to the constructor (``cohort``, ``datasets``, ``description``...).
        """
        decoder = {"delimiter": kwargs.pop("delimiter", ",")}
        df = _fetch_matrix(url, decoder, url, kind="text")
        if isinstance(df.index[0], (int, np.integer)):
            raise InvalidInputError(f"{url}: the matrix has no region names; give a named matrix.")
        anchor = Anchor(parcellation=parcellation, region_names=list(df.index))
        feat = cls(anchor, files={"0": url}, decoder={"delimiter": ","}, modality=modality, **kwargs)
        return feat

    # ---------------------------------------------------------------- subjects
    @property
    def subjects(self) -> list[str]:
        """Keys of the per-subject (or per-feature) files."""
        return list(self.files)

    @property
    def regions(self) -> list[str]:
        """Names of the rows and columns."""
        return list(self.anchor.region_names)

    def _read(self, key: str) -> pd.DataFrame:
        """The matrix of one file (a zip member, or a file through the cache), unnamed."""
        member = self.files[key]
        if self.repository:
            return read_matrix(zip_member(self.repository, member), self.decoder, member)
        url = self.base_url.rstrip("/") + "/" + member.lstrip("/") if self.base_url else member
        return _fetch_matrix(url, self.decoder, member, kind="bytes")

    def _named(self, df: pd.DataFrame, key: str) -> pd.DataFrame:
        if not isinstance(df.index[0], (int, np.integer)):
            if not self.anchor.region_names:
                self.anchor.region_names = list(df.index)
            return df
        names = self.anchor.region_names
        if len(names) != df.shape[0]:
            raise InvalidInputError(
                f"{self.files[key]} of {self.repository or self.base_url} is {df.shape[0]} × {df.shape[1]} "
                f"but the catalogue names {len(names)} regions."
            )
        df.index = list(names)
        df.columns = list(names)
        return df

    def get_matrix(self, subject: str | None = None) -> pd.DataFrame:
        """One subject's matrix (``subject=None``: the average, as :attr:`data`).

        Raises
        ------
        NotFoundError
            Unknown subject; the message lists some known ones.
        """
        if subject is None:
            return self.data
        key = str(subject)
        if key not in self.files:
            raise NotFoundError(
                f"No subject {subject!r} in {self.name}; subjects are {', '.join(self.subjects[:10])}"
                + (" ..." if len(self.files) > 10 else "")
            )
        return self._named(self._read(key), key)

    def _iter_matrices(self):
        """(subject, named matrix) of every file; the zip archive is opened once, parsing runs in threads."""
        keys = self.subjects
        if self.repository:
            zf = zipfile.ZipFile(fetch(self.repository, kind="zip"))

            def read(key: str) -> pd.DataFrame:
                return read_matrix(zf.read(self.files[key]), self.decoder, self.files[key])
        else:
            zf = None
            read = self._read

        def parse(key: str) -> pd.DataFrame:
            return self._named(read(key), key)

        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                for start in range(0, len(keys), 16):
                    chunk = keys[start : start + 16]
                    yield from zip(chunk, pool.map(parse, chunk), strict=True)
        except KeyError as exc:
            raise NotFoundError(f"{self.repository} lacks a member the catalogue names: {exc}.") from exc
        finally:
            if zf is not None:
                zf.close()

    # ---------------------------------------------------------------- average
    def _cache_key(self) -> str:
        ident = json.dumps(
            [_CACHE_VERSION, self.repository, self.base_url, self.files, self.decoder, self.regions],
            sort_keys=True,
        )
        return short_digest(ident)

    def _cache_file(self) -> Path:
        return cache_dir() / "features" / f"connectivity-{self._cache_key()}.npz"

    def _load(self) -> pd.DataFrame:
        if self.files_indexed_by != "subject":
            first = self.subjects[0]
            m = self.get_matrix(first)
            self._cache["std"] = pd.DataFrame(np.zeros(m.shape), index=m.index, columns=m.columns)
            return m
        path = None
        try:
            path = self._cache_file()
            if path.is_file():
                with np.load(path, allow_pickle=False) as z:
                    names = [str(n) for n in z["names"]]
                    mean, std = z["mean"], z["std"]
                if not self.anchor.region_names:
                    self.anchor.region_names = names
                self._cache["std"] = pd.DataFrame(std, index=names, columns=names)
                logger.debug("connectivity average of %s read from %s", self.name, path)
                return pd.DataFrame(mean, index=names, columns=names)
        except (CacheError, OSError, KeyError, ValueError) as exc:
            logger.debug("no cached connectivity average (%s)", exc)
        total = sq = None
        names: list[str] = []
        n = 0
        for key, m in progress(
            self._iter_matrices(), desc=f"{self.modality} ({self.cohort})", total=len(self.files)
        ):
            arr = m.to_numpy(float)
            if total is None:
                total, sq, names = np.zeros_like(arr), np.zeros_like(arr), list(m.index)
            elif arr.shape != total.shape:
                raise InvalidInputError(
                    f"subject {key}: matrix shape {arr.shape} differs from {total.shape}."
                )
            total += arr
            sq += arr * arr
            n += 1
        if total is None:
            raise InvalidInputError(f"{self.name} has no files.")
        mean = total / n
        std = np.sqrt(np.maximum(sq / n - mean * mean, 0.0))
        self._cache["std"] = pd.DataFrame(std, index=names, columns=names)
        if path is not None:
            try:
                with atomic_write(path) as tmp, open(tmp, "wb") as fh:
                    np.savez(fh, mean=mean, std=std, names=np.asarray(names, dtype=str))
            except (OSError, CacheError) as exc:
                logger.debug("could not cache the connectivity average in %s: %s", path, exc)
        return pd.DataFrame(mean, index=names, columns=names)

    @property
    def std(self) -> pd.DataFrame:
        """Standard deviation over subjects (same layout as :attr:`data`)."""
        _ = self.data
        return self._cache["std"]

    # ---------------------------------------------------------------- profile
    def _region_name(self, region: str | Region) -> str:
        names = list(self.data.index)
        if isinstance(region, str) and region in names:
            return region
        if isinstance(region, Region) and region.name in names:
            return region.name
        if isinstance(region, Region):
            q = RegionQuery(region)
        else:
            reg, spec = resolve_region(region)
            q = RegionQuery(reg, spec)
        hits: dict[str, list[str]] = {}
        for n in names:
            h = q.qualify(n)
            if h is not None:
                hits.setdefault(h[0], []).append(n)
        for qual in ("exact", "contained", "contains"):
            found = hits.get(qual, [])
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise AmbiguousNameError(
                    f"{region!s} matches {len(found)} rows of {self.name}: {', '.join(found[:6])}. "
                    "Name one hemisphere (e.g. '... left')."
                )
        raise NotFoundError(
            f"{region!s} is not a row of {self.name}; rows are e.g. {', '.join(names[:5])} ..."
        )

    def get_profile(
        self,
        region: str | Region,
        min_connectivity: float = 0,
        max_rows: int | None = None,
        direction: str = "column",
    ) -> ConnectivityProfile:
        """The region's connections above ``min_connectivity``, strongest first (siibra's semantics).

        Parameters
        ----------
        region : str or Region
            A row of the matrix (name, words of a name, or a Region).
        min_connectivity : float
            Only connections strictly above this value are kept (default 0: every connection > 0;
            the region itself is kept when its self-connection is above it).
        max_rows : int, optional
            Keep only the strongest ``max_rows`` connections (default: all).
        direction : {"column", "row"}
            Read the region's column (siibra's default) or row; the same for symmetric matrices.

        Returns
        -------
        ConnectivityProfile
            Its ``data`` is a one-column DataFrame (column: the region's name) indexed by the
            connected regions (:class:`~atlascope.core.region.Region` objects, ``.name`` as in
            siibra).
        """
        if direction not in ("column", "row"):
            raise InvalidInputError(f"direction={direction!r}: use 'column' or 'row'.")
        if max_rows is not None and int(max_rows) < 1:
            raise InvalidInputError(f"max_rows={max_rows!r}: give a positive number of rows or None.")
        name = self._region_name(region)
        series = self.data[name] if direction == "column" else self.data.loc[name]
        series = series[series > float(min_connectivity)].sort_values(ascending=False, kind="stable")
        if max_rows is not None:
            series = series.head(int(max_rows))
        parc = self._parcellation()
        index = pd.Index([_region_of(parc, n) for n in series.index], name="region")
        frame = pd.DataFrame({name: series.to_numpy(float)}, index=index)
        return ConnectivityProfile(self, name, frame)

    def _parcellation(self) -> Any:
        """The registry's parcellation of the matrix (None when unknown)."""
        if not self.anchor.parcellation:
            return None
        try:
            return REGISTRY.by_id("parcellation", self.anchor.parcellation)
        except (NotFoundError, KeyError, AttributeError):
            return None

    def subject_feature(self, subject: str) -> RegionalConnectivity:
        """The feature of one subject's matrix (the element ``subject`` of the compound feature)."""
        key = str(subject)
        if key not in self.files:
            raise NotFoundError(
                f"No subject {subject!r} in {self.name}; subjects are {', '.join(self.subjects[:10])}"
                + (" ..." if len(self.files) > 10 else "")
            )
        element = copy.copy(self)
        element.files = {key: self.files[key]}
        element.files_indexed_by = "feature"
        element.subject = key
        element._cache = {}
        element._lock = threading.RLock()
        return element

    def as_compound(self) -> Any:
        """This feature as siibra's compound feature: indexable by subject, ``data`` the average."""
        return CompoundFeature(self, self.subjects, self.subject_feature, "subject")

    def plot(
        self,
        region: str | Region | None = None,
        ax: matplotlib.axes.Axes | None = None,
        max_rows: int | None = 15,
        min_connectivity: float = 0,
        **kwargs: Any,
    ) -> matplotlib.axes.Axes:
        """The region's strongest connections as bars (pandas ``DataFrame.plot``); without a region,
        the matrix as an image.

        Parameters
        ----------
        region : str or Region, optional
            Whose connections to draw.
        ax : matplotlib.axes.Axes, optional
            Where to draw (a new figure when None).
        max_rows : int, optional
            How many connections (default 15; None: all above ``min_connectivity``).
        min_connectivity : float
            Lower bound of the connections drawn.
        **kwargs
            Passed to ``DataFrame.plot`` (``kind`` default "bar", ``rot``, ``width``, ``color``
            ...) or, without a region, to ``ax.imshow``.

        Returns
        -------
        matplotlib.axes.Axes
        """
        ax = _axes(ax)
        if region is None:
            ax.imshow(self.data.to_numpy(), **kwargs)
            ax.set_title(_short(f"{self.modality} ({self.cohort})"))
            return ax
        return self.get_profile(region, min_connectivity, max_rows).plot(ax=ax, **kwargs)


def _region_of(parcellation: Any, name: str) -> Region:
    """The parcellation's region called ``name``, or a detached Region of that name."""
    if parcellation is not None:
        try:
            return parcellation.get_region(name)
        except (NotFoundError, AmbiguousNameError):
            pass
    return Region(name)


class ConnectivityProfile(Feature):
    """One region's connections from a connectivity matrix (what ``get_profile`` returns).

    ``data`` is a one-column DataFrame: the connection strengths (the matrix's unit), indexed by
    the connected regions.
    """

    MODALITY = "connectivity profile"

    def __init__(self, matrix: RegionalConnectivity, region: str, frame: pd.DataFrame) -> None:
        super().__init__(
            Anchor(region=region, parcellation=matrix.anchor.parcellation),
            modality=f"{matrix.modality} profile",
            description=f"{matrix.modality} of {region} ({matrix.cohort})",
            datasets=matrix.datasets,
            id=matrix.id,
        )
        self.matrix = matrix
        self.region = region
        self._cache["data"] = frame

    def _load(self) -> pd.DataFrame:  # pragma: no cover - data is given at construction
        return self._cache["data"]

    def plot(self, ax: matplotlib.axes.Axes | None = None, **kwargs: Any) -> matplotlib.axes.Axes:
        """Bars of the connections (pandas ``DataFrame.plot``; ``kind="bar"`` unless given)."""
        ax = _axes(ax)
        kwargs.setdefault("kind", "bar")
        kwargs.setdefault("legend", False)
        data = self.data.rename(index=lambda r: _short(getattr(r, "name", str(r)), 30))
        data.plot(ax=ax, **kwargs)
        ax.set_ylabel(self.matrix.modality)
        subjects = getattr(self.matrix, "subject", None)
        who = f"subject {subjects}" if subjects else f"n={len(self.matrix.files)}"
        ax.set_title(_short(f"{self.matrix.modality} of {self.region} ({self.matrix.cohort}, {who})"))
        return ax


class StreamlineCounts(RegionalConnectivity):
    """Numbers of diffusion-MRI streamlines between regions."""

    MODALITY = "StreamlineCounts"


class StreamlineLengths(RegionalConnectivity):
    """Mean lengths (mm) of diffusion-MRI streamlines between regions."""

    MODALITY = "StreamlineLengths"


class FunctionalConnectivity(RegionalConnectivity):
    """Correlation of resting-state BOLD signals between regions."""

    MODALITY = "FunctionalConnectivity"


class AnatomoFunctionalConnectivity(RegionalConnectivity):
    """Cortico-cortical evoked potential measures (F-TRACT) between regions."""

    MODALITY = "AnatomoFunctionalConnectivity"


class TracingConnectivity(RegionalConnectivity):
    """Tract-tracing projection strengths between regions (animal studies)."""

    MODALITY = "TracingConnectivity"


#: Catalogue modality -> class.
CONNECTIVITY_CLASSES: MappingProxyType[str, type[RegionalConnectivity]] = MappingProxyType(
    {
        c.MODALITY.lower(): c
        for c in (
            StreamlineCounts,
            StreamlineLengths,
            FunctionalConnectivity,
            AnatomoFunctionalConnectivity,
            TracingConnectivity,
        )
    }
)

"""Layer-wise cell densities from segmented cortical image patches (BigBrain cell-body stains).

Each patch has two whitespace-separated text files:

``segments.txt``
    One detected cell per row; header ``# x y area(micron**2) layer label``. ``layer`` is the
    cortical layer the cell lies in: 1..6 for layers I..VI (0 = outside the cortex, 7 = white matter).
``layerinfo.txt``
    One row per layer with its number, its name and its area in the section (µm²); header like
    ``# index label area(micron**2)``. The reader finds the number as the first integer column and
    the area as the column whose name contains "area".

The density of a layer in one patch is the number of its cells divided by its volume, the layer's
area × the section thickness (20 µm) × ∛1.931 (BigBrain's volumetric shrinkage factor 1.931 turned
into a linear correction of the third dimension, as siibra does), reported in cells per (0.1 mm)³,
i.e. per 10⁻³ mm³: the catalogue's unit "cells / 0.1mm3" read the way siibra reads it.
"""

from __future__ import annotations

import io
import textwrap
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InvalidInputError
from .base import Anchor, Feature, _axes, read_table_file

if TYPE_CHECKING:  # pragma: no cover
    import matplotlib.axes

__all__ = ["LayerwiseCellDensity", "read_whitespace_table", "LAYERS"]

#: Names of cortical layers 1..6.
LAYERS = ("I", "II", "III", "IV", "V", "VI")
#: Thickness of a BigBrain histological section (µm).
SECTION_THICKNESS_UM = 20.0
#: BigBrain's volumetric shrinkage factor (the dataset's reports; siibra's value).
BIGBRAIN_VOLUMETRIC_SHRINKAGE = 1.931
#: Linear shrinkage correction applied to the section thickness (∛1.931 ≈ 1.245).
SHRINKAGE_CORRECTION = float(np.cbrt(BIGBRAIN_VOLUMETRIC_SHRINKAGE))
#: Volume of the density unit, mm³: a cube of 0.1 mm side.
UNIT_VOLUME_MM3 = 0.1**3
#: Unit of the densities (a cube of 0.1 mm side, not 0.1 mm³).
UNIT = "cells / (0.1 mm)³"


def read_whitespace_table(raw: bytes, source: str = "") -> pd.DataFrame:
    """A whitespace-separated table whose first line is the header (a leading ``#`` is dropped).

    Parsed with pandas' C engine.
    """
    text = raw.decode("utf-8", errors="replace")
    first, _, rest = text.partition("\n")
    names = first.lstrip("#").split()
    if not names:
        raise InvalidInputError(f"{source}: empty header line; expected column names.")
    try:
        df = pd.read_csv(io.StringIO(rest), sep=r"\s+", header=None, engine="c", comment="#")
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=names)
    if df.shape[1] == len(names) + 1:  # an index column without a header name
        df = df.iloc[:, 1:]
    if df.shape[1] != len(names):
        raise InvalidInputError(
            f"{source}: {df.shape[1]} columns but the header names {len(names)} ({names})."
        )
    df.columns = names
    return df


def _find(df: pd.DataFrame, needle: str, source: str) -> str:
    for c in df.columns:
        if needle in str(c).lower():
            return c
    raise InvalidInputError(f"{source}: no column containing {needle!r} in {list(df.columns)}.")


class LayerwiseCellDensity(Feature):
    """Densities of cells in cortical layers I–VI, measured in many image patches of one area.

    ``data`` is a long table with one row per (patch, layer): ``patch``, ``layer`` (I..VI),
    ``counts`` (cells), ``area`` (µm²), ``volume`` (mm³, area × section thickness × shrinkage
    correction) and ``density`` (cells per (0.1 mm)³ = per 10⁻³ mm³). :attr:`densities` is the wide table (layers ×
    patches) and :attr:`summary` the mean and std per layer.

    Parameters
    ----------
    anchor : Anchor
        The area (and the patch locations in BigBrain space).
    segmentfiles, layerfiles : list of str
        URLs of the patches' ``segments.txt`` and ``layerinfo.txt``, pairwise.
    section_thickness_um : float
        Section thickness in µm (20 for BigBrain).
    shrinkage_correction : float
        Factor multiplied into the layer volume to undo histological shrinkage (default ∛1.931,
        siibra's correction; 1.0 = none).
    unit : str
        The catalogue's unit text (kept in :attr:`catalogue_unit`); :attr:`unit` is always the
        unambiguous :data:`UNIT`.
    """

    MODALITY = "cell body density"

    def __init__(
        self,
        anchor: Anchor,
        segmentfiles: list[str],
        layerfiles: list[str],
        section_thickness_um: float = SECTION_THICKNESS_UM,
        shrinkage_correction: float = SHRINKAGE_CORRECTION,
        unit: str = UNIT,
        **kwargs: Any,
    ) -> None:
        super().__init__(anchor, **kwargs)
        if len(segmentfiles) != len(layerfiles):
            raise InvalidInputError(
                f"{len(segmentfiles)} segment files but {len(layerfiles)} layer files; they must pair up."
            )
        self.segmentfiles = list(segmentfiles)
        self.layerfiles = list(layerfiles)
        self.section_thickness_um = float(section_thickness_um)
        self.shrinkage_correction = float(shrinkage_correction)
        self.catalogue_unit = unit
        self.unit = UNIT

    @staticmethod
    def _patch_name(url: str) -> str:
        parts = url.rstrip("/").split("/")
        return "/".join(parts[-3:-1]) if len(parts) >= 3 else url

    def _patch(self, i: int) -> pd.DataFrame:
        seg_url, lay_url = self.segmentfiles[i], self.layerfiles[i]
        cells = read_table_file(seg_url, lambda raw: read_whitespace_table(raw, seg_url))
        layers = read_table_file(lay_url, lambda raw: read_whitespace_table(raw, lay_url))
        layer_col = _find(cells, "layer", seg_url)
        counts = pd.to_numeric(cells[layer_col], errors="coerce").dropna().astype(int).value_counts()
        area_col = _find(layers, "area", lay_url)
        num_col = next(
            (c for c in layers.columns if pd.api.types.is_numeric_dtype(layers[c]) and c != area_col), None
        )
        if num_col is None:
            raise InvalidInputError(f"{lay_url}: no layer number column in {list(layers.columns)}.")
        areas = pd.Series(layers[area_col].to_numpy(float), index=layers[num_col].astype(int).to_numpy())
        rows = []
        for k, name in enumerate(LAYERS, start=1):
            if k not in areas.index:
                continue
            area = float(areas.loc[k])
            volume_mm3 = area * self.section_thickness_um * self.shrinkage_correction * 1e-9
            n = int(counts.get(k, 0))
            density = n / (volume_mm3 / UNIT_VOLUME_MM3) if volume_mm3 > 0 else np.nan
            rows.append((self._patch_name(seg_url), name, n, area, volume_mm3, density))
        return pd.DataFrame(rows, columns=["patch", "layer", "counts", "area", "volume", "density"])

    def _load(self) -> pd.DataFrame:
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(self.segmentfiles)))) as pool:
            parts = list(pool.map(self._patch, range(len(self.segmentfiles))))
        if not parts:
            return pd.DataFrame(columns=["patch", "layer", "counts", "area", "volume", "density"])
        df = pd.concat(parts, ignore_index=True)
        df["layer"] = pd.Categorical(df["layer"], categories=list(LAYERS), ordered=True)
        return df

    @property
    def densities(self) -> pd.DataFrame:
        """Densities (cells / (0.1 mm)³) as layers (rows I..VI) × patches (columns)."""
        return self.data.pivot(index="layer", columns="patch", values="density").reindex(list(LAYERS))

    @property
    def summary(self) -> pd.DataFrame:
        """Mean and std of the densities over patches, per layer (cells / (0.1 mm)³)."""
        d = self.densities
        return pd.DataFrame({"mean": d.mean(axis=1), "std": d.std(axis=1)})

    def plot(self, ax: matplotlib.axes.Axes | None = None, **kwargs: Any) -> matplotlib.axes.Axes:
        """Box plot of the patch densities per layer.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw (a new figure when None).
        **kwargs
            As siibra's: ``textwrap`` (title width in characters, default 40), ``title``,
            ``xlabel``, ``ylabel`` and ``grid``; the rest goes to ``ax.boxplot``.

        Returns
        -------
        matplotlib.axes.Axes
        """
        ax = _axes(ax)
        d = self.densities
        width = int(kwargs.pop("textwrap", 40))
        title = kwargs.pop("title", f"{self.modality} in {self.anchor} ({d.shape[1]} patches)")
        xlabel = kwargs.pop("xlabel", "cortical layer")
        ylabel = kwargs.pop("ylabel", self.unit)
        grid = kwargs.pop("grid", None)
        values = [d.loc[layer].dropna().to_numpy() for layer in LAYERS]
        ax.boxplot(values, **kwargs)
        ax.set_xticks(range(1, len(LAYERS) + 1))
        ax.set_xticklabels(LAYERS)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if grid is not None:
            ax.grid(bool(grid))
        ax.set_title("\n".join(textwrap.wrap(title, width)))
        return ax


class VonEconomoCellDensity(LayerwiseCellDensity):
    """Neuron densities per cortical layer of one von Economo & Koskinas area (the offline pack).

    ``data`` has one row per layer as tabulated (``I``, ``III(II)``, ``IIIa`` ... ``VIb``):
    ``layer``, ``density`` (cells / (0.1 mm)³, the source's cells/mm³ × 10⁻³) and
    ``thickness`` (mm, overall; NaN for sub-layers the source gives none). No patches: the values
    are the book's single estimates, so :attr:`summary` has no spread.

    Parameters
    ----------
    anchor : Anchor
        The Juelich area homologous to the von Economo area.
    file : str
        Path of ``vonEconomo_layers.tsv``.
    area : str
        The von Economo area symbol (``"OC"``, ``"FA"`` ...).
    **kwargs
        Passed to :class:`~atlascope.features.base.Feature`.
    """

    #: How a query relates the feature to the queried region: a homologous area of another atlas.
    match_qualification = "homologous area"

    def __init__(self, anchor: Anchor, file: str, area: str, **kwargs: Any) -> None:
        super().__init__(anchor, [], [], **kwargs)
        self.file = file
        self.area = area

    def _load(self) -> pd.DataFrame:
        df = read_table_file(self.file, lambda raw: pd.read_csv(io.BytesIO(raw), sep="\t"))
        rows = df[df["area"].astype(str) == self.area]
        if rows.empty:
            raise InvalidInputError(f"{self.file}: no rows of von Economo area {self.area!r}.")
        return pd.DataFrame(
            {
                "layer": rows["layer"].astype(str).to_numpy(),
                "density": pd.to_numeric(rows["cells_per_mm3"], errors="coerce").to_numpy(float)
                * UNIT_VOLUME_MM3,
                "thickness": pd.to_numeric(rows["thickness_mm"], errors="coerce").to_numpy(float),
            }
        )

    @property
    def densities(self) -> pd.DataFrame:
        """Densities (cells / (0.1 mm)³) as layers (rows, the source's layer labels) × one column."""
        return self.data.set_index("layer")[["density"]]

    @property
    def summary(self) -> pd.DataFrame:
        """The densities per layer (``mean``) with ``std`` NaN (one estimate per layer)."""
        d = self.densities["density"]
        return pd.DataFrame({"mean": d, "std": np.nan})

    def plot(self, ax: matplotlib.axes.Axes | None = None, **kwargs: Any) -> matplotlib.axes.Axes:
        """Bars of the layer densities; ``textwrap``, ``title``, ``xlabel``, ``ylabel`` as
        :meth:`LayerwiseCellDensity.plot`, the rest to ``ax.bar``."""
        ax = _axes(ax)
        width = int(kwargs.pop("textwrap", 40))
        title = kwargs.pop("title", f"Neuron density (von Economo {self.area}) in {self.anchor}")
        ax.set_xlabel(kwargs.pop("xlabel", "cortical layer"))
        ax.set_ylabel(kwargs.pop("ylabel", self.unit))
        d = self.data
        kwargs.setdefault("color", "dimgray")
        ax.bar(np.arange(len(d)), d["density"], **kwargs)
        ax.set_xticks(np.arange(len(d)))
        ax.set_xticklabels(d["layer"])
        ax.set_title("\n".join(textwrap.wrap(title, width)))
        return ax

"""Receptor densities: fingerprints (mean ± std per receptor) and cortical depth profiles.

The EBRAINS fingerprint files are TSV tables with one row per receptor and the columns
``receptor``, ``density (mean)``, ``density (sd)`` and ``unit``. ``data`` keeps the file's receptor
labels (``alpha1``, ``alpha4beta2``, as siibra does) and the file's unit; the standard symbols
(``α1``, ``α4β2``) appear only on plot axes.
"""

from __future__ import annotations

import io
import re
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InvalidInputError
from .base import Anchor, Feature, _axes, _short, read_table_file

if TYPE_CHECKING:  # pragma: no cover
    import matplotlib.axes

__all__ = ["ReceptorDensityFingerprint", "ReceptorDensityProfile", "receptor_symbol", "RECEPTOR_SYMBOLS"]

#: Spellings in data files -> standard receptor symbols (others are kept as they are).
RECEPTOR_SYMBOLS = MappingProxyType(
    {
        "ampa": "AMPA",
        "kainate": "kainate",
        "kain": "kainate",
        "nmda": "NMDA",
        "gabaa": "GABAA",
        "gaba-a": "GABAA",
        "gabab": "GABAB",
        "gaba-b": "GABAB",
        "gabaa/bz": "GABAA/BZ",
        "bz": "GABAA/BZ",
        "m1": "M1",
        "m2": "M2",
        "m3": "M3",
        "alpha1": "α1",
        "alpha2": "α2",
        "alpha4beta2": "α4β2",
        "a4b2": "α4β2",
        "5-ht1a": "5-HT1A",
        "5ht1a": "5-HT1A",
        "5-ht2": "5-HT2",
        "5ht2": "5-HT2",
        "d1": "D1",
        "d2": "D2",
        "mglu2/3": "mGluR2/3",
        "mglur2/3": "mGluR2/3",
    }
)

#: Neurotransmitter system of each receptor (for colouring plots).
TRANSMITTER = MappingProxyType({
    "AMPA": "glutamate", "kainate": "glutamate", "NMDA": "glutamate", "mGluR2/3": "glutamate",
    "GABAA": "GABA", "GABAB": "GABA", "GABAA/BZ": "GABA",
    "M1": "acetylcholine", "M2": "acetylcholine", "M3": "acetylcholine", "α4β2": "acetylcholine",
    "α1": "noradrenaline", "α2": "noradrenaline",
    "5-HT1A": "serotonin", "5-HT2": "serotonin",
    "D1": "dopamine", "D2": "dopamine",
})  # fmt: skip
_COLOURS = MappingProxyType({
    "glutamate": "tab:red", "GABA": "tab:blue", "acetylcholine": "tab:green",
    "noradrenaline": "tab:purple", "serotonin": "tab:orange", "dopamine": "tab:brown",
})  # fmt: skip

#: Unit of receptor densities when the file gives none.
UNIT = "fmol/mg protein"


def receptor_symbol(name: str) -> str:
    """The standard symbol of a receptor name as spelled in a data file (``"alpha1"`` → ``"α1"``)."""
    key = re.sub(r"[\s_]+", "", str(name).strip()).lower()
    key = re.sub(r"\(.*\)$", "", key)
    return RECEPTOR_SYMBOLS.get(key, str(name).strip())


def _parse_tsv(raw: bytes, url: str) -> pd.DataFrame:
    try:
        return pd.read_csv(io.BytesIO(raw), sep="\t", engine="c", comment=None)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInputError(f"{url} is not a tab-separated table ({exc}).") from exc


def _read_table(url: str) -> pd.DataFrame:
    return read_table_file(url, lambda raw: _parse_tsv(raw, url))


def _column(df: pd.DataFrame, *needles: str, exclude: tuple[str, ...] = ()) -> str | None:
    for c in df.columns:
        low = str(c).lower()
        if all(n in low for n in needles) and not any(x in low for x in exclude):
            return c
    return None


class ReceptorDensityFingerprint(Feature):
    """Mean and standard deviation of the density of each receptor in one area.

    ``data`` is indexed by the receptor label of the file (``alpha1``, ``AMPA`` ...) with the
    columns ``mean``, ``std`` and ``unit`` (the file's unit column, e.g. "fmol/mg"; "fmol/mg
    protein" when the file has none).

    Parameters
    ----------
    anchor : Anchor
        The area.
    file : str
        URL (or path) of the TSV fingerprint file.
    area : str, optional
        When given, ``file`` is a table of many areas with an ``area`` column, and only the rows of
        this area are read (the offline pack's ``receptors_zilles2018.tsv``).
    **kwargs
        Passed to :class:`~atlascope.features.base.Feature`.
    """

    MODALITY = "receptor density"

    def __init__(self, anchor: Anchor, file: str, area: str | None = None, **kwargs: Any) -> None:
        super().__init__(anchor, **kwargs)
        self.file = file
        self.area = area

    @property
    def unit(self) -> str:
        """Unit of the densities, as the file gives it (first row of its unit column)."""
        units = self.data["unit"].dropna().astype(str)
        return units.iloc[0] if len(units) else UNIT

    @property
    def receptors(self) -> list[str]:
        """Receptor labels of the file, in file order."""
        return list(self.data.index)

    def _load(self) -> pd.DataFrame:
        df = _read_table(self.file)
        if self.area is not None:
            if "area" not in df.columns:
                raise InvalidInputError(f"{self.file}: no 'area' column to select area {self.area!r}.")
            df = df[df["area"].astype(str) == self.area]
            if df.empty:
                raise InvalidInputError(f"{self.file}: no rows of area {self.area!r}.")
        rec = _column(df, "receptor") or df.columns[0]
        mean = _column(df, "mean") or _column(df, "density", exclude=("sd", "std"))
        std = _column(df, "sd") or _column(df, "std")
        unit = _column(df, "unit")
        if mean is None:
            raise InvalidInputError(f"{self.file}: no mean density column in {list(df.columns)}.")
        out = pd.DataFrame(
            {
                "mean": pd.to_numeric(df[mean], errors="coerce").to_numpy(float),
                "std": pd.to_numeric(df[std], errors="coerce").to_numpy(float) if std else np.nan,
                "unit": df[unit].astype(str).str.strip().to_numpy() if unit else UNIT,
            },
            index=pd.Index([str(r).strip() for r in df[rec]], name="receptor"),
        )
        return out

    def plot(
        self, ax: matplotlib.axes.Axes | None = None, kind: str = "bar", **kwargs: Any
    ) -> matplotlib.axes.Axes:
        """Bar chart with error bars (``kind="bar"``) or polar fingerprint (``kind="polar"``).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; for ``kind="polar"`` it must be a polar axes (a new one is made if None).
        kind : {"bar", "polar"}
            Plot style.
        **kwargs
            Passed to ``ax.bar`` / ``ax.plot`` (``capsize``, ``color``, ``width`` ...; a
            ``capsize`` given here replaces the default 2).

        Returns
        -------
        matplotlib.axes.Axes
        """
        df = self.data
        if kind == "polar":
            ax = _axes(ax, polar=True)
            theta = np.linspace(0, 2 * np.pi, len(df), endpoint=False)
            closed = np.r_[theta, theta[:1]]
            mean = np.r_[df["mean"].to_numpy(), df["mean"].to_numpy()[:1]]
            std = np.r_[df["std"].fillna(0).to_numpy(), df["std"].fillna(0).to_numpy()[:1]]
            ax.plot(closed, mean, **kwargs)
            ax.fill_between(closed, np.maximum(mean - std, 0), mean + std, alpha=0.25)
            ax.set_xticks(theta)
            ax.set_xticklabels([receptor_symbol(r) for r in df.index], fontsize=7)
        elif kind == "bar":
            ax = _axes(ax)
            symbols = [receptor_symbol(r) for r in df.index]
            colours = [_COLOURS.get(TRANSMITTER.get(r, ""), "tab:gray") for r in symbols]
            kwargs.setdefault("color", colours)
            kwargs.setdefault("capsize", 2)
            ax.bar(np.arange(len(df)), df["mean"], yerr=df["std"].fillna(0), **kwargs)
            ax.set_xticks(np.arange(len(df)))
            ax.set_xticklabels(symbols, rotation=90, fontsize=7)
            ax.set_ylabel(self.unit)
        else:
            raise InvalidInputError(f"kind={kind!r}: use 'bar' or 'polar'.")
        ax.set_title(_short(f"Receptor densities, {self.anchor}"))
        return ax


class ReceptorDensityProfile(Feature):
    """Density of one receptor along cortical depth (0 = pial surface, 100 % = white matter).

    ``data`` has the columns ``depth`` (% of cortical thickness) and ``density`` (fmol/mg protein).
    The file is read as a two-column table (tab- or whitespace-separated, with or without header).
    """

    MODALITY = "receptor density profile"

    def __init__(self, anchor: Anchor, file: str, receptor: str, **kwargs: Any) -> None:
        super().__init__(anchor, **kwargs)
        self.file = file
        self.receptor = receptor_symbol(receptor)

    def _load(self) -> pd.DataFrame:
        df = _read_table(self.file)
        if df.shape[1] < 2:
            df = read_table_file(self.file, lambda raw: pd.read_csv(io.BytesIO(raw), sep=r"\s+", engine="c"))
        num = df.apply(pd.to_numeric, errors="coerce").dropna(axis=1, how="all")
        num = num.iloc[:, -2:].dropna()
        return pd.DataFrame(
            {"depth": num.iloc[:, 0].to_numpy(float), "density": num.iloc[:, 1].to_numpy(float)}
        )

    def plot(self, ax: matplotlib.axes.Axes | None = None, **kwargs: Any) -> matplotlib.axes.Axes:
        """Line plot of density over cortical depth."""
        ax = _axes(ax)
        ax.plot(self.data["depth"], self.data["density"], **kwargs)
        ax.set_xlabel("cortical depth (%)")
        ax.set_ylabel(UNIT)
        ax.set_title(_short(f"{self.receptor} profile, {self.anchor}"))
        return ax

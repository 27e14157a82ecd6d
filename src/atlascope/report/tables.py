"""The report's tables: TSVs written from a characterisation, and the display model of each table.

Display rules live here once: units in headers, a legend of the metric columns, labels as names,
best rows first, long tables collapsed to their top rows, and the per-cluster summary.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ..affines import nearest_voxel
from ..errors import InvalidInputError
from ..workflow import Characterization
from .folder import TABLE_FILES, region_anchor

__all__ = [
    "flatten_assignments",
    "result_tables",
    "write_tables",
    "read_table",
    "format_cell",
    "format_parameter",
    "table_model",
    "display_headers",
    "summary_rows",
    "best_regions",
    "COLUMN_LEGEND",
    "TOP_ROWS",
]

#: Atlases named in a cluster's sentence of the summary (the table has all of them).
SENTENCE_ATLASES = 3

#: Rows a long table shows before its "show all" button.
TOP_ROWS = 10

#: Display header of a TSV column (units in brackets).
HEADERS: Mapping[str, str] = MappingProxyType({
    "x": "x (mm)",
    "y": "y (mm)",
    "z": "z (mm)",
    "X": "x (mm)",
    "Y": "y (mm)",
    "Z": "z (mm)",
    "sigma_mm": "sigma (mm)",
    "Cluster Size (mm3)": "size (mm³)",
    "Peak Stat": "peak value",
    "Cluster ID": "cluster",
})

#: Columns that are internal indices: kept in the TSVs, not shown on the page.
HIDDEN = frozenset({"volume", "color", "label value"})

#: What every metric column of the tables means (shown as the legend under a table).
COLUMN_LEGEND: Mapping[str, str] = MappingProxyType({
    "correlation": "Pearson correlation between the cluster's map and the region's map (−1…1; higher is better).",
    "intersection over union": "Overlap of cluster and region (0…1): shared volume / combined volume.",
    "map value": "The region's probability at the point or the cluster's peak (0…1).",
    "map weighted mean": "Mean probability of the region, weighted by the cluster's map (0…1).",
    "map containedness": "Fraction of the region's probability mass inside the cluster (0…1).",
    "input weighted mean": "Mean of the cluster's map, weighted by the region's probability.",
    "input containedness": "Fraction of the cluster's mass inside the region (0…1).",
    "input structure": "Connected component of the cluster's map (0 = the largest).",
    "samples": "Number of samples drawn from the input that fall in the cluster.",
    "peak value": "Value of the input at the peak (the unit of the input, e.g. t or z).",
    "value": "Value of the input at the peak (the unit of the input, e.g. t or z).",
    "size (mm³)": "Volume of the cluster in cubic millimetres.",
})

_INT_COLUMNS = frozenset({"cluster", "samples", "input structure", "volume", "peak", "label", "Cluster ID"})
_COORD_COLUMNS = frozenset({"x", "y", "z", "X", "Y", "Z", "sigma_mm"})


# ----------------------------------------------------------------------------- writing
def _hex(rgba: Sequence[float]) -> str:
    r, g, b = (int(round(255 * float(v))) for v in list(rgba)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def flatten_assignments(df: pd.DataFrame) -> pd.DataFrame:
    """An assignment table ready for TSV/Parquet: regions by name, centroid tuples as x/y/z columns.

    Parameters
    ----------
    df : pandas.DataFrame
        A table returned by :meth:`atlascope.maps.Map.assign` (optionally with a ``cluster`` column).

    Returns
    -------
    pandas.DataFrame
        Same rows; ``region`` holds strings, ``centroid`` is replaced by ``x``, ``y``, ``z`` (mm).
    """
    out = df.copy()
    if "region" in out.columns:
        out["region"] = [None if r is None else str(r) for r in out["region"]]
    if "centroid" in out.columns:
        cent = [
            (np.nan, np.nan, np.nan) if c is None or (isinstance(c, float) and math.isnan(c)) else tuple(c)
            for c in out["centroid"]
        ]
        pos = out.columns.get_loc("centroid")
        out = out.drop(columns="centroid")
        for k, axis in enumerate("xyz"):
            out.insert(pos + k, axis, [float(c[k]) for c in cent])
    for col in ("input structure", "volume"):
        if col in out.columns and len(out) and out[col].notna().all():
            out[col] = out[col].astype(int)
    return out


def _peaks_table(result: Characterization) -> pd.DataFrame:
    coords = np.asarray(result.peaks.coordinates, float).reshape(-1, 3)
    found = getattr(result, "peak_values", None)
    if found is not None and len(found) == len(coords):
        values = np.asarray(found, float)  # as the workflow found them, not recomputed
    else:  # a Characterization built without them: read the input at the peaks
        img = result.input.fetch()
        arr = np.asanyarray(img.dataobj)
        ijk = nearest_voxel(coords, img.affine)
        ok = np.all((ijk >= 0) & (ijk < np.asarray(arr.shape[:3])), axis=1)
        values = np.full(len(coords), np.nan)
        if ok.any():
            values[ok] = arr[tuple(ijk[ok].T)]
    sigma = np.asarray(result.peaks.sigma_mm, float).reshape(-1)
    return pd.DataFrame(
        {
            "peak": np.arange(len(coords)),
            "x": coords[:, 0],
            "y": coords[:, 1],
            "z": coords[:, 2],
            "value": values,
            "sigma_mm": np.broadcast_to(sigma, (len(coords),)) if len(coords) and sigma.size else np.zeros(len(coords)),
        }
    )


def result_tables(result: Characterization) -> dict[str, pd.DataFrame]:
    """The tables of a characterisation by key of :data:`~atlascope.report.folder.TABLE_FILES`.

    For the statistical-map method ``clusters`` is the wide cluster table (nilearn's columns, then one
    column per atlas) and ``labels`` the long label table; for sampling ``clusters`` has one row per
    cluster (samples, centroid in mm, peak value, colour) and there is no ``labels``.
    """
    out: dict[str, pd.DataFrame] = {}
    cluster_table = getattr(result, "cluster_table", None)
    if cluster_table is not None:
        out["clusters"] = cluster_table.copy()
        labels = getattr(result, "labels", None)
        if labels is not None:
            out["labels"] = labels.copy()
    else:
        colors = result.samples.label_colors
        clusters = result.clusters.copy()
        clusters["color"] = [_hex(colors.get(int(c), (0.5, 0.5, 0.5))) for c in clusters["cluster"]]
        out["clusters"] = clusters
    if getattr(result, "peaks", None) is not None:
        out["peaks"] = _peaks_table(result)
    if getattr(result, "peak_assignments", None) is not None:
        out["peak_assignments"] = flatten_assignments(result.peak_assignments)
    if getattr(result, "cluster_assignments", None) is not None:
        ca = flatten_assignments(result.cluster_assignments)
        if "correlation" in ca.columns:
            ca = ca.sort_values("correlation", ascending=False, kind="stable", na_position="last")
        out["cluster_assignments"] = ca
    samples = getattr(result, "samples", None)
    if samples is not None and getattr(samples, "coordinates", None) is not None:
        sc = np.asarray(samples.coordinates, float).reshape(-1, 3)
        lab = samples.labels if samples.labels is not None else np.full(len(sc), -1)
        out["samples"] = pd.DataFrame({"x": sc[:, 0], "y": sc[:, 1], "z": sc[:, 2], "label": np.asarray(lab, int)})
    return out


def write_tables(result: Characterization, out_dir: str | Path) -> dict[str, Path]:
    """Write the TSV tables of ``result`` into ``out_dir``; return their paths by key."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, df in result_tables(result).items():
        path = out / TABLE_FILES[key]
        df.to_csv(path, sep="\t", index=False, float_format="%.6g")
        paths[key] = path
    return paths


def read_table(path: Path) -> pd.DataFrame | None:
    """A TSV of a report folder (None when absent; a clear error when it does not parse)."""
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, sep="\t", dtype={"Cluster ID": str})
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"{str(path)!r} is not a readable TSV ({type(exc).__name__}: {exc}); fix or delete it, or rerun "
            "'atlascope characterize'."
        ) from None


# ----------------------------------------------------------------------------- display
def _num(v: Any) -> float | None:
    kind = type(v)
    if kind is float:  # the common cases first: tables have thousands of cells
        return None if v != v else v
    if kind is str:
        return None
    if isinstance(v, bool | np.bool_):
        return None
    if isinstance(v, int | np.integer):
        return float(v)
    if isinstance(v, float | np.floating):
        return None if math.isnan(float(v)) else float(v)
    return None


def format_cell(v: Any, column: str = "") -> str:
    """How a table value is displayed: integers as integers, coordinates with 1 decimal, others 3."""
    return _format(v, _num(v), column)


def _format(v: Any, n: float | None, column: str) -> str:
    """:func:`format_cell` of ``v`` whose number ``n = _num(v)`` is known."""
    if n is None:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        return str(v)
    if column in _COORD_COLUMNS:
        return f"{n:.1f}"
    if float(n).is_integer() and (column in _INT_COLUMNS or "mm3" in column):
        return str(int(n))
    return f"{n:.3f}"


def format_parameter(v: Any) -> str:
    """A parameter as a person would type it: ``1/300`` rather than ``0.0033333333333333335``."""
    if isinstance(v, float) and math.isfinite(v) and not float(v).is_integer():
        text = repr(v)
        if len(text) > 8:
            frac = Fraction(v).limit_denominator(10000)
            if float(frac) == v:
                return f"{frac.numerator}/{frac.denominator}"
            return f"{v:.6g}"
        return text
    return str(v)


def display_headers(columns: Sequence[str], hidden: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The page's headers of TSV ``columns``: units added, internal columns (and ``hidden``) left out."""
    return [HEADERS.get(str(c), str(c)) for c in columns if c not in HIDDEN and c not in hidden]


def table_model(
    df: pd.DataFrame | None,
    table_id: str,
    linked: set[str] | None = None,
    color_column: str | None = None,
    top_rows: int = TOP_ROWS,
) -> dict[str, Any] | None:
    """What the template needs to draw a table.

    Parameters
    ----------
    df : pandas.DataFrame or None
        The table as in its TSV.
    table_id : str
        HTML id of the table.
    linked : set of str, optional
        Region names that have a details card (their cells link to it).
    color_column : str, optional
        Column holding a colour drawn as a swatch in the ``cluster`` cell.
    top_rows : int
        Rows shown before "show all"; the others are collapsed.

    Returns
    -------
    dict or None
        ``id``, ``columns`` (display headers), ``numeric``, ``rows`` (cells with ``text``, ``sort``,
        ``href``, ``color``), ``top_rows`` and ``legend`` (metric column → meaning).
    """
    if df is None:
        return None
    linked = linked or set()
    cols = [c for c in df.columns if c not in HIDDEN and c != color_column]
    headers = display_headers(cols)
    rows = []
    for rec in df.to_dict("records"):
        cells = []
        for c in cols:
            v = rec[c]
            n = _num(v)
            cell = {"text": _format(v, n, c), "sort": "" if n is None else repr(n), "href": "", "color": ""}
            if c == "region" and isinstance(v, str) and v in linked:
                cell["href"] = "#" + region_anchor(v)
            if color_column and c == "cluster":
                cell["color"] = str(rec.get(color_column, ""))
            cells.append(cell)
        rows.append(cells)
    numeric = [bool(len(df)) and pd.api.types.is_numeric_dtype(df[c]) for c in cols]
    legend = {h: COLUMN_LEGEND[h] for h in headers if h in COLUMN_LEGEND}
    return {
        "id": table_id,
        "columns": headers,
        "numeric": numeric,
        "rows": rows,
        "top_rows": top_rows,
        "legend": legend,
    }


def shown_regions(df: pd.DataFrame | None, top_rows: int = TOP_ROWS) -> list[str]:
    """Region names in the rows a collapsed table shows."""
    if df is None or "region" not in df.columns:
        return []
    return [str(r) for r in df["region"].head(top_rows).dropna()]


# ----------------------------------------------------------------------------- summary
def best_regions(assignments: pd.DataFrame | None) -> dict[str, tuple[str, float]]:
    """The best-correlated region of each cluster: ``{cluster id (str): (region, correlation)}``.

    Clusters appear in the order of their best correlation (highest first).
    """
    best: dict[str, tuple[str, float]] = {}
    if assignments is None or not len(assignments) or not {"cluster", "region", "correlation"} <= set(assignments):
        return best
    ranked = assignments.sort_values("correlation", ascending=False, kind="stable", na_position="last")
    for c, region, r in zip(ranked["cluster"], ranked["region"], ranked["correlation"]):
        key = str(int(c)) if isinstance(c, int | np.integer | float) and float(c).is_integer() else str(c)
        if key not in best and isinstance(region, str):
            best[key] = (region, float(r))
    return best


def _is_main_cluster(cid: Any) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.0)?", str(cid).strip()))


def _mm(x: float, y: float, z: float) -> str:
    return f"({int(round(x))}, {int(round(y))}, {int(round(z))}) mm"  # no "-0"


def summary_rows(
    clusters: pd.DataFrame | None,
    assignments: pd.DataFrame | None,
    map_name: str = "",
    min_correlation: float = 0.2,
) -> dict[str, Any] | None:
    """The first-screen summary: one row per cluster, its best label in each atlas and a sentence.

    Parameters
    ----------
    clusters : pandas.DataFrame
        ``clusters.tsv``: the statistical-map method's wide table (``Cluster ID``, ``X``, ``Y``, ``Z``,
        ``Peak Stat``, ``Cluster Size (mm3)``, then one column per atlas) or the sampling method's
        table (``cluster``, ``samples``, ``x``, ``y``, ``z``, ``peak value``).
    assignments : pandas.DataFrame
        ``cluster_assignments.tsv`` (the best-correlated region of each cluster, sampling method).
    map_name : str
        Display name of the map of the assignments.
    min_correlation : float
        Below this correlation the best region is named only as the closest, not as a match.

    Returns
    -------
    dict or None
        ``columns`` (headers), ``rows`` (each ``cluster``, ``color``, ``cells`` and ``sentence``).
    """
    if clusters is None or not len(clusters):
        return None
    if "Cluster ID" in clusters.columns:
        return _statmap_summary(clusters)
    return _sampling_summary(clusters, assignments, map_name, min_correlation)


def _statmap_summary(df: pd.DataFrame) -> dict[str, Any]:
    fixed = ["Cluster ID", "X", "Y", "Z", "Peak Stat", "Cluster Size (mm3)"]
    atlases = [c for c in df.columns if c not in fixed]
    rows = []
    for rec in df.to_dict("records"):
        cid = str(rec["Cluster ID"]).strip()
        if not _is_main_cluster(cid):
            continue
        stat = float(rec.get("Peak Stat", np.nan))
        sign = "positive" if stat >= 0 else "negative"
        size = rec.get("Cluster Size (mm3)", np.nan)
        xyz = (float(rec["X"]), float(rec["Y"]), float(rec["Z"]))
        labels = {a: ("" if pd.isna(rec.get(a)) else str(rec.get(a))) for a in atlases}
        covered = {a: v for a, v in labels.items() if v and not v.lower().startswith("outside")}
        size_text = f"{float(size):,.0f} mm³" if not pd.isna(size) else "size unknown"
        head = f"Cluster {cid} ({sign}, {size_text}, peak {stat:.2f} at {_mm(*xyz)})"
        if covered:
            named = list(covered.items())[:SENTENCE_ATLASES]
            rest = len(covered) - len(named)
            more = f" and {rest} more atlas{'es' if rest > 1 else ''} in the table" if rest > 0 else ""
            sentence = head + " lies in " + "; ".join(f"{v} ({a})" for a, v in named) + more + "."
        else:
            sentence = head + " lies outside the coverage of every atlas used."
        rows.append(
            {
                "cluster": cid,
                "color": "",
                "cells": [cid, sign, format_cell(size, "Cluster Size (mm3)"), *(f"{v:.1f}" for v in xyz), f"{stat:.2f}"]
                + [labels[a] or "—" for a in atlases],
                "sentence": sentence,
            }
        )
    columns = ["cluster", "sign", "size (mm³)", "x (mm)", "y (mm)", "z (mm)", "peak value", *atlases]
    return {"columns": columns, "rows": rows}


def _sampling_summary(
    df: pd.DataFrame, assignments: pd.DataFrame | None, map_name: str, min_correlation: float
) -> dict[str, Any]:
    best = {int(k): v for k, v in best_regions(assignments).items() if re.fullmatch(r"-?\d+", k)}
    atlas = map_name or "map"
    rows = []
    for rec in df.to_dict("records"):
        c = int(rec["cluster"])
        value = float(rec.get("peak value", np.nan))
        sign = "positive" if not value < 0 else "negative"
        xyz = (float(rec["x"]), float(rec["y"]), float(rec["z"]))
        head = f"Cluster {c} ({int(rec.get('samples', 0))} samples, centred at {_mm(*xyz)})"
        if c in best:
            region, r = best[c]
            label = f"{region} (r={r:.2f})"
            if r >= min_correlation:
                sentence = f"{head} matches {region} best (correlation {r:.2f})."
            else:
                sentence = (
                    f"{head} correlates with no region of the {atlas} above {min_correlation:g}; "
                    f"the closest is {region} (correlation {r:.2f})."
                )
        else:
            label = "—"
            sentence = f"{head} overlaps no region of the {atlas}: it lies outside the atlas' coverage."
        rows.append(
            {
                "cluster": str(c),
                "color": str(rec.get("color", "")),
                "region": best.get(c, ("", 0))[0],
                "cells": [str(c), sign, str(int(rec.get("samples", 0))), *(f"{v:.1f}" for v in xyz),
                          format_cell(value, "peak value"), label],
                "sentence": sentence,
            }
        )
    columns = ["cluster", "sign", "samples", "x (mm)", "y (mm)", "z (mm)", "peak value", f"best region: {atlas}"]
    return {"columns": columns, "rows": rows}

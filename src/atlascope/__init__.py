"""atlascope: brain atlases for people with an activation map or a list of coordinates.

Import it as siibra-python users do (``import atlascope as siibra``): ``get_map``, ``get_region``,
``volumes.from_nifti``, ``draw_samples``, ``find_clusters``, ``find_peaks``, ``assign``, ``QUIET``.
Importing reads no large file and opens no socket; the offline pack loads at the first lookup.
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import errors  # noqa: E402
from .commons import QUIET, VERBOSE, logger, set_log_level  # noqa: E402
from .core import REGISTRY, Parcellation, Region, Space  # noqa: E402
from .locations import BoundingBox, Point, PointCloud  # noqa: E402
from . import volumes  # noqa: E402
from . import maps  # noqa: E402
from . import features  # noqa: E402
from .maps import Map  # noqa: E402
from .volumes import Volume  # noqa: E402


def _load_builtin(registry) -> None:
    from .configuration.builtin import load_builtin

    load_builtin(registry)


REGISTRY.add_loader("builtin", _load_builtin)

from .configuration.sources import last_report, load_from_environment, use_configuration  # noqa: E402

REGISTRY.add_loader("environment", load_from_environment)


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
    """The map of ``parcellation`` in ``space``, ``maptype`` "labelled" or "statistical" (SPEC section 1)."""
    return REGISTRY.get_map(parcellation, space, maptype=maptype, spec=spec)


def get_template(space: str | Space = "mni152") -> Volume:
    """The template image of a space as a Volume (``get_template("mni152").fetch()``)."""
    return REGISTRY.get_space(space).get_template()


def spaces() -> list[Space]:
    """Every known reference space."""
    return REGISTRY.spaces


def parcellations() -> list[Parcellation]:
    """Every known parcellation."""
    return REGISTRY.parcellations


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
    "spaces",
    "parcellations",
    "list_maps",
    "features",
    "use_configuration",
    "last_report",
]

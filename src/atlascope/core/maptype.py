"""The two kinds of maps: ``MapType`` as siibra-python names them, and the accepted spellings."""

from __future__ import annotations

from enum import Enum
from types import MappingProxyType

from ..errors import NotFoundError

__all__ = ["MapType", "normalize_maptype"]


class MapType(Enum):
    """Kind of a map; ``get_map(maptype=MapType.STATISTICAL)`` is the same as ``maptype="statistical"``.

    ``LABELLED``: one integer label per voxel. ``STATISTICAL``: one probability (0..1) map per region.
    """

    LABELLED = "labelled"
    STATISTICAL = "statistical"

    def __str__(self) -> str:
        return self.value


#: Accepted spelling (lower case) -> map type.
_MAPTYPES = MappingProxyType(
    {
        "labelled": "labelled",
        "labeled": "labelled",
        "label": "labelled",
        "labels": "labelled",
        "statistical": "statistical",
        "continuous": "statistical",
        "probabilistic": "statistical",
        "probability": "statistical",
    }
)


def normalize_maptype(maptype: str | MapType) -> str:
    """``"labelled"`` or ``"statistical"`` from any accepted spelling (or a :class:`MapType`).

    Raises
    ------
    NotFoundError
        The spelling is not one of the accepted ones.
    """
    key = str(getattr(maptype, "name", maptype)).lower()
    if key not in _MAPTYPES:
        raise NotFoundError(f"Unknown map type {maptype!r}: use 'labelled' or 'statistical'.")
    return _MAPTYPES[key]

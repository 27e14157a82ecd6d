"""``MapType``: the two kinds of maps, as siibra-python names them."""

from __future__ import annotations

from enum import Enum

__all__ = ["MapType"]


class MapType(Enum):
    """Kind of a map; ``get_map(maptype=MapType.STATISTICAL)`` is the same as ``maptype="statistical"``.

    ``LABELLED``: one integer label per voxel. ``STATISTICAL``: one probability (0..1) map per region.
    """

    LABELLED = "labelled"
    STATISTICAL = "statistical"

    def __str__(self) -> str:
        return self.value

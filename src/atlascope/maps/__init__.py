"""Maps of parcellations (labelled and statistical), their sparse index, and users' own maps.

The module is also siibra's table of every known map: ``atlascope.maps["175"]``, ``len(maps)``,
``for m in atlascope.maps`` (see :class:`atlascope.core.table.InstanceTable`).
"""

import sys
import types

from ..analysis.sparse import FORMAT_VERSION, SparseIndex
from ..core.registry import REGISTRY
from ..core.table import InstanceTable
from .map import ASSIGNMENT_COLUMNS, Map, MapIndex
from .user_maps import from_nifti

__all__ = ["Map", "MapIndex", "SparseIndex", "FORMAT_VERSION", "ASSIGNMENT_COLUMNS", "from_nifti"]


_TABLE = InstanceTable("map", lambda: REGISTRY.maps)


class _MapsModule(types.ModuleType):
    """This package as a module that is also the map table (indexing, iteration, length, call)."""

    def __getitem__(self, spec):
        return _TABLE[spec]

    def __iter__(self):
        return iter(_TABLE)

    def __len__(self) -> int:
        return len(_TABLE)

    def __contains__(self, spec) -> bool:
        return spec in _TABLE

    def __call__(self):
        return _TABLE()

    def find(self, spec: str):
        """Every map matching ``spec``."""
        return _TABLE.find(spec)

    def get(self, spec):
        """The map designated by ``spec`` (a name, key or position)."""
        return _TABLE.get(spec)


sys.modules[__name__].__class__ = _MapsModule

"""Maps of parcellations (labelled and statistical), their sparse index, and users' own maps."""

from .builders import from_nifti
from .map import ASSIGNMENT_COLUMNS, Map, MapIndex
from .sparse_index import FORMAT_VERSION, SparseIndex

__all__ = ["Map", "MapIndex", "SparseIndex", "FORMAT_VERSION", "ASSIGNMENT_COLUMNS", "from_nifti"]

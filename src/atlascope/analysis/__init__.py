"""Array-level analysis functions: sampling, clustering, kernel density and peaks.

These are plain functions over numpy arrays (scikit-image style); the object model (Volume,
PointCloud, Map) wraps them. Conventions: ``affine`` is a 4x4 voxel-to-mm matrix (voxel centres at
integer indices), coordinates are float arrays of shape (N, 3) in mm, images are 3D.
"""

from __future__ import annotations

from atlascope.affines import mm_to_voxel, nearest_voxel, voxel_sizes, voxel_to_mm
from atlascope.analysis.clustering import find_clusters, relabel_by_size
from atlascope.analysis.kde import points_to_density
from atlascope.analysis.peaks import find_peaks, voxels_to_mm
from atlascope.analysis.sampling import draw_samples

__all__ = [
    "draw_samples",
    "find_clusters",
    "relabel_by_size",
    "points_to_density",
    "find_peaks",
    "voxels_to_mm",
    "voxel_sizes",
    "mm_to_voxel",
    "voxel_to_mm",
    "nearest_voxel",
]

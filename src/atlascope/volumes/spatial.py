"""Spatial properties of images: connected components, their volume and a centroid inside each,
voxel-box crops, values at points, and merging volumes onto one grid."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import nibabel as nib
import numpy as np

from ..affines import box_corners, mm_to_voxel, nearest_voxel, voxel_sizes, voxel_to_mm
from ..errors import InvalidInputError

__all__ = [
    "ComponentSpatialProperties",
    "connected_components",
    "inside_centroid",
    "spatial_props",
    "crop_to_box",
    "values_at",
]

#: scipy structure of 18-connectivity (the one assignment uses to split inputs into components)
_CONNECTIVITY = 2


@dataclass(frozen=True)
class ComponentSpatialProperties:
    """One connected component: a centroid (mm, lying in the component; a Point from
    ``Volume.compute_spatial_props``, an (x, y, z) tuple from :func:`spatial_props`) and its volume (mm³)."""

    centroid: Any
    volume: float
    nvoxels: int


def connected_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels 1..n of the 18-connected components of a boolean (X, Y, Z) mask, and n."""
    from scipy import ndimage

    return ndimage.label(mask, structure=ndimage.generate_binary_structure(3, _CONNECTIVITY))


def inside_centroid(ijk: np.ndarray) -> np.ndarray:
    """A centroid of the voxels ``ijk`` (N, 3) that is one of them: the centre of mass when its
    voxel belongs to the set, else the voxel of the set nearest to the centre of mass (shape (3,),
    voxel units)."""
    com = ijk.mean(axis=0)
    rounded = np.floor(com + 0.5).astype(np.int64)
    if np.all(ijk == rounded, axis=1).any():
        return com
    return ijk[np.argmin(((ijk - com) ** 2).sum(axis=1))].astype(float)


def spatial_props(mask: np.ndarray, affine: np.ndarray, split_components: bool = True) -> list:
    """Components of ``mask`` with their volume in mm³ and a centroid inside each, largest first.

    Parameters
    ----------
    mask : ndarray of bool, shape (X, Y, Z)
        The voxels that belong to the structure.
    affine : ndarray, shape (4, 4)
        Voxel-to-mm matrix.
    split_components : bool
        One entry per 18-connected component (True) or one for the whole mask.

    Returns
    -------
    list of ComponentSpatialProperties
    """
    voxvol = float(abs(np.linalg.det(np.asarray(affine, float)[:3, :3])))
    if split_components:
        lab, n = connected_components(mask)
    else:
        lab, n = mask.astype(np.int64), int(mask.any())
    out = []
    for k in range(1, n + 1):
        ijk = np.argwhere(lab == k)
        c = voxel_to_mm(inside_centroid(ijk), affine)
        out.append(ComponentSpatialProperties(tuple(float(v) for v in c), len(ijk) * voxvol, len(ijk)))
    return sorted(out, key=lambda p: -p.nvoxels)


def iter_components(img: nib.Nifti1Image, background: float = 0.0) -> Iterator[tuple[int, nib.Nifti1Image]]:
    """``(label, 0/1 image)`` for each 18-connected component of the voxels above ``background``."""
    arr = np.asanyarray(img.dataobj)
    lab, n = connected_components(arr > background)
    for k in range(1, n + 1):
        out = nib.Nifti1Image((lab == k).astype(np.uint8), img.affine)
        out.header.set_xyzt_units("mm")
        yield k, out


def crop_to_box(img: nib.Nifti1Image, minpoint, maxpoint) -> nib.Nifti1Image:
    """The voxels of ``img`` whose centres lie in the mm box (borders included), with the affine moved.

    Raises
    ------
    InvalidInputError
        The box does not reach any voxel of the image.
    """
    lo_mm, hi_mm = np.asarray(minpoint, float), np.asarray(maxpoint, float)
    vox = mm_to_voxel(box_corners(lo_mm, hi_mm), img.affine)
    shape = np.asarray(img.shape[:3])
    lo = np.maximum(np.ceil(vox.min(0) - 1e-6).astype(int), 0)
    hi = np.minimum(np.floor(vox.max(0) + 1e-6).astype(int), shape - 1)
    if (hi < lo).any():
        raise InvalidInputError(
            f"The box {tuple(lo_mm)}-{tuple(hi_mm)} mm lies outside the image; pass a box that overlaps it."
        )
    sl = tuple(slice(int(a), int(b) + 1) for a, b in zip(lo, hi, strict=True))
    arr = np.asanyarray(img.dataobj)[sl]
    shift = np.eye(4)
    shift[:3, 3] = lo
    out = nib.Nifti1Image(np.ascontiguousarray(arr), np.asarray(img.affine, float) @ shift)
    out.header.set_xyzt_units("mm")
    return out


def values_at(img: nib.Nifti1Image, coords: np.ndarray, outside_value: float = 0.0) -> np.ndarray:
    """Image values at the voxels containing the (N, 3) mm coordinates; ``outside_value`` off the grid."""
    arr = np.asanyarray(img.dataobj)
    ijk = nearest_voxel(np.asarray(coords, float).reshape(-1, 3), img.affine)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(arr.shape[:3])), axis=1)
    out = np.full(len(ijk), outside_value, dtype=np.result_type(arr.dtype, np.float64))
    out[inside] = arr[tuple(ijk[inside].T)]
    return out


def resolution_of(img: nib.Nifti1Image) -> np.ndarray:
    """Voxel edge lengths in mm, shape (3,)."""
    return voxel_sizes(img.affine)

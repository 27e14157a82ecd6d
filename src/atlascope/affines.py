"""Voxel <-> millimetre maths: the one place atlascope converts between grid indices and mm.

Conventions
-----------
An ``affine`` is a 4x4 matrix that maps voxel indices to millimetres (nibabel convention): the centre
of voxel ``(i, j, k)`` is at ``affine @ (i, j, k, 1)``, and voxel ``(i, j, k)`` covers the indices
``[i - 0.5, i + 0.5)`` (likewise for ``j`` and ``k``). Coordinates are float arrays whose last axis has
length 3 (usually shape ``(N, 3)``).

Only numpy is used (not ``nibabel.affines``) so that importing this module stays cheap for the CLI's
start-up; the maths is the same as ``nibabel.affines.apply_affine`` and ``voxel_sizes``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .checks import as_coords
from .errors import InvalidInputError

__all__ = [
    "as_affine",
    "voxel_sizes",
    "voxel_to_mm",
    "mm_to_voxel",
    "apply_affine",
    "nearest_voxel",
    "box_corners",
    "transform_box",
    "subgrid_affine",
    "voxel_to_voxel",
]


def as_affine(affine: ArrayLike, name: str = "affine") -> np.ndarray:
    """Validate a voxel-to-mm affine and return it as a float64 (4, 4) array.

    Parameters
    ----------
    affine : array_like, shape (4, 4)
        Voxel-to-mm matrix (nibabel convention).
    name : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray, shape (4, 4), float64

    Raises
    ------
    InvalidInputError
        When the matrix is not 4x4 or contains NaN or infinite values.
    """
    try:
        a = np.asarray(affine, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} must be a 4x4 numeric matrix; could not convert it ({exc})."
        ) from exc
    if a.shape != (4, 4):
        raise InvalidInputError(
            f"{name} must be a 4x4 voxel-to-mm matrix, got shape {a.shape}; pass e.g. img.affine of a NIfTI image."
        )
    if not np.isfinite(a).all():
        raise InvalidInputError(f"{name} contains NaN or infinite values; pass a finite voxel-to-mm matrix.")
    return a



def voxel_sizes(affine: ArrayLike) -> np.ndarray:
    """Voxel size along each voxel axis, in mm.

    Parameters
    ----------
    affine : array_like, shape (4, 4)
        Voxel-to-mm matrix.

    Returns
    -------
    numpy.ndarray, shape (3,), float64
        The Euclidean norms of the columns of ``affine[:3, :3]`` (mm per voxel step along i, j, k).
    """
    a = as_affine(affine)
    return np.linalg.norm(a[:3, :3], axis=0)



def voxel_to_mm(ijk: ArrayLike, affine: ArrayLike) -> np.ndarray:
    """Map (possibly fractional) voxel indices to mm.

    Parameters
    ----------
    ijk : array_like, shape (..., 3)
        Voxel indices (voxel centres are integers).
    affine : array_like, shape (4, 4)
        Voxel-to-mm matrix.

    Returns
    -------
    numpy.ndarray, float64, same shape as ``ijk``
        Coordinates in mm.
    """
    a = as_affine(affine)
    v = as_coords(ijk, "ijk")
    return v @ a[:3, :3].T + a[:3, 3]



def mm_to_voxel(coords: ArrayLike, affine: ArrayLike) -> np.ndarray:
    """Map mm coordinates to fractional voxel indices (the inverse of :func:`voxel_to_mm`).

    Parameters
    ----------
    coords : array_like, shape (..., 3)
        Coordinates in mm.
    affine : array_like, shape (4, 4)
        Voxel-to-mm matrix; its 3x3 part must be invertible.

    Returns
    -------
    numpy.ndarray, float64, same shape as ``coords``
        Fractional voxel indices (not rounded, not clipped to any grid).

    Raises
    ------
    InvalidInputError
        When the affine is singular.
    """
    a = as_affine(affine)
    c = as_coords(coords)
    try:
        inv = np.linalg.inv(a[:3, :3])
    except np.linalg.LinAlgError as exc:
        raise InvalidInputError(
            "affine is singular (a voxel axis has zero length); pass an invertible voxel-to-mm matrix."
        ) from exc
    if not np.isfinite(inv).all():
        raise InvalidInputError("affine is numerically singular; pass an invertible voxel-to-mm matrix.")
    return (c - a[:3, 3]) @ inv.T



def apply_affine(affine: ArrayLike, coords: ArrayLike) -> np.ndarray:
    """Map coordinates by a general 4x4 matrix, dividing by the homogeneous coordinate.

    For a voxel-to-mm affine (last row ``0, 0, 0, 1``) this is :func:`voxel_to_mm`; any 4x4
    transform a user passes (``Point.transform``, ``BoundingBox.transform``) is applied in full.

    Parameters
    ----------
    affine : array_like, shape (4, 4)
        The transform.
    coords : array_like, shape (N, 3) or (3,)
        Coordinates (mm or voxel indices).

    Returns
    -------
    numpy.ndarray, shape (N, 3), float64
        The mapped coordinates.

    Raises
    ------
    InvalidInputError
        When the matrix is not 4x4 or not finite, or the coordinates are not (N, 3) finite numbers.
    """
    a = as_affine(affine)
    c = as_coords(coords).reshape(-1, 3)
    h = np.c_[c, np.ones(len(c))] @ a.T
    return h[:, :3] / h[:, 3:4]


def nearest_voxel(coords: ArrayLike, affine: ArrayLike) -> np.ndarray:
    """Index of the voxel containing each mm coordinate.

    Voxel ``i`` covers the fractional indices ``[i - 0.5, i + 0.5)``, so this is ``floor(v + 0.5)`` —
    halves round up, consistently with the ±0.5 voxel offsets of
    :func:`atlascope.analysis.draw_samples`.

    Parameters
    ----------
    coords : array_like, shape (..., 3)
        Coordinates in mm.
    affine : array_like, shape (4, 4)
        Voxel-to-mm matrix.

    Returns
    -------
    numpy.ndarray, int64, same shape as ``coords``
        Voxel indices; may lie outside any particular grid.
    """
    return np.floor(mm_to_voxel(coords, affine) + 0.5).astype(np.int64)



def box_corners(lo: ArrayLike, hi: ArrayLike) -> np.ndarray:
    """The 8 corners of an axis-aligned box.

    Parameters
    ----------
    lo, hi : array_like, shape (3,)
        Opposite corners (any units: mm or voxel indices).

    Returns
    -------
    numpy.ndarray, shape (8, 3), float64
        Every combination of ``lo``/``hi`` per axis.
    """
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    pick = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], dtype=bool)
    return np.where(pick, hi, lo)


def transform_box(lo: ArrayLike, hi: ArrayLike, affine: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned box that encloses a box after an affine transform.

    Parameters
    ----------
    lo, hi : array_like, shape (3,)
        Opposite corners of the box before the transform.
    affine : array_like, shape (4, 4)
        The transform (e.g. voxel-to-mm, or the inverse of one for mm-to-voxel).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray), each shape (3,), float64
        Minimum and maximum of the 8 transformed corners.
    """
    a = as_affine(affine)
    moved = box_corners(lo, hi) @ a[:3, :3].T + a[:3, 3]
    return moved.min(axis=0), moved.max(axis=0)


def subgrid_affine(affine: ArrayLike, offset: ArrayLike) -> np.ndarray:
    """Voxel-to-mm affine of the sub-grid whose voxel ``(0, 0, 0)`` is voxel ``offset`` of a grid.

    Parameters
    ----------
    affine : array_like, shape (4, 4)
        Voxel-to-mm matrix of the whole grid.
    offset : array_like, shape (3,)
        Voxel index (in the whole grid) of the sub-grid's first voxel, e.g. the start of a crop.

    Returns
    -------
    numpy.ndarray, shape (4, 4), float64
        ``affine`` composed with a translation by ``offset`` voxels (same voxel sizes and axes).
    """
    shift = np.eye(4)
    shift[:3, 3] = np.asarray(offset, dtype=np.float64)
    return as_affine(affine) @ shift


def voxel_to_voxel(from_affine: ArrayLike, to_affine: ArrayLike) -> np.ndarray:
    """Matrix mapping voxel indices of one grid to (fractional) voxel indices of another.

    Parameters
    ----------
    from_affine, to_affine : array_like, shape (4, 4)
        Voxel-to-mm matrices of the two grids (same space); ``to_affine`` must be invertible.

    Returns
    -------
    numpy.ndarray, shape (4, 4), float64
        ``inv(to_affine) @ from_affine``: voxel ``ijk`` of the first grid is at ``M @ (ijk, 1)`` of
        the second.

    Raises
    ------
    InvalidInputError
        When ``to_affine`` is singular.
    """
    a, b = as_affine(from_affine, "from_affine"), as_affine(to_affine, "to_affine")
    try:
        return np.linalg.inv(b) @ a
    except np.linalg.LinAlgError as exc:
        raise InvalidInputError(
            "affine is singular (a voxel axis has zero length); pass an invertible voxel-to-mm matrix."
        ) from exc

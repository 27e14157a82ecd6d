"""Voxel grid helpers shared by the analysis functions (and free for other rooms to import).

Conventions
-----------
An ``affine`` is a 4x4 matrix that maps voxel indices to millimetres (nibabel convention): the centre
of voxel ``(i, j, k)`` is at ``affine @ (i, j, k, 1)``, and voxel ``(i, j, k)`` covers the indices
``[i - 0.5, i + 0.5)`` (likewise for ``j`` and ``k``). Coordinates are float arrays whose last axis has
length 3 (usually shape ``(N, 3)``).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike

from atlascope.errors import InvalidInputError

__all__ = ["voxel_sizes", "mm_to_voxel", "voxel_to_mm", "nearest_voxel"]


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


def as_coords(coords: ArrayLike, name: str = "coords") -> np.ndarray:
    """Validate coordinates and return them as a float64 array of shape ``(..., 3)``.

    Parameters
    ----------
    coords : array_like, shape (..., 3)
        Coordinates (mm or voxels); usually ``(N, 3)``.
    name : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray, float64, same shape as ``coords``

    Raises
    ------
    InvalidInputError
        When the last axis does not have length 3, or values are NaN, infinite or not numeric.
    """
    try:
        c = np.asarray(coords, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} must be a numeric array of shape (N, 3); could not convert it ({exc})."
        ) from exc
    if c.ndim == 0 or c.shape[-1] != 3:
        raise InvalidInputError(f"{name} must have shape (N, 3) (x, y, z per row), got shape {c.shape}.")
    if not np.isfinite(c).all():
        raise InvalidInputError(f"{name} contains NaN or infinite values; drop or fix those rows first.")
    return c


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


def as_image(array: ArrayLike, name: str = "array") -> np.ndarray:
    """Validate a 3D real-valued image without copying it when possible.

    Parameters
    ----------
    array : array_like, shape (X, Y, Z)
        Image (any real or boolean dtype).
    name : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray, shape (X, Y, Z)
        The image (a view of the input when it already is an ndarray).

    Raises
    ------
    InvalidInputError
        When the image is not 3D, is empty, or is not real-valued. NaN/inf are checked by the callers.
    """
    a = np.asarray(array)
    if a.ndim != 3:
        raise InvalidInputError(
            f"{name} must be a 3D image, got {a.ndim}D with shape {a.shape}; select one volume (e.g. img.slicer[..., 0])."
        )
    if a.size == 0:
        raise InvalidInputError(f"{name} is empty (shape {a.shape}); pass an image with at least one voxel.")
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating) or a.dtype == np.bool_):
        raise InvalidInputError(
            f"{name} must hold real numbers, got dtype {a.dtype}; convert it (e.g. np.abs or .real)."
        )
    return a


def finite_range(a: np.ndarray, name: str = "array") -> tuple[float, float]:
    """Minimum and maximum of an image, rejecting NaN and infinite values.

    NaN propagates through ``min``/``max`` and infinities show up as extrema, so this costs two
    reductions instead of a full ``isfinite`` pass.

    Parameters
    ----------
    a : numpy.ndarray
        The image.
    name : str
        Name used in error messages.

    Returns
    -------
    tuple of float
        ``(min, max)``.

    Raises
    ------
    InvalidInputError
        When the image contains NaN or infinite values.
    """
    lo, hi = float(a.min()), float(a.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise InvalidInputError(
            f"{name} contains NaN or infinite values; replace them first (e.g. np.nan_to_num(array))."
        )
    return lo, hi


def as_positive_int(value: object, name: str) -> int:
    """Validate a positive integer parameter.

    Parameters
    ----------
    value : object
        The value to check (Python or numpy integer; ``bool`` is rejected).
    name : str
        Name used in error messages.

    Returns
    -------
    int
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def as_finite_real(value: object, name: str, *, minimum: float | None = None, strict: bool = False) -> float:
    """Validate a finite real scalar parameter, optionally bounded below.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        Name used in error messages.
    minimum : float, optional
        Lower bound.
    strict : bool
        Whether the bound is exclusive.

    Returns
    -------
    float
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}.")
    v = float(value)
    if minimum is not None and (v <= minimum if strict else v < minimum):
        rel = ">" if strict else ">="
        raise InvalidInputError(f"{name} must be {rel} {minimum}, got {v!r}.")
    return v

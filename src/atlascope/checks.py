"""Checks of user-supplied arguments (coordinates, images, scalars) with atlascope's errors.

Each check returns the value in the form the caller computes with, or raises
:class:`atlascope.errors.InvalidInputError` naming the argument, the cause and the fix.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike

from .errors import InvalidInputError

__all__ = [
    "as_coords",
    "as_image",
    "finite_range",
    "as_positive_int",
    "as_finite_real",
    "as_sigma_mm",
    "MAX_SIGMA_MM",
]

#: Largest location uncertainty accepted (mm). A Gaussian of this sigma already spans most of a
#: human brain (its 3-sigma ball is 120 mm across); larger values would only cost memory (kernels
#: grow with sigma cubed) and carry no anatomical information.
MAX_SIGMA_MM = 20.0


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


def as_sigma_mm(sigma_mm: object, n: int | None = None) -> np.ndarray:
    """Check location uncertainties: finite, >= 0 and at most :data:`MAX_SIGMA_MM` mm.

    The one rule for every ``sigma_mm`` of atlascope (points, point clouds, kernel densities).

    Parameters
    ----------
    sigma_mm : float or array_like, shape (n,)
        Standard deviation(s) in mm.
    n : int, optional
        Number of points: a scalar is broadcast to shape (n,), an array must have that shape.
        Without ``n`` a scalar gives a 0-d array.

    Returns
    -------
    numpy.ndarray, float64, shape (n,) (or () without ``n``)

    Raises
    ------
    InvalidInputError
        Not numbers, the wrong number of them, negative, NaN/inf, or above :data:`MAX_SIGMA_MM`.
    """
    try:
        sig = np.asarray(sigma_mm, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(f"sigma_mm must be a number of mm (or one per point), got {sigma_mm!r}.") from None
    if n is not None:
        if sig.ndim == 0:
            sig = np.full(n, float(sig))
        if sig.shape != (n,):
            raise InvalidInputError(
                f"sigma_mm must be one number or {n} of them (one per point), got shape {sig.shape}."
            )
    if not np.isfinite(sig).all() or (sig < 0).any():
        raise InvalidInputError(
            "sigma_mm must be a finite number of mm >= 0; negative, NaN or infinite values were given."
        )
    if (sig > MAX_SIGMA_MM).any():
        raise InvalidInputError(
            f"sigma_mm must be at most {MAX_SIGMA_MM:g} mm (a location uncertainty), got "
            f"{float(sig.max()):g} mm. To describe a large region, pass a mask image instead."
        )
    return sig

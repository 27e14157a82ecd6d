"""Draw random coordinates from an image treated as a probability density.

Differences from siibra: none in what is computed; the draw is vectorised (one cumulative sum and one
binary search over the voxels with non-zero probability) instead of a rejection loop, and the
randomness source can be passed explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike

from atlascope.affines import as_affine, voxel_to_mm
from atlascope.checks import as_finite_real, as_image, as_positive_int, finite_range
from atlascope.commons import logger
from atlascope.errors import InvalidInputError

__all__ = ["draw_samples"]

RandomLike = None | int | np.random.Generator | np.random.RandomState


def _uniform_source(rng: RandomLike) -> Callable[[int | tuple[int, ...]], np.ndarray]:
    """Return ``f(size)`` drawing uniform floats in ``[0, 1)`` from the requested source.

    ``None`` uses the global numpy RNG (``np.random.random_sample``), an int seeds a fresh
    ``np.random.default_rng``, and a ``Generator`` or legacy ``RandomState`` is used as is.
    """
    if rng is None:
        return np.random.random_sample
    if isinstance(rng, np.random.Generator):
        return rng.random
    if isinstance(rng, np.random.RandomState):
        return rng.random_sample
    if isinstance(rng, Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise InvalidInputError(f"rng seed must be a non-negative integer, got {rng!r}.")
        return np.random.default_rng(int(rng)).random
    raise InvalidInputError(
        f"rng must be None (global numpy RNG), an int seed or a numpy.random.Generator, got {type(rng).__name__}."
    )


def _gather_c_order(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Values of ``a`` at C-order flat indices ``idx``, without copying a contiguous ``a``."""
    if a.flags.c_contiguous:
        return a.ravel()[idx]
    if a.flags.f_contiguous:
        nx, ny, nz = a.shape
        i, rem = np.divmod(idx, ny * nz)
        j, k = np.divmod(rem, nz)
        return a.ravel(order="F")[i + nx * (j + ny * k)]
    return a[np.unravel_index(idx, a.shape)]


def draw_samples(
    array: ArrayLike,
    affine: ArrayLike,
    n: int,
    *,
    e: float = 1.0,
    invert: bool = False,
    rng: RandomLike = None,
) -> np.ndarray:
    """Draw random mm coordinates with probability proportional to a (transformed) image.

    The image is normalised to ``P0 = (A - min) / (max - min)`` in ``[0, 1]``; with ``invert`` it is
    replaced by ``1 - P0``; then ``P = P0 ** e``. ``n`` voxels are drawn with replacement with
    probability proportional to ``P``; each drawn voxel index gets an independent uniform offset in
    ``[-0.5, 0.5)`` voxel along every axis (voxel centres are at integer indices), and the result is
    mapped to mm with ``affine``.

    Parameters
    ----------
    array : array_like, shape (X, Y, Z)
        Image (any real or boolean dtype); only voxels with ``P > 0`` can be drawn. It is not copied
        as a whole: only the voxels with non-zero probability are gathered (in float64).
    affine : array_like, shape (4, 4)
        Voxel-to-mm matrix of ``array`` (nibabel convention).
    n : int
        Number of samples, >= 1.
    e : float, optional
        Exponent (> 0) applied after normalisation; larger values concentrate samples on the highest
        voxels. Default 1.
    invert : bool, optional
        Sample from ``1 - P0`` instead of ``P0`` (the lowest voxels become the most likely).
    rng : None, int, numpy.random.Generator or numpy.random.RandomState, optional
        Randomness source. ``None`` (default) uses the global numpy RNG, so ``np.random.seed(s)``
        makes runs repeatable; an int is a seed for ``np.random.default_rng``. One vector of ``n``
        uniforms picks the voxels, then an ``(n, 3)`` array of uniforms gives the offsets.

    Returns
    -------
    numpy.ndarray, shape (n, 3), float64
        Sample coordinates in mm.

    Raises
    ------
    InvalidInputError
        When the image is not 3D, not real-valued, contains NaN/inf or is constant (including
        all-zero); when ``n`` is not a positive integer, ``e`` not a positive finite number, the
        affine not a finite 4x4 matrix, or ``rng`` of an unsupported type.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((3, 3, 3)); a[1, 1, 1] = 1.0
    >>> xyz = draw_samples(a, np.eye(4), 5, rng=0)
    >>> bool(np.all(np.abs(xyz - 1.0) <= 0.5))
    True
    """
    a = as_image(array)
    aff = as_affine(affine)
    n = as_positive_int(n, "n")
    e = as_finite_real(e, "e", minimum=0.0, strict=True)
    uniform = _uniform_source(rng)
    lo, hi = finite_range(a)
    if not hi > lo:
        raise InvalidInputError(
            f"array is constant (every voxel is {lo!r}), so it defines no sampling density; "
            "pass an image with at least two different values."
        )

    # Voxels are enumerated in C order whatever the memory layout, so a given seed gives the same
    # samples for C- and Fortran-ordered copies of an image (nibabel's get_fdata() is usually
    # Fortran-ordered). Only the boolean mask and the candidate values are materialised, never a
    # float64 copy of the whole image.
    mask = a < hi if invert else a > lo
    idx = np.flatnonzero(mask)
    del mask
    vals = _gather_c_order(a, idx).astype(np.float64)
    span = hi - lo
    p = (hi - vals) / span if invert else (vals - lo) / span
    if e != 1.0:
        np.power(p, e, out=p)
    cdf = np.cumsum(p)
    total = cdf[-1]  # >= 1: the extreme voxel has P == 1
    logger.debug("draw_samples: %d samples from %d voxels with non-zero probability", n, idx.size)

    # Voxel k is chosen when cdf[k-1] <= u < cdf[k]; voxels whose P underflowed to 0 are never chosen.
    pick = np.searchsorted(cdf, uniform(n) * total, side="right")
    np.minimum(pick, idx.size - 1, out=pick)
    ijk = np.stack(np.unravel_index(idx[pick], a.shape), axis=1).astype(np.float64)
    ijk += uniform((n, 3)) - 0.5
    return voxel_to_mm(ijk, aff)

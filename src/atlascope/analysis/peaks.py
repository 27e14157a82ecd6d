"""Local maxima of an image, strongest first."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from atlascope.affines import voxel_to_mm
from atlascope.checks import as_finite_real, as_image, as_positive_int, finite_range
from atlascope.commons import logger

__all__ = ["find_peaks", "voxels_to_mm"]


def find_peaks(
    array: ArrayLike,
    *,
    mindist: int = 5,
    threshold: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Find local maxima of a 3D image, separated by at least ``mindist`` voxels.

    A voxel is a peak when it equals the maximum of the cube of voxels within Chebyshev distance
    ``mindist - 1`` around it (at least its 26 neighbours; the image is extended by its edge values,
    so peaks on the border count) and is strictly greater than the image minimum and than
    ``threshold`` when given (:func:`skimage.feature.peak_local_max` with
    ``min_distance=max(1, mindist - 1)`` and ``exclude_border=False``); candidates are then kept
    from the strongest down when at Chebyshev distance ``>= mindist`` from every kept peak. So two
    peaks exactly ``mindist`` voxels apart are both kept ("separated by at least mindist");
    siibra passes ``mindist`` to skimage and keeps only peaks more than ``mindist`` apart. An image
    whose voxels all equal their neighbourhood maximum (e.g. a constant image) has no peaks. A
    flat-topped maximum (a plateau of equal values) may give several peaks, ``mindist`` apart.

    Parameters
    ----------
    array : array_like, shape (X, Y, Z)
        Image (any real or boolean dtype), without NaN or infinite values.
    mindist : int, optional
        Minimum separation of peaks in voxels (Chebyshev distance), >= 1. Default 5.
    threshold : float, optional
        Only values strictly above ``threshold`` (and above the image minimum) can be peaks.

    Returns
    -------
    ijk : numpy.ndarray of int64, shape (K, 3)
        Voxel indices of the peaks, strongest first; equal values are ordered by index (i, then j,
        then k).
    values : numpy.ndarray, shape (K,)
        Image values at the peaks (the image's dtype).

    Raises
    ------
    InvalidInputError
        When the image is not 3D, not real-valued or holds NaN/inf, ``mindist`` is not a positive
        integer, or ``threshold`` is not a finite number.
    """
    from skimage.feature import peak_local_max

    a = as_image(array)
    mindist = as_positive_int(mindist, "mindist")
    lo, _ = finite_range(a)
    thr = lo if threshold is None else max(lo, as_finite_real(threshold, "threshold"))
    img = a.astype(np.uint8) if a.dtype == np.bool_ else a
    ijk = peak_local_max(img, min_distance=max(1, mindist - 1), threshold_abs=thr, exclude_border=False)
    ijk = np.asarray(ijk, dtype=np.int64).reshape(-1, 3)
    values = a[tuple(ijk.T)]
    order = np.lexsort((ijk[:, 2], ijk[:, 1], ijk[:, 0], -values.astype(np.float64)))
    ijk, values = ijk[order], values[order]
    keep = _spaced(ijk, mindist)
    ijk, values = ijk[keep], values[keep]
    logger.debug("find_peaks: %d peaks (mindist=%d voxels, threshold=%g)", len(values), mindist, thr)
    return ijk, values


def _spaced(ijk: np.ndarray, mindist: int) -> np.ndarray:
    """Greedy selection (rows in order) of peaks at Chebyshev distance >= ``mindist`` from every kept one."""
    keep = np.zeros(len(ijk), bool)
    kept: list[np.ndarray] = []
    for i, p in enumerate(ijk):
        if not kept or np.abs(np.asarray(kept) - p).max(axis=1).min() >= mindist:
            keep[i] = True
            kept.append(p)
    return keep


def voxels_to_mm(ijk: ArrayLike, affine: ArrayLike) -> np.ndarray:
    """Map voxel indices (e.g. the peaks of :func:`find_peaks`) to mm.

    Parameters
    ----------
    ijk : array_like, shape (K, 3)
        Voxel indices.
    affine : array_like, shape (4, 4)
        Voxel-to-mm matrix.

    Returns
    -------
    numpy.ndarray, float64, shape (K, 3)
        Coordinates in mm.
    """
    return voxel_to_mm(ijk, affine)

"""Cluster point coordinates (HDBSCAN by default, DBSCAN on request).

Labels are renumbered by cluster size — label 0 is the largest cluster, 1 the next, and so on (ties:
the cluster whose first point comes first in the input gets the smaller label); -1 is noise. This
makes the labels independent of the clustering backend's internal numbering.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike

from atlascope.checks import as_coords, as_finite_real
from atlascope.commons import logger
from atlascope.errors import InvalidInputError

__all__ = ["find_clusters", "relabel_by_size"]


def _fraction(value: object, name: str) -> float:
    f = as_finite_real(value, name, minimum=0.0, strict=True)
    if f > 1.0:
        raise InvalidInputError(f"{name} must be a fraction of the points in (0, 1], got {f!r}.")
    return f


def _floor_count(n: int, fraction: float) -> int:
    """``floor(n * fraction)``, robust to binary rounding (600 * (1/200) counts as 3, not 2)."""
    return int(math.floor(n * fraction + 1e-9))


def relabel_by_size(labels: ArrayLike) -> np.ndarray:
    """Renumber cluster labels by decreasing cluster size; negative labels become -1 (noise).

    Parameters
    ----------
    labels : array_like of int, shape (N,)
        Cluster labels, negative for noise.

    Returns
    -------
    numpy.ndarray of int64, shape (N,)
        Label 0 for the largest cluster, 1 for the next, ...; among clusters of equal size, the one
        whose first member has the smaller index in ``labels`` comes first.
    """
    lab = np.asarray(labels)
    out = np.full(lab.shape, -1, dtype=np.int64)
    valid = lab >= 0
    if not valid.any():
        return out
    uniq, first, inverse, counts = np.unique(
        lab[valid], return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))  # primary key: size (descending), then first occurrence
    rank = np.empty(uniq.size, dtype=np.int64)
    rank[order] = np.arange(uniq.size)
    out[valid] = rank[inverse.ravel()]
    return out


def find_clusters(
    coords: ArrayLike,
    *,
    min_fraction: float = 1 / 200,
    max_fraction: float | None = 1 / 8,
    algorithm: str = "hdbscan",
    eps_mm: float | None = None,
    min_samples: int | None = None,
) -> np.ndarray:
    """Cluster mm coordinates and return one label per point (-1 = noise).

    With ``N`` points, ``min_cluster_size = max(2, floor(N * min_fraction))``.

    * ``algorithm="hdbscan"`` (default): :class:`sklearn.cluster.HDBSCAN` with that
      ``min_cluster_size`` and ``max_cluster_size = floor(N * max_fraction)``. HDBSCAN's "eom"
      selection then never returns a cluster larger than that: a dense group with more points is
      split into sub-clusters (or partly left as noise). When ``floor(N * max_fraction)`` is smaller
      than ``min_cluster_size`` (few points), or ``max_fraction`` is None, no upper limit is applied
      — a limit below the minimum size would turn every point into noise.
    * ``algorithm="dbscan"``: :class:`sklearn.cluster.DBSCAN` with radius ``eps_mm`` and
      ``min_samples`` (default ``min_cluster_size``); ``max_fraction`` is not used.

    Labels are renumbered by size: 0 is the largest cluster, 1 the next, and so on (equal sizes: the
    cluster whose first point has the smaller input index first). The result is deterministic.

    Parameters
    ----------
    coords : array_like, shape (N, 3)
        Point coordinates in mm, N >= 2.
    min_fraction : float, optional
        Smallest cluster as a fraction of N, in (0, 1]. Default 1/200.
    max_fraction : float or None, optional
        Largest cluster as a fraction of N, in (0, 1], HDBSCAN only; None for no limit. Default 1/8.
    algorithm : {"hdbscan", "dbscan"}, optional
        Clustering method.
    eps_mm : float, optional
        DBSCAN neighbourhood radius in mm (required, > 0, for ``algorithm="dbscan"``).
    min_samples : int, optional
        Neighbours (including the point itself) for a core point, 1 <= min_samples <= N. HDBSCAN:
        default ``min_cluster_size`` (scikit-learn's default); DBSCAN: default ``min_cluster_size``.

    Returns
    -------
    numpy.ndarray of int64, shape (N,)
        Cluster label per point, -1 for noise.

    Raises
    ------
    InvalidInputError
        Fewer than 2 points, NaN/inf coordinates, a shape other than (N, 3), fractions outside
        (0, 1], an unknown algorithm, a missing or non-positive ``eps_mm`` for DBSCAN, or an invalid
        ``min_samples``.
    """
    x = as_coords(coords)
    if x.ndim != 2:
        raise InvalidInputError(f"coords must have shape (N, 3), got {x.shape}.")
    n = x.shape[0]
    if n < 2:
        raise InvalidInputError(f"find_clusters needs at least 2 points, got {n}; sample more points first.")
    min_fraction = _fraction(min_fraction, "min_fraction")
    min_cluster_size = max(2, _floor_count(n, min_fraction))
    if min_samples is not None:
        if (
            isinstance(min_samples, bool)
            or not isinstance(min_samples, Integral)
            or not 1 <= min_samples <= n
        ):
            raise InvalidInputError(
                f"min_samples must be an integer between 1 and the number of points ({n}), got {min_samples!r}."
            )
        min_samples = int(min_samples)

    algo = str(algorithm).lower()
    if algo == "hdbscan":
        from sklearn.cluster import HDBSCAN

        max_cluster_size: int | None = None
        if max_fraction is not None:
            max_cluster_size = _floor_count(n, _fraction(max_fraction, "max_fraction"))
            if max_cluster_size < min_cluster_size:
                logger.debug(
                    "find_clusters: floor(%d * max_fraction) = %d < min_cluster_size %d; no upper size limit",
                    n,
                    max_cluster_size,
                    min_cluster_size,
                )
                max_cluster_size = None
        logger.debug(
            "find_clusters: HDBSCAN on %d points, min_cluster_size=%d, max_cluster_size=%s",
            n,
            min_cluster_size,
            max_cluster_size,
        )
        model = HDBSCAN(
            min_cluster_size=min_cluster_size,
            min_samples=min_samples,
            max_cluster_size=max_cluster_size,
            copy=True,
        )
    elif algo == "dbscan":
        from sklearn.cluster import DBSCAN

        if eps_mm is None:
            raise InvalidInputError(
                'algorithm="dbscan" needs eps_mm, the neighbourhood radius in mm (e.g. eps_mm=5).'
            )
        eps = as_finite_real(eps_mm, "eps_mm", minimum=0.0, strict=True)
        ms = min_cluster_size if min_samples is None else min_samples
        logger.debug("find_clusters: DBSCAN on %d points, eps=%g mm, min_samples=%d", n, eps, ms)
        model = DBSCAN(eps=eps, min_samples=ms)
    else:
        raise InvalidInputError(f'algorithm must be "hdbscan" or "dbscan", got {algorithm!r}.')

    labels = relabel_by_size(model.fit(x).labels_)
    logger.debug("find_clusters: %d clusters, %d noise points", labels.max() + 1, int((labels < 0).sum()))
    return labels

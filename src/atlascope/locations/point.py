"""Points and point clouds in a reference space, each with a location uncertainty (sigma_mm)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..core.space import Space
from ..errors import InvalidInputError
from .spaces import check_compatible, resolve_space

__all__ = ["Point", "PointCloud"]


def _as_coords(coords, what: str) -> np.ndarray:
    try:
        arr = np.asarray(coords, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} must be numbers in mm, got {coords!r}.") from exc
    if arr.ndim == 1 and arr.size == 3:
        arr = arr.reshape(1, 3)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise InvalidInputError(f"{what} must have shape (N, 3) in mm, got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"{what} contain NaN or infinite values; remove those points first.")
    return arr


class Point:
    """One coordinate in mm in a reference space.

    Parameters
    ----------
    coordinate : sequence of 3 float
        (x, y, z) in mm.
    space : str or Space
        Reference space (a spec such as ``"mni152"`` is resolved).
    sigma_mm : float
        Location uncertainty (standard deviation, mm).
    label : int, optional
        Label (e.g. the peak number).
    """

    def __init__(
        self,
        coordinate: Sequence[float],
        space: str | Space | None = None,
        sigma_mm: float = 0.0,
        label: int | None = None,
    ) -> None:
        c = _as_coords(coordinate, "Point coordinates")
        if c.shape[0] != 1:
            raise InvalidInputError(f"A Point has one coordinate (x, y, z); got {c.shape[0]}.")
        self.coordinate = tuple(float(v) for v in c[0])
        self.space = resolve_space(space)
        try:
            sigma = float(sigma_mm)
        except (TypeError, ValueError):
            raise InvalidInputError(f"sigma_mm must be a number of mm, got {sigma_mm!r}.") from None
        if not np.isfinite(sigma) or sigma < 0:
            raise InvalidInputError(f"sigma_mm must be a finite number >= 0, got {sigma_mm!r}.")
        self.sigma_mm = sigma
        self.label = label

    @property
    def coordinates(self) -> np.ndarray:
        """Shape (1, 3) array in mm (for code that treats points and clouds alike)."""
        return np.asarray([self.coordinate])

    def as_pointcloud(self) -> PointCloud:
        """A one-point PointCloud."""
        labels = None if self.label is None else [self.label]
        return PointCloud([self.coordinate], self.space, sigma_mm=self.sigma_mm, labels=labels)

    def warp(self, space: str | Space, strict: bool = False) -> Point:
        """This point in ``space`` (identity within the MNI152 family, see ``check_compatible``)."""
        target = resolve_space(space)
        check_compatible(self.space, target, strict=strict)
        return Point(self.coordinate, target, self.sigma_mm, self.label)

    def __iter__(self) -> Iterator[float]:
        return iter(self.coordinate)

    def __getitem__(self, i: int) -> float:
        return self.coordinate[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and other.coordinate == self.coordinate and other.space == self.space

    def __hash__(self) -> int:
        return hash((self.coordinate, self.space))

    def __repr__(self) -> str:
        x, y, z = self.coordinate
        sp = self.space.shortname if self.space else "no space"
        return f"<Point ({x:.2f}, {y:.2f}, {z:.2f}) mm in {sp}, sigma {self.sigma_mm:g} mm>"

    __str__ = __repr__


class PointCloud:
    """N coordinates in mm in one reference space, with per-point uncertainty and optional labels.

    Parameters
    ----------
    coordinates : array-like, shape (N, 3)
        Coordinates in mm.
    space : str or Space
        Reference space.
    sigma_mm : float or array-like of shape (N,)
        Location uncertainty (mm), one value for all points or one per point.
    labels : array-like of int, shape (N,), optional
        Cluster labels, -1 for noise.
    """

    def __init__(self, coordinates, space: str | Space | None = None, sigma_mm=0.0, labels=None) -> None:
        self.coordinates = _as_coords(coordinates, "PointCloud coordinates")
        n = len(self.coordinates)
        self.space = resolve_space(space)
        try:
            sig = np.asarray(sigma_mm, dtype=float)
        except (TypeError, ValueError):
            raise InvalidInputError(f"sigma_mm must be numbers of mm, got {sigma_mm!r}.") from None
        if sig.ndim == 0:
            sig = np.full(n, float(sig))
        if sig.shape != (n,):
            raise InvalidInputError(
                f"sigma_mm must be one number or {n} of them (one per point), got shape {sig.shape}."
            )
        if not np.isfinite(sig).all() or (sig < 0).any():
            raise InvalidInputError(
                "sigma_mm must be finite and >= 0 mm; negative, NaN or infinite values were given."
            )
        self.sigma_mm = sig
        self._labels: np.ndarray | None = None
        if labels is not None:
            self.labels = labels

    # ---------------------------------------------------------------- labels
    @property
    def labels(self) -> np.ndarray | None:
        """Integer label per point (-1 = noise), or None before clustering."""
        return self._labels

    @labels.setter
    def labels(self, labels) -> None:
        if labels is None:
            self._labels = None
            return
        lab = np.asarray(labels)
        if lab.shape != (len(self),):
            raise InvalidInputError(f"labels must have shape ({len(self)},), got {lab.shape}.")
        if not (np.issubdtype(lab.dtype, np.integer) or lab.dtype == bool):
            try:
                labf = lab.astype(float)
            except (TypeError, ValueError):
                raise InvalidInputError("labels must be whole numbers (-1 for noise).") from None
            if not np.isfinite(labf).all() or (labf != np.round(labf)).any():
                raise InvalidInputError("labels must be finite whole numbers (-1 for noise).")
            lab = labf
        self._labels = lab.astype(int)

    @property
    def label_colors(self) -> dict[int, tuple[float, float, float, float]]:
        """RGBA colour per label: matplotlib's "rainbow" sampled over 0..max label; noise is grey."""
        if self._labels is None:
            return {}
        from matplotlib import colormaps

        cmap = colormaps["rainbow"]
        uniq = sorted(set(self._labels.tolist()))
        top = max([u for u in uniq if u >= 0], default=0)
        out = {}
        for u in uniq:
            out[u] = (0.5, 0.5, 0.5, 1.0) if u < 0 else tuple(float(v) for v in cmap(u / top if top else 0.0))
        return out

    def find_clusters(
        self,
        min_fraction: float = 1 / 200,
        max_fraction: float = 1 / 8,
        *,
        algorithm: str = "hdbscan",
        eps_mm: float | None = None,
        min_samples: int | None = None,
    ) -> np.ndarray:
        """Cluster the points (SPEC section 3) and store and return the labels.

        Parameters
        ----------
        min_fraction, max_fraction : float
            Smallest and largest cluster, as fractions of the number of points.
        algorithm : {"hdbscan", "dbscan"}
            HDBSCAN (default) or DBSCAN with ``eps_mm``.
        eps_mm : float, optional
            DBSCAN neighbourhood radius in mm.
        min_samples : int, optional
            Core point neighbourhood size.

        Returns
        -------
        numpy.ndarray of int, shape (N,)
            Labels, 0 for the largest cluster, -1 for noise.
        """
        from ..analysis.clustering import find_clusters

        self.labels = find_clusters(
            self.coordinates,
            min_fraction=min_fraction,
            max_fraction=max_fraction,
            algorithm=algorithm,
            eps_mm=eps_mm,
            min_samples=min_samples,
        )
        return self.labels

    # ------------------------------------------------------------- container
    def __len__(self) -> int:
        return len(self.coordinates)

    def __iter__(self) -> Iterator[Point]:
        for i, c in enumerate(self.coordinates):
            lab = None if self._labels is None else int(self._labels[i])
            yield Point(c, self.space, float(self.sigma_mm[i]), lab)

    def __getitem__(self, i: int) -> Point:
        lab = None if self._labels is None else int(self._labels[i])
        return Point(self.coordinates[i], self.space, float(self.sigma_mm[i]), lab)

    def as_list(self) -> list[tuple[float, float, float]]:
        """Coordinates as ``[(x, y, z), ...]`` in mm."""
        return [tuple(float(v) for v in c) for c in self.coordinates]

    def subset(self, mask) -> PointCloud:
        """The points selected by a boolean mask or index array (labels and sigma kept)."""
        labels = None if self._labels is None else self._labels[mask]
        return PointCloud(self.coordinates[mask], self.space, self.sigma_mm[mask], labels)

    @property
    def centroid(self) -> np.ndarray:
        """Mean coordinate (mm), shape (3,)."""
        return self.coordinates.mean(axis=0)

    @property
    def boundingbox(self):
        """The BoundingBox of the points."""
        from .boundingbox import BoundingBox

        return BoundingBox(self.coordinates.min(0), self.coordinates.max(0), self.space)

    def warp(self, space: str | Space, strict: bool = False) -> PointCloud:
        """This cloud in ``space`` (identity within the MNI152 family)."""
        target = resolve_space(space)
        check_compatible(self.space, target, strict=strict)
        return PointCloud(self.coordinates, target, self.sigma_mm, self._labels)

    def __repr__(self) -> str:
        sp = self.space.shortname if self.space else "no space"
        return f"<PointCloud of {len(self)} points in {sp}>"

"""Locations in mm in a reference space: points and point clouds, each with a location uncertainty
(sigma_mm), and axis-aligned boxes.

The three types live in one module because each builds the others (a box's centre and corners are
points, a cloud's bounding box is a box).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from numbers import Real

import numpy as np

from ..affines import apply_affine, box_corners, transform_box
from ..checks import MAX_SIGMA_MM, as_sigma_mm
from ..core.space import Space
from ..errors import InvalidInputError
from .spaces import check_compatible, resolve_space

__all__ = [
    "Point",
    "PointCloud",
    "BoundingBox",
    "parse_coordinate",
    "apply_affine",
    "as_sigma_mm",
    "MAX_SIGMA_MM",
]

_NUMBER_MM = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(mm)?\s*$")


def parse_coordinate(spec, unit: str = "mm") -> tuple[float, float, float]:
    """Three mm values from ``"12.5mm, -3mm, 7mm"``, ``"(1, 2, 3)"``, ``("1mm", "2", 3)`` or numbers.

    Parameters
    ----------
    spec : str or sequence of 3 (str or float)
        The coordinate; strings may carry the unit ``mm``.
    unit : {"mm"}
        The only unit atlascope reads.

    Returns
    -------
    tuple of 3 float
        (x, y, z) in mm.

    Raises
    ------
    InvalidInputError
        Another unit, not three values, or a value that is not a number.
    """
    if unit != "mm":
        raise InvalidInputError(f"Coordinates are read in mm only, got unit={unit!r}; convert them to mm.")
    if isinstance(spec, str):
        parts = [p for p in re.split(r"[,\s]+", spec.strip().strip("()[]").strip()) if p]
        # "12.5 mm" splits into a number and a unit; glue lone units back
        merged: list[str] = []
        for p in parts:
            if p.lower() == "mm" and merged:
                merged[-1] += p
            else:
                merged.append(p)
        parts = merged
    else:
        try:
            parts = list(spec)
        except TypeError:
            raise InvalidInputError(f"A coordinate needs three values in mm, got {spec!r}.") from None
    if len(parts) != 3:
        raise InvalidInputError(f"A coordinate needs three values (x, y, z) in mm, got {spec!r}.")
    out = []
    for p in parts:
        if isinstance(p, Real) and not isinstance(p, bool):
            out.append(float(p))
            continue
        m = _NUMBER_MM.match(str(p).lower())
        if m is None:
            raise InvalidInputError(
                f"Cannot read {p!r} of {spec!r} as a coordinate in mm; write numbers, e.g. '12.5mm, -3mm, 7mm'."
            )
        out.append(float(m.group(1)))
    return (out[0], out[1], out[2])


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
        if isinstance(coordinate, str) or (
            isinstance(coordinate, (tuple, list)) and any(isinstance(v, str) for v in coordinate)
        ):
            coordinate = parse_coordinate(coordinate)
        c = _as_coords(coordinate, "Point coordinates")
        if c.shape[0] != 1:
            raise InvalidInputError(f"A Point has one coordinate (x, y, z); got {c.shape[0]}.")
        self.coordinate = tuple(float(v) for v in c[0])
        self.space = resolve_space(space)
        sigma = as_sigma_mm(sigma_mm)
        if sigma.ndim != 0:
            raise InvalidInputError(f"A Point has one sigma_mm (a number of mm), got {sigma_mm!r}.")
        self.sigma_mm = float(sigma)
        self.label = label

    @property
    def coordinates(self) -> np.ndarray:
        """Shape (1, 3) array in mm (for code that treats points and clouds alike)."""
        return np.asarray([self.coordinate])

    def as_pointcloud(self) -> PointCloud:
        """A one-point PointCloud."""
        labels = None if self.label is None else [self.label]
        return PointCloud([self.coordinate], self.space, sigma_mm=self.sigma_mm, labels=labels)

    @staticmethod
    def parse(spec, unit: str = "mm") -> tuple[float, float, float]:
        """(x, y, z) in mm from ``"12.5mm, -3mm, 7mm"`` or a tuple of strings/numbers (see ``parse_coordinate``)."""
        return parse_coordinate(spec, unit)

    @property
    def sigma(self) -> float:
        """Location uncertainty in mm (siibra's name for ``sigma_mm``)."""
        return self.sigma_mm

    @property
    def homogeneous(self) -> np.ndarray:
        """The coordinate with a trailing 1, shape (1, 4)."""
        return np.atleast_2d([*self.coordinate, 1.0])

    def transform(self, affine, space: str | Space | None = None) -> Point:
        """The point mapped by a 4x4 ``affine`` (e.g. mm to voxels), in ``space`` (None: unknown).

        Sigma and label are kept.
        """
        return Point(apply_affine(affine, self.coordinates)[0], space, self.sigma_mm, self.label)

    def intersection(self, other):
        """This point if it lies in ``other`` (a Point, PointCloud, BoundingBox or Volume), else None."""
        if isinstance(other, Point):
            return self if np.allclose(self.coordinate, other.coordinate) else None
        if isinstance(other, PointCloud):
            return self if bool(np.all(np.isclose(other.coordinates, self.coordinate), axis=1).any()) else None
        hit = other.intersection(self.as_pointcloud())
        return None if hit is None else self

    def _operand(self, other, op: str) -> np.ndarray:
        if isinstance(other, Point):
            check_compatible(other.space, self.space)
            return np.asarray(other.coordinate)
        try:
            v = np.broadcast_to(np.asarray(other, dtype=float), (3,))
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"Cannot {op} a Point and {other!r}: use a Point, a number or three numbers (mm)."
            ) from None
        return v

    def _new(self, coords) -> Point:
        return Point(np.asarray(coords, float), self.space, self.sigma_mm, self.label)

    def __add__(self, other) -> Point:
        return self._new(np.asarray(self.coordinate) + self._operand(other, "add"))

    __radd__ = __add__

    def __sub__(self, other) -> Point:
        return self._new(np.asarray(self.coordinate) - self._operand(other, "subtract"))

    def __rsub__(self, other) -> Point:
        return self._new(self._operand(other, "subtract") - np.asarray(self.coordinate))

    def __mul__(self, other) -> Point:
        return self._new(np.asarray(self.coordinate) * self._operand(other, "multiply"))

    __rmul__ = __mul__

    def __truediv__(self, other) -> Point:
        d = self._operand(other, "divide")
        if (d == 0).any():
            raise InvalidInputError("Cannot divide a Point by zero.")
        return self._new(np.asarray(self.coordinate) / d)

    def __neg__(self) -> Point:
        return self._new(-np.asarray(self.coordinate))

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
        self.sigma_mm = as_sigma_mm(sigma_mm, n)
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
        """Cluster the points (:func:`atlascope.analysis.find_clusters`) and store and return the labels.

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
        # the analysis package imports numpy.random and all its algorithms (~20 ms): not at `import atlascope`
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
        return BoundingBox(self.coordinates.min(0), self.coordinates.max(0), self.space)

    @property
    def sigma(self) -> list[float]:
        """Per-point uncertainty in mm (siibra's name; ``sigma_mm`` is the array)."""
        return self.sigma_mm.tolist()

    @property
    def has_constant_sigma(self) -> bool:
        """Whether every point has the same uncertainty."""
        return bool(len(self) == 0 or np.all(self.sigma_mm == self.sigma_mm[0]))

    @property
    def homogeneous(self) -> np.ndarray:
        """Coordinates with a trailing 1, shape (N, 4)."""
        return np.c_[self.coordinates, np.ones(len(self))]

    def transform(self, affine, space: str | Space | None = None) -> PointCloud:
        """The cloud mapped by a 4x4 ``affine``, in ``space`` (None: unknown); sigma and labels kept."""
        return PointCloud(apply_affine(affine, self.coordinates), space, self.sigma_mm, self._labels)

    def intersection(self, other) -> PointCloud | None:
        """The points lying in ``other`` (Point, PointCloud, BoundingBox or Volume), or None if none do."""
        if isinstance(other, Point):
            other = other.as_pointcloud()
        if isinstance(other, PointCloud):
            check_compatible(other.space, self.space)
            keep = np.array(
                [bool(np.all(np.isclose(other.coordinates, c), axis=1).any()) for c in self.coordinates], bool
            ).reshape(-1)
            return self.subset(keep) if keep.any() else None
        return other.intersection(self)

    def warp(self, space: str | Space, strict: bool = False) -> PointCloud:
        """This cloud in ``space`` (identity within the MNI152 family)."""
        target = resolve_space(space)
        check_compatible(self.space, target, strict=strict)
        return PointCloud(self.coordinates, target, self.sigma_mm, self._labels)

    def __repr__(self) -> str:
        sp = self.space.shortname if self.space else "no space"
        return f"<PointCloud of {len(self)} points in {sp}>"


class BoundingBox:
    """An axis-aligned box between two corners in mm.

    Parameters
    ----------
    min_mm, max_mm : sequence of 3 float, Point or str
        Corners in mm (reordered per axis if needed); strings as for ``Point.parse``.
    space : str or Space, optional
        Reference space.
    """

    def __init__(self, min_mm, max_mm, space: str | Space | None = None) -> None:
        if space is None:
            space = getattr(min_mm, "space", None) or getattr(max_mm, "space", None)
        a = np.asarray(_corner(min_mm), dtype=float).reshape(-1)
        b = np.asarray(_corner(max_mm), dtype=float).reshape(-1)
        if a.shape != (3,) or b.shape != (3,) or not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise InvalidInputError("BoundingBox corners must be two finite (x, y, z) triples in mm.")
        self.minpoint = np.minimum(a, b)
        self.maxpoint = np.maximum(a, b)
        self.space = resolve_space(space)

    @property
    def shape_mm(self) -> np.ndarray:
        """Edge lengths in mm, shape (3,)."""
        return self.maxpoint - self.minpoint

    @property
    def volume_mm3(self) -> float:
        """Volume in mm³."""
        return float(np.prod(self.shape_mm))

    # ------------------------------------------------------ siibra geometry
    @property
    def center(self) -> Point:
        """The midpoint, a Point in mm."""
        return Point((self.minpoint + self.maxpoint) / 2, self.space)

    @property
    def shape(self) -> tuple[float, float, float]:
        """Edge lengths (x, y, z) in mm."""
        return tuple(float(v) for v in self.shape_mm)

    @property
    def volume(self) -> float:
        """Volume in mm³ (siibra's name for ``volume_mm3``)."""
        return self.volume_mm3

    @property
    def is_planar(self) -> bool:
        """Whether one edge has length 0."""
        return bool((self.shape_mm == 0).any())

    @property
    def corners(self) -> PointCloud:
        """The 8 corners in mm (x slowest, z fastest)."""
        return PointCloud(box_corners(self.minpoint, self.maxpoint), self.space)

    def __iter__(self):
        """The two corners, minimum then maximum, as Points."""
        yield Point(self.minpoint, self.space)
        yield Point(self.maxpoint, self.space)

    def clip(self, xyzmax, xyzmin=(0.0, 0.0, 0.0)) -> BoundingBox | None:
        """This box cut to the box between ``xyzmin`` and ``xyzmax`` (mm), or None if they do not overlap."""
        return self.intersection(BoundingBox(_corner(xyzmin), _corner(xyzmax), self.space))

    def transform(self, affine, space: str | Space | None = None) -> BoundingBox:
        """The box enclosing the 8 corners mapped by a 4x4 ``affine``, in ``space`` (None: unknown)."""
        mm = apply_affine(affine, box_corners(self.minpoint, self.maxpoint))
        return BoundingBox(mm.min(0), mm.max(0), space)

    def shift(self, offset) -> BoundingBox:
        """The box moved by ``offset`` (three mm values, or one for every axis)."""
        d = np.broadcast_to(np.asarray(_corner(offset) if not np.isscalar(offset) else offset, float), (3,))
        return BoundingBox(self.minpoint + d, self.maxpoint + d, self.space)

    def zoom(self, ratio: float) -> BoundingBox:
        """The box scaled by ``ratio`` about its centre (2 doubles every edge)."""
        r = float(ratio)
        if not np.isfinite(r) or r <= 0:
            raise InvalidInputError(f"zoom ratio must be a finite number > 0, got {ratio!r}.")
        c = (self.minpoint + self.maxpoint) / 2
        half = self.shape_mm / 2 * r
        return BoundingBox(c - half, c + half, self.space)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BoundingBox):
            return NotImplemented
        return (
            bool(np.allclose(self.minpoint, other.minpoint) and np.allclose(self.maxpoint, other.maxpoint))
            and self.space == other.space
        )

    __hash__ = None  # type: ignore[assignment]

    def contains(self, coords) -> np.ndarray:
        """Boolean array: which of the (N, 3) mm coordinates lie inside (borders included)."""
        c = np.atleast_2d(np.asarray(coords, dtype=float))
        return np.all((c >= self.minpoint) & (c <= self.maxpoint), axis=1)

    def intersection(self, other):
        """What of ``other`` lies in this box, or None.

        A box gives the overlap box, a Point itself (if inside), a PointCloud the points inside,
        a Volume its voxels inside this box (``Volume.intersection``).
        """
        if isinstance(other, Point):
            check_compatible(other.space, self.space)
            return other if bool(self.contains(other.coordinates)[0]) else None
        if isinstance(other, PointCloud):
            check_compatible(other.space, self.space)
            keep = self.contains(other.coordinates)
            return other.subset(keep) if keep.any() else None
        if not isinstance(other, BoundingBox):
            return other.intersection(self)
        lo = np.maximum(self.minpoint, other.minpoint)
        hi = np.minimum(self.maxpoint, other.maxpoint)
        if (lo > hi).any():
            return None
        return BoundingBox(lo, hi, self.space)

    def intersects(self, other: BoundingBox) -> bool:
        """Whether the boxes overlap."""
        return self.intersection(other) is not None

    @classmethod
    def from_image(cls, shape, affine, space=None, mask=None) -> BoundingBox:
        """The mm box of a voxel grid (or of the non-zero voxels of ``mask``)."""
        if mask is not None:
            idx = np.argwhere(mask)
            if len(idx) == 0:
                raise InvalidInputError("Cannot take the bounding box of an empty mask.")
            lo, hi = idx.min(0), idx.max(0)
        else:
            lo, hi = np.zeros(3), np.asarray(shape[:3]) - 1
        return cls(*transform_box(lo, hi, affine), space)

    def __repr__(self) -> str:
        lo = ", ".join(f"{v:.1f}" for v in self.minpoint)
        hi = ", ".join(f"{v:.1f}" for v in self.maxpoint)
        sp = self.space.shortname if self.space else "no space"
        return f"<BoundingBox ({lo}) - ({hi}) mm in {sp}>"


def _corner(value) -> tuple[float, float, float] | np.ndarray:
    """A corner given as a Point, a string or three numbers, as mm values."""
    if isinstance(value, Point):
        return value.coordinate
    if isinstance(value, str) or (isinstance(value, (tuple, list)) and any(isinstance(v, str) for v in value)):
        return parse_coordinate(value)
    return value

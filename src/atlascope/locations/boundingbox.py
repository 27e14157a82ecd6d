"""Axis-aligned boxes in mm."""

from __future__ import annotations

import numpy as np

from ..core.space import Space
from ..errors import InvalidInputError
from .point import Point, PointCloud, apply_affine, parse_coordinate
from .spaces import check_compatible, resolve_space

__all__ = ["BoundingBox"]


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
        lo, hi = self.minpoint, self.maxpoint
        pts = [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
        return PointCloud(pts, self.space)

    def __iter__(self):
        """The two corners, minimum then maximum, as Points."""
        yield Point(self.minpoint, self.space)
        yield Point(self.maxpoint, self.space)

    def clip(self, xyzmax, xyzmin=(0.0, 0.0, 0.0)) -> BoundingBox | None:
        """This box cut to the box between ``xyzmin`` and ``xyzmax`` (mm), or None if they do not overlap."""
        return self.intersection(BoundingBox(_corner(xyzmin), _corner(xyzmax), self.space))

    def transform(self, affine, space: str | Space | None = None) -> BoundingBox:
        """The box enclosing the 8 corners mapped by a 4x4 ``affine``, in ``space`` (None: unknown)."""
        mm = apply_affine(affine, self.corners.coordinates)
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
        corners = np.array(
            [[x, y, z, 1.0] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
        )
        mm = (np.asarray(affine) @ corners.T).T[:, :3]
        return cls(mm.min(0), mm.max(0), space)

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

"""Axis-aligned boxes in mm."""

from __future__ import annotations

import numpy as np

from ..core.space import Space
from ..errors import InvalidInputError
from .spaces import resolve_space

__all__ = ["BoundingBox"]


class BoundingBox:
    """An axis-aligned box between two corners in mm.

    Parameters
    ----------
    min_mm, max_mm : sequence of 3 float
        Corners in mm (reordered per axis if needed).
    space : str or Space, optional
        Reference space.
    """

    def __init__(self, min_mm, max_mm, space: str | Space | None = None) -> None:
        a = np.asarray(min_mm, dtype=float).reshape(-1)
        b = np.asarray(max_mm, dtype=float).reshape(-1)
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

    def contains(self, coords) -> np.ndarray:
        """Boolean array: which of the (N, 3) mm coordinates lie inside (borders included)."""
        c = np.atleast_2d(np.asarray(coords, dtype=float))
        return np.all((c >= self.minpoint) & (c <= self.maxpoint), axis=1)

    def intersection(self, other: BoundingBox) -> BoundingBox | None:
        """The overlap of two boxes, or None."""
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

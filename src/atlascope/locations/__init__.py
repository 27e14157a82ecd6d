"""Locations in reference spaces: points, point clouds, boxes, and how spaces relate."""

from .point import BoundingBox, Point, PointCloud
from .spaces import check_compatible, resolve_space

__all__ = ["Point", "PointCloud", "BoundingBox", "check_compatible", "resolve_space"]

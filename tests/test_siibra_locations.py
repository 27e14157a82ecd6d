"""siibra-python's location helpers (Point, PointCloud, BoundingBox), written from siibra's documented meaning."""

from __future__ import annotations

import numpy as np
import pytest

import atlascope as siibra
from atlascope.errors import InvalidInputError

MNI = "mni152"


def test_point_parse_strings_and_tuples():
    assert siibra.Point.parse("12.5mm, -3mm, 7mm") == (12.5, -3.0, 7.0)
    assert siibra.Point.parse(("1mm", "-2.5 mm", 3)) == (1.0, -2.5, 3.0)
    assert siibra.Point.parse("(1, 2, 3)") == (1.0, 2.0, 3.0)
    assert siibra.Point("12.5mm, -3mm, 7mm", space=MNI).coordinate == (12.5, -3.0, 7.0)
    with pytest.raises(InvalidInputError, match="mm"):
        siibra.Point.parse("1cm, 2cm, 3cm")
    with pytest.raises(InvalidInputError, match="three values"):
        siibra.Point.parse("1mm, 2mm")
    with pytest.raises(InvalidInputError, match="mm only"):
        siibra.Point.parse((1, 2, 3), unit="cm")


def test_point_arithmetic_homogeneous_sigma():
    p = siibra.Point((1, 2, 3), space=MNI, sigma_mm=2)
    q = siibra.Point((10, 20, 30), space=MNI)
    assert (p + q).coordinate == (11, 22, 33)
    assert (q - p).coordinate == (9, 18, 27)
    assert (p * 2).coordinate == (2, 4, 6) and (2 * p).coordinate == (2, 4, 6)
    assert (q / 10).coordinate == (1, 2, 3)
    assert (p + 1).coordinate == (2, 3, 4)
    assert (p + 1).space is p.space and (p + 1).sigma == 2
    assert p.sigma == 2.0
    np.testing.assert_array_equal(p.homogeneous, [[1, 2, 3, 1]])
    with pytest.raises(InvalidInputError, match="zero"):
        p / 0
    with pytest.raises(InvalidInputError, match="Cannot add"):
        p + "north"


def test_point_and_cloud_transform():
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    affine[:3, 3] = [1, 1, 1]
    p = siibra.Point((1, 1, 1), space=MNI)
    t = p.transform(affine)
    assert t.coordinate == (3, 4, 5) and t.space is None
    assert p.transform(np.eye(4), space=MNI).space is siibra.get_space(MNI)
    back = t.transform(np.linalg.inv(affine), space=MNI)
    np.testing.assert_allclose(back.coordinate, p.coordinate)
    pc = siibra.PointCloud([(0, 0, 0), (1, 1, 1)], space=MNI, sigma_mm=[1, 2])
    np.testing.assert_allclose(pc.transform(affine).coordinates, [(1, 1, 1), (3, 4, 5)])
    assert pc.transform(affine).sigma == [1.0, 2.0]
    with pytest.raises(InvalidInputError, match="4x4"):
        p.transform(np.eye(3))


def test_pointcloud_sigma_and_intersection():
    pc = siibra.PointCloud([(0, 0, 0), (5, 5, 5), (50, 50, 50)], space=MNI, sigma_mm=1)
    assert pc.has_constant_sigma
    assert not siibra.PointCloud([(0, 0, 0), (1, 1, 1)], space=MNI, sigma_mm=[1, 2]).has_constant_sigma
    box = siibra.BoundingBox((-1, -1, -1), (10, 10, 10), MNI)
    inside = pc.intersection(box)
    assert inside.as_list() == [(0, 0, 0), (5, 5, 5)]
    assert box.intersection(pc).as_list() == inside.as_list()
    assert pc.intersection(siibra.BoundingBox((100, 100, 100), (101, 101, 101), MNI)) is None
    assert pc.intersection(siibra.Point((5, 5, 5), MNI)).as_list() == [(5, 5, 5)]
    p = siibra.Point((5, 5, 5), MNI)
    assert p.intersection(box) is p and p.intersection(pc) is p
    assert siibra.Point((20, 0, 0), MNI).intersection(box) is None


def test_boundingbox_geometry():
    box = siibra.BoundingBox((0, 0, 0), (10, 20, 30), MNI)
    assert box.center.coordinate == (5, 10, 15)
    assert box.shape == (10, 20, 30)
    assert box.volume == 6000
    assert len(box.corners) == 8
    assert {tuple(c) for c in box.corners.as_list()} >= {(0, 0, 0), (10, 20, 30), (0, 20, 0)}
    lo, hi = box
    assert lo.coordinate == (0, 0, 0) and hi.coordinate == (10, 20, 30)
    assert box.shift((1, 2, 3)) == siibra.BoundingBox((1, 2, 3), (11, 22, 33), MNI)
    z = box.zoom(2)
    assert z.shape == (20, 40, 60) and z.center.coordinate == box.center.coordinate
    assert box.clip((5, 5, 5)) == siibra.BoundingBox((0, 0, 0), (5, 5, 5), MNI)
    assert box.clip((-1, -1, -1), (-5, -5, -5)) is None
    flip = np.diag([-1.0, 1.0, 1.0, 1.0])
    assert box.transform(flip) == siibra.BoundingBox((-10, 0, 0), (0, 20, 30))
    assert siibra.BoundingBox("0mm, 0mm, 0mm", siibra.Point((1, 1, 1), MNI)).space is siibra.get_space(MNI)
    with pytest.raises(InvalidInputError, match="zoom"):
        box.zoom(0)


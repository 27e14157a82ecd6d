"""Region trees, region lookup, ambiguity and not-found errors, aliases of the offline
pack, and parent regions fetched as the union (max) of their children."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

import atlascope
from atlascope import maps
from atlascope.core.parcellation import Parcellation
from atlascope.core.region import Region
from atlascope.core.tree import regions_from_names
from atlascope.errors import AmbiguousNameError, NotFoundError


def _toy_parcellation() -> Parcellation:
    names = [
        "Area hOc1 (V1, 17, CalcS) - left hemisphere",
        "Area hOc1 (V1, 17, CalcS) - right hemisphere",
        "Area hOc2 (V2, 18) left",
        "Area hOc2 (V2, 18) right",
        "Area 44 (IFG) left",
        "Area 44 (IFG) right",
        "Area 45 (IFG) left",
    ]
    top = regions_from_names(names, aliases={"Area 44 (IFG)": ["Broca BA44"]})
    return Parcellation("toy/parc", "Toy cytoarchitectonic atlas", "Toy", top, version="1.0")


def test_tree_has_areas_with_hemisphere_children():
    p = _toy_parcellation()
    hoc1 = p.get_region("hOc1")
    assert hoc1.name == "Area hOc1 (V1, 17, CalcS)"
    assert sorted(c.name for c in hoc1.children) == [
        "Area hOc1 (V1, 17, CalcS) left",
        "Area hOc1 (V1, 17, CalcS) right",
    ]
    left = p.get_region("hOc1 left")
    assert left.parent is hoc1 and left.hemisphere == "left" and left.is_leaf
    assert left.parcellation is p
    assert hoc1.hemisphere is None
    assert set(p.leaves) == {r for r in p.regions if not r.children}
    assert len(p.leaves) == 7


@pytest.mark.parametrize(
    "spec",
    [
        "hOc1 left",
        "HOC1   LEFT",
        "(V1) left",
        "v1 17 left",
        "Area hOc1 (V1, 17, CalcS) - left hemisphere",
        "Area hOc1 (V1, 17, CalcS) left",
        "/hOc1.*left/",
    ],
)
def test_region_lookup_variants_find_the_same_region(spec):
    p = _toy_parcellation()
    assert p.get_region(spec).name == "Area hOc1 (V1, 17, CalcS) left"


def test_key_and_region_object_lookup():
    p = _toy_parcellation()
    r = p.get_region("hOc2 right")
    assert p.get_region(r.key) is r
    assert p.get_region(r) is r


def test_alias_finds_area_and_its_hemispheres():
    p = _toy_parcellation()
    assert p.get_region("Broca BA44").name == "Area 44 (IFG)"
    assert p.get_region("Broca BA44 right").name == "Area 44 (IFG) right"


def test_ambiguous_lookup_lists_the_matches():
    p = _toy_parcellation()
    with pytest.raises(AmbiguousNameError) as ei:
        p.get_region("IFG left")  # Area 44 left and Area 45 left
    msg = str(ei.value)
    assert "Area 44 (IFG) left" in msg and "Area 45 (IFG) left" in msg
    with pytest.raises(AmbiguousNameError) as ei:
        p.get_region("left")
    assert "hOc1" in str(ei.value) and "hOc2" in str(ei.value)


def test_not_found_suggests_close_names():
    p = _toy_parcellation()
    with pytest.raises(NotFoundError) as ei:
        p.get_region("hOc3 left")
    msg = str(ei.value)
    assert "hOc3 left" in msg
    assert "Did you mean" in msg and "left" in msg
    with pytest.raises(NotFoundError) as ei:
        p.get_region("Area 46 (IFG)")
    assert "Area 44 (IFG)" in str(ei.value) or "Area 45 (IFG)" in str(ei.value)


def test_region_name_suffix_is_stored_normalised():
    r = Region("Area 3b (PostCG) - right hemisphere")
    assert r.name == "Area 3b (PostCG) right"
    assert r.hemisphere == "right"


# --------------------------------------------------------------------------- offline pack aliases
@pytest.mark.parametrize(
    "spec",
    ["hOc1 left", "V1 left", "GM Visual cortex V1 BA17 left", "Area hOc1 left", "visual cortex v1 ba17 left"],
)
def test_offline_julich_aliases_find_v1_left(spec):
    expected = atlascope.get_parcellation("julich fsl").get_region("GM Visual cortex V1 BA17 left")
    r = atlascope.get_region("julich fsl", spec)
    assert r is expected
    assert r.hemisphere == "left"


@pytest.mark.parametrize(
    "spec", ["Area 44 left", "BA44 left", "Area 44 (IFG) left", "Broca's area BA44 left"]
)
def test_offline_julich_area44_left(spec):
    r = atlascope.get_region("julich fsl", spec)
    assert r.name == "GM Broca's area BA44 left"


def test_offline_region_not_found_in_julich():
    with pytest.raises(NotFoundError) as ei:
        atlascope.get_region("julich fsl", "hOc9 left")
    assert "Did you mean" in str(ei.value)


# --------------------------------------------------------------------------- parent = union of children
def _three_region_map(tmp_path):
    shape = (12, 10, 8)
    aff = np.diag([2.0, 2.0, 2.0, 1.0])
    aff[:3, 3] = [-12, -10, -8]
    rng = np.random.default_rng(3)
    a = np.zeros(shape, np.float32)
    a[1:6, 2:8, 1:6] = rng.uniform(0.1, 1.0, (5, 6, 5))
    b = np.zeros(shape, np.float32)
    b[4:10, 1:7, 3:7] = rng.uniform(0.1, 1.0, (6, 6, 4))
    c = np.zeros(shape, np.float32)
    c[8:11, 6:9, 0:3] = 0.5
    imgs = [nib.Nifti1Image(x, aff) for x in (a, b, c)]
    m = maps.from_nifti(imgs, ["Area X left", "Area X right", "Area Y left"], "mni152", name="toy union map")
    return m, (a, b, c), aff


def test_parent_fetch_is_max_of_children_statistical(tmp_path):
    m, (a, b, c), aff = _three_region_map(tmp_path)
    img = m.fetch(region="Area X")
    np.testing.assert_allclose(np.asanyarray(img.dataobj), np.maximum(a, b), rtol=1e-6)
    np.testing.assert_allclose(img.affine, aff)
    left = np.asanyarray(m.fetch(region="Area X left").dataobj)
    np.testing.assert_allclose(left, a, rtol=1e-6)
    # a parent with one child is that child
    np.testing.assert_allclose(np.asanyarray(m.fetch(region="Area Y").dataobj), c, rtol=1e-6)


def test_parent_fetch_is_union_of_children_labelled():
    shape = (10, 10, 10)
    lab = np.zeros(shape, np.int16)
    lab[1:4, 1:4, 1:4] = 3
    lab[6:9, 6:9, 6:9] = 7
    lab[1:3, 7:9, 1:3] = 9
    m = maps.from_nifti(
        nib.Nifti1Image(lab, np.eye(4)),
        {3: "Z left", 7: "Z right", 9: "W left"},
        "mni152",
        maptype="labelled",
        name="toy labelled union",
    )
    z = np.asanyarray(m.fetch(region="Z").dataobj)
    np.testing.assert_array_equal(z > 0, np.isin(lab, [3, 7]))
    zl = np.asanyarray(m.fetch(region="Z left").dataobj)
    np.testing.assert_array_equal(zl > 0, lab == 3)


def test_statistical_fetch_without_region_is_an_error(tmp_path):
    m, _, _ = _three_region_map(tmp_path)
    with pytest.raises(atlascope.errors.InvalidInputError, match="region"):
        m.fetch()


def test_offline_parent_fetch_v1_is_max_of_hemispheres():
    pm = atlascope.get_map("julich fsl", "mni152", "statistical")
    both = np.asanyarray(pm.fetch(region="GM Visual cortex V1 BA17").dataobj)
    left = np.asanyarray(pm.fetch(region="V1 left").dataobj)
    right = np.asanyarray(pm.fetch(region="V1 right").dataobj)
    np.testing.assert_allclose(both, np.maximum(left, right))
    assert left.max() <= 1.0 and left.max() > 0.5  # probabilities (stored as percent, scaled by 0.01)
    # the region image equals the corresponding volume of the source 4D file, times 0.01
    src = pm.volumes[0].provider.local_path()
    z = [n for n, _ in pm.columns].index("GM Visual cortex V1 BA17 left")
    raw = np.asanyarray(nib.load(src).dataobj[..., z]).astype(np.float32) * np.float32(0.01)
    np.testing.assert_allclose(left, raw, rtol=1e-6)

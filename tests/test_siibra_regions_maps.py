"""siibra-python's object tables, region and map helpers, on the offline pack (siibra's documented meaning)."""

from __future__ import annotations

import pytest

import atlascope as siibra
from atlascope.errors import NotFoundError


# ------------------------------------------------------------------ tables
def test_tables_index_iterate_and_call():
    mni = siibra.spaces["mni152"]
    assert mni is siibra.get_space("mni152")
    assert siibra.parcellations["julich"] is siibra.get_parcellation("julich")
    assert list(siibra.spaces) == siibra.spaces()  # callable for backwards compatibility
    assert siibra.spaces[0] is siibra.spaces()[0]
    assert getattr(siibra.spaces, mni.name.upper().replace(" ", "_")) is mni
    assert "mni152" in siibra.spaces and "no such space" not in siibra.spaces
    assert len(siibra.maps) == len(siibra.list_maps()) > 0
    assert all(isinstance(m, siibra.Map) for m in siibra.maps)
    assert siibra.maps.from_nifti is not None  # still the atlascope.maps subpackage
    with pytest.raises(NotFoundError, match="out of range"):
        siibra.spaces[99]


def test_maptype_enum_selects_maps():
    stat = siibra.get_map("julich fsl", "mni152", maptype=siibra.MapType.STATISTICAL)
    lab = siibra.get_map("julich fsl", "mni152", maptype=siibra.MapType.LABELLED)
    assert stat.maptype == "statistical" and lab.maptype == "labelled"


def test_find_regions_parents_only():
    found = siibra.find_regions("hOc1")
    assert found and all(r.matches("hOc1") for r in found)
    assert not any(a in found for r in found for a in r.ancestors)
    every = siibra.find_regions("hOc1", parents_only=False)
    assert len(every) > len(found)

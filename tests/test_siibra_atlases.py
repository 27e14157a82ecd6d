"""``siibra.atlases`` and ``Atlas`` with siibra's documented meaning (issue 12).

siibra: ``siibra.atlases`` is an instance table of atlases (``atlases["human"]``, ``.get``, attribute
keys, iteration); an atlas has a name, an id, a species, tables of its spaces and parcellations, and
``get_space`` / ``get_parcellation`` / ``get_region`` / ``get_map`` / ``find_regions``, where a missing
space or parcellation means the atlas's default (its first). Tested on the offline pack (one human
atlas of the offline spaces and parcellations, default parcellation "julich fsl") and on the
fixture siibra-configurations catalogue (five atlases; the human one merges into the offline one
and brings siibra's defaults).
"""

from __future__ import annotations

import json

import pytest

import atlascope as siibra
from atlascope.configuration.builtin import HUMAN_ATLAS_ID, load_builtin
from atlascope.configuration.siibra_json import TYPE_ATLAS
from atlascope.configuration.sources import FolderSource, load_source
from atlascope.core.atlas import Atlas
from atlascope.core.registry import Registry
from atlascope.core.space import Space
from atlascope.errors import NotFoundError
from shared_data import shared_path

ICBM_2009C = "MNI 152 ICBM 2009c Nonlinear Asymmetric"


@pytest.fixture(scope="module")
def offline() -> Registry:
    """A registry with only the offline pack."""
    reg = Registry()
    reg.add_loader("builtin", load_builtin)
    return reg


@pytest.fixture(scope="module")
def catalogue_folder():
    return shared_path("siibra-configurations")


@pytest.fixture(scope="module")
def with_catalogue(catalogue_folder) -> Registry:
    """The offline pack, then the fixture catalogue (as ``use_configuration`` orders them)."""
    reg = Registry()
    reg.add_loader("builtin", load_builtin)
    reg.add_loader("catalogue", lambda r: load_source(FolderSource(catalogue_folder), r))
    return reg


# ----------------------------------------------------------------- siibra.atlases
def test_atlases_table_of_the_package():
    human = siibra.atlases["human"]
    assert isinstance(human, siibra.Atlas)
    assert siibra.atlases.get("human") is human
    assert siibra.atlases.MULTILEVEL_HUMAN_ATLAS is human
    assert siibra.atlases["homo sapiens"] is human
    assert human in list(siibra.atlases) and human in siibra.atlases()
    assert "human" in siibra.atlases and "no such atlas" not in siibra.atlases
    assert "MULTILEVEL_HUMAN_ATLAS" in siibra.atlases.keys
    assert "atlases" in siibra.__all__ and "Atlas" in siibra.__all__
    with pytest.raises(NotFoundError, match="Known atlases: 'Multilevel Human Atlas'"):
        siibra.atlases["zebrafish"]


def test_offline_human_atlas(offline):
    (atlas,) = offline.atlases
    assert offline.get_atlas("human") is atlas
    assert atlas.id == HUMAN_ATLAS_ID and atlas.name == "Multilevel Human Atlas"
    assert atlas.species == "Homo sapiens" and atlas.key == "MULTILEVEL_HUMAN_ATLAS"
    assert list(atlas.spaces) == offline.spaces  # every offline space, the default first
    assert list(atlas.parcellations) == offline.parcellations
    assert repr(atlas) == "<Atlas 'Multilevel Human Atlas': 4 spaces, 10 parcellations>"


def test_offline_defaults(offline):
    atlas = offline.get_atlas("human")
    assert atlas.get_parcellation() is offline.get_parcellation("julich fsl")  # workflow.DEFAULT_MAP
    assert atlas.get_space().name == ICBM_2009C  # siibra's default human space
    assert atlas.get_template() is atlas.get_space().get_template()
    # get_map without a space: the first atlas space where the parcellation has that map
    assert atlas.get_map() is offline.get_map("julich fsl", "mni152")
    assert atlas.get_map(maptype=siibra.MapType.STATISTICAL) is offline.get_map(
        "julich fsl", "mni152", maptype="statistical"
    )
    assert atlas.get_map(parcellation="harvard").parcellation is offline.get_parcellation("harvard")
    with pytest.raises(NotFoundError, match="No labelled map"):
        atlas.get_map(space="icbm 2009c")  # a named space without the map fails, as in siibra


def test_offline_spaces_and_parcellations_tables(offline):
    atlas = offline.get_atlas("human")
    assert atlas.spaces["mni152"] is offline.get_space("mni152")
    assert atlas.spaces.get("colin27").name == "MNI Colin 27"
    assert atlas.get_space("fsl") is offline.get_space("MNI152 FSL")
    assert atlas.get_space(atlas.spaces[1]) is atlas.spaces[1]
    assert atlas.parcellations["julich"] is offline.get_parcellation("julich fsl")
    assert atlas.get_parcellation("aal") is offline.get_parcellation("aal")
    with pytest.raises(NotFoundError, match="Its spaces: "):
        atlas.get_space("bigbrain")
    with pytest.raises(NotFoundError, match="not a space of atlas"):
        atlas.get_space(Space("x/space", "Elsewhere"))
    with pytest.raises(NotFoundError, match="Its parcellations: "):
        atlas.get_parcellation("difumo")


def test_offline_regions(offline):
    atlas = offline.get_atlas("human")
    assert atlas.get_region("v1 left") is offline.get_region("julich fsl", "v1 left")
    assert atlas.get_region("amygdala left", parcellation="harvard") is offline.get_region(
        "harvard", "amygdala left"
    )
    found = atlas.find_regions("hOc1")  # the area, not also its hemispheres (filter_children)
    assert [r.name for r in found] == ["GM Visual cortex V1 BA17"]
    children = atlas.find_regions("hOc1", filter_children=False)
    assert {r.name for r in children} == {
        "GM Visual cortex V1 BA17",
        "GM Visual cortex V1 BA17 left",
        "GM Visual cortex V1 BA17 right",
    }
    # find_topmost: a parent whose children all match stands for them although it does not match
    left = atlas.find_regions("BA17 left", filter_children=False)
    assert [r.name for r in left] == ["GM Visual cortex V1 BA17 left"]
    both = atlas.find_regions("/BA17 (left|right)/", find_topmost=True)
    assert [r.name for r in both] == ["GM Visual cortex V1 BA17"]


# -------------------------------------------------------------------- catalogue
def test_catalogue_atlases(with_catalogue):
    atlases = with_catalogue.atlases
    assert [a.species for a in atlases] == [
        "Homo sapiens",
        "Callithrix jacchus",
        "Macaca fascicularis",
        "Mus musculus",
        "Rattus norvegicus",
    ]
    human = with_catalogue.get_atlas("human")
    assert human.id == HUMAN_ATLAS_ID  # the catalogue's human atlas merged into the offline one
    assert with_catalogue.get_atlas("rat").name == "Waxholm Space atlas of the Sprague Dawley rat brain"
    assert with_catalogue.get_atlas("macaca").name == "Monkey Atlas"
    mouse = with_catalogue.get_atlas("mouse")
    assert [p.shortname for p in mouse.parcellations] and human.spaces[0] not in list(mouse.spaces)
    with pytest.raises(NotFoundError, match="not a parcellation of atlas"):
        mouse.get_parcellation(human.get_parcellation())


def test_catalogue_human_atlas_defaults_and_lookups(with_catalogue):
    human = with_catalogue.get_atlas("human")
    julich31 = human.get_parcellation()
    assert julich31.name == "Julich-Brain Cytoarchitectonic Atlas (v3.1)"  # siibra's default
    assert human.get_space().name == ICBM_2009C
    assert human.spaces.get("icbm 2009c asym").name == ICBM_2009C
    assert human.parcellations["julich"] is julich31  # newest version of the family
    assert human.parcellations["julich 2.9"].name == "Julich-Brain Cytoarchitectonic Atlas (v2.9)"
    assert human.get_parcellation("julich fsl").id == "atlascope/parcellation/julich"  # offline kept
    v1 = human.get_region("v1 left", parcellation="julich 2.9")
    assert "hOc1" in v1.name and v1.parcellation.name.endswith("(v2.9)")
    m = human.get_map(parcellation="julich 2.9", space="colin")
    assert m.maptype == "labelled" and m.space.name == "MNI Colin 27"
    assert human.get_map().parcellation is julich31


def test_catalogue_find_regions_newest_versions(with_catalogue):
    human = with_catalogue.get_atlas("human")
    newest = {r.parcellation.shortname for r in human.find_regions("hOc1")}
    assert newest == {"Julich-Brain v3.1", "Julich-Brain FSL histological"}  # no @next
    every = {r.parcellation.shortname for r in human.find_regions("hOc1", all_versions=True)}
    assert {"Julich-Brain v3.0.3", "Julich-Brain v2.9", "Julich-Brain v1.18"} <= every


def test_catalogue_alone_loads_atlases_before_their_spaces(catalogue_folder):
    reg = Registry()
    report = load_source(FolderSource(catalogue_folder), reg)
    assert report.built[TYPE_ATLAS] == 5
    human = reg.get_atlas("human")
    assert human.get_space().name == ICBM_2009C  # atlases/ loads before spaces/: found by id later
    assert [s.name for s in human.spaces][:2] == [ICBM_2009C, "MNI Colin 27"]


def test_malformed_atlas_is_reported(tmp_path):
    (tmp_path / "atlases").mkdir()
    entry = {"@id": "x/atlas", "@type": TYPE_ATLAS, "name": "X", "spaces": "not a list"}
    (tmp_path / "atlases" / "x.json").write_text(json.dumps(entry))
    reg = Registry()
    report = load_source(FolderSource(tmp_path), reg)
    assert report.failed and "must be a list of ids" in report.failed[0][2]
    assert reg.atlases == []


# ----------------------------------------------------------------- the class
def test_atlas_merge_and_detached_atlas():
    reg = Registry()
    first = reg.add_atlas(Atlas("a/1", "Some Atlas", "homo  sapiens", ["s1", "s2"], ["p1"]))
    assert first.registry is reg and first.species == "Homo sapiens"
    again = reg.add_atlas(Atlas("a/1", "Some Atlas", "homo sapiens", ["s3", "s1"], ["p2", "p1"]))
    assert again is first and reg.atlases == [first]
    assert first.space_ids == ["s3", "s1", "s2"] and first.parcellation_ids == ["p2", "p1"]
    detached = Atlas("a/2", "Detached")
    assert list(detached.spaces) == [] and list(detached.parcellations) == []
    with pytest.raises(NotFoundError, match="has no space"):
        detached.get_space()
    with pytest.raises(NotFoundError, match="in no registry"):
        detached.get_space("mni152")
    assert Atlas("a/1", "other name") == first and len({first, Atlas("a/1", "")}) == 1

"""Loading the real siibra-configurations catalogue (../shared) into a registry: counts, laziness,
name resolution across sources, malformed files, zip and folder sources."""

from __future__ import annotations

import json
import shutil
import time
import zipfile

import pytest

from atlascope.configuration.builtin import SPACE_IDS, load_builtin
from atlascope.configuration.sources import FolderSource, ZipSource, load_source, source_from_spec
from atlascope.core.registry import Registry
from atlascope.errors import InvalidInputError, NotFoundError
from shared_data import shared_path

JBA303 = "minds/core/parcellationatlas/v1.0.0/94c1125b-b87e-45e4-901c-00daee7f2579-300"


@pytest.fixture(scope="module")
def catalogue():
    return shared_path("siibra-configurations")


@pytest.fixture(scope="module")
def loaded(catalogue):
    """A fresh registry with the offline pack and the whole catalogue; image reads forbidden."""
    import nibabel

    import atlascope.retrieval as retrieval

    def forbidden(*a, **k):
        raise AssertionError("loading the configuration must not fetch or decode images")

    mp = pytest.MonkeyPatch()
    mp.setattr(retrieval, "fetch", forbidden)
    mp.setattr(nibabel, "load", forbidden)
    reg = Registry()
    try:
        load_builtin(reg)
        t0 = time.perf_counter()
        report = load_source(FolderSource(catalogue), reg)
        seconds = time.perf_counter() - t0
    finally:
        mp.undo()
    reg.ensure_loaded()
    return reg, report, seconds


def test_every_entry_type_loads(loaded):
    reg, report, seconds = loaded
    print(report)
    assert not report.failed
    assert report.built["siibra/space/v0.0.1"] == 10
    assert report.built["siibra/parcellation/v0.0.1"] == 29
    assert report.built["juelich/iav/atlas/v1.0.0"] == 5
    # 5 surface-only maps (gii-label) are known but not volumetric
    assert report.built["siibra/map/v0.0.1"] == 58
    assert report.unsupported["siibra/map/v0.0.1"] == 5
    assert report.total == 637
    assert seconds < 5.0  # ~0.4 s on 2 cores; generous for loaded CI machines


def test_names_resolve_across_sources(loaded):
    reg, _, _ = loaded
    m = reg.get_map(parcellation="julich 3.0.3", space="mni152", maptype="statistical")
    assert m.parcellation.id == JBA303
    assert m.space.id == SPACE_IDS["mni152_2009c"]
    assert m.space.has_template  # merged with the offline pack's 2009c space
    assert len(m) == 314 and len(m.volumes) == 314
    d = reg.get_map("difumo 64", "mni152", "statistical")
    assert len(d) == 64 and len(d.volumes) == 1
    assert sorted(e.z for es in d.indices.values() for e in es) == list(range(64))
    assert str(d.parcellation.get_region("31")) == "Component 31: Calcarine sulcus anterior"
    assert reg.get_space("mni152").id == SPACE_IDS["mni152_2009c"]
    assert reg.get_space("bigbrain").shortname == "BigBrain"
    assert reg.get_space("colin27").family == "colin27"
    # newest version wins; the offline pack's FSL atlas stays reachable
    assert reg.get_parcellation("julich").version == "3.1.0"
    assert reg.get_parcellation("julich 2.9").version == "2.9"
    assert reg.get_parcellation("julich fsl").id == "atlascope/parcellation/julich"
    r = reg.get_region("julich 3.0.3", "hOc1 left")
    assert r.name == "Area hOc1 (V1, 17, CalcS) left" and r.rgb == (190, 132, 147)


def test_labelled_map_with_hemisphere_fragments(loaded):
    reg, _, _ = loaded
    m = reg.get_map("julich 2.9", "mni152", "labelled")
    assert len(m.volumes) == 2
    left = m.indices["Area hOc1 (V1, 17, CalcS) left"][0]
    right = m.indices["Area hOc1 (V1, 17, CalcS) right"][0]
    assert left.fragment == "left hemisphere" and right.fragment == "right hemisphere"
    assert left.label == right.label and left.volume != right.volume
    assert "lh" in m.volumes[left.volume].provider.source.lower() or "left" in m.volumes[left.volume].name


def test_provenance_and_providers(loaded):
    from atlascope.volumes.precomputed import PrecomputedProvider
    from atlascope.volumes.providers import ZipNiftiProvider

    reg, _, _ = loaded
    m = reg.get_map("julich 3.0.3", "mni152", "statistical")
    assert "Amunts" in m.provenance.citation
    assert any(u.startswith("https://search.kg.ebrains.eu/instances/") for u in m.provenance.urls)
    assert m.provenance.version == "3.0.3"
    ve = reg.get_map("von economo", "mni152", "labelled")
    assert isinstance(ve.volumes[0].provider, ZipNiftiProvider)
    assert ve.volumes[0].provider.member == "economoMNI152volume.nii.gz"
    bb = reg.get_space("bigbrain")
    assert isinstance(bb.get_template().provider, PrecomputedProvider)
    space = reg.get_space("mni152")
    assert "Fonov" in reg.find_spaces("ICBM 2009c")[0].provenance.citation or space.provenance.citation


def _small_copy(catalogue, dest):
    for rel in (
        "spaces/icbm_152_2009c_nonl_asym.json",
        "parcellations/difumo64.json",
        "maps/mni152-difumo64-continuous.json",
        "maps/mni152-difumo64-labelled.json",
    ):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(catalogue / rel, dest / rel)


def test_malformed_and_unknown_files_do_not_break_the_rest(catalogue, tmp_path):
    _small_copy(catalogue, tmp_path)
    (tmp_path / "maps" / "broken.json").write_text('{"@type": "siibra/map/v0.0.1", "name": ')
    (tmp_path / "maps" / "orphan.json").write_text(
        json.dumps(
            {
                "@id": "orphan",
                "@type": "siibra/map/v0.0.1",
                "name": "orphan",
                "space": {"@id": "nowhere"},
                "parcellation": {"@id": "nothing"},
                "volumes": [],
                "indices": {},
            }
        )
    )
    (tmp_path / "maps" / "future.json").write_text(json.dumps({"@type": "siibra/something/v9"}))
    reg = Registry()
    report = load_source(FolderSource(tmp_path), reg)
    failed = {p.split("/")[-1]: why for p, _t, why in report.failed}
    assert set(failed) == {"broken.json", "orphan.json"}
    assert "nowhere" in failed["orphan.json"]
    assert report.skipped["siibra/something/v9"] == 1
    assert report.built["siibra/map/v0.0.1"] == 2
    assert len(reg.get_map("difumo 64", "mni152", "statistical")) == 64
    assert "broken.json" in str(report)


def test_zip_source_strips_the_top_folder_and_refuses_traversal(catalogue, tmp_path):
    folder = tmp_path / "cat"
    _small_copy(catalogue, folder)
    good = tmp_path / "cfg.zip"
    with zipfile.ZipFile(good, "w") as zf:
        for p in folder.rglob("*.json"):
            zf.write(p, "siibra-configurations-v1/" + p.relative_to(folder).as_posix())
    src = source_from_spec(str(good))
    assert isinstance(src, ZipSource)
    reg = Registry()
    report = load_source(src, reg)
    assert report.built["siibra/map/v0.0.1"] == 2 and not report.failed
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("cfg/maps/ok.json", "{}")
        zf.writestr("cfg/../../escape.json", "{}")
    with pytest.raises(InvalidInputError, match="leave the archive"):
        ZipSource(evil).files()


def test_source_specs(tmp_path):
    from atlascope.configuration.sources import GitHubSource

    gh = source_from_spec("github:siibra-1.0.1")
    assert isinstance(gh, GitHubSource)
    assert gh.urls() == ["https://github.com/FZJ-INM1-BDA/siibra-configurations/archive/siibra-1.0.1.zip"]
    assert source_from_spec("me/fork@v2").repository == "me/fork"
    assert isinstance(source_from_spec(tmp_path), FolderSource)
    with pytest.raises(NotFoundError):
        source_from_spec(tmp_path / "missing")


# ------------------------------------------- issue 11 item 13: hostile values in one file
def _with_hostile(catalogue, dest, rel: str, edit) -> str:
    """Copy the small catalogue into ``dest`` and replace ``rel`` by ``edit(json text)``."""
    _small_copy(catalogue, dest)
    text = (catalogue / rel).read_text()
    (dest / rel).write_text(edit(text))
    return str(dest / rel)


def _first_index(text: str, key: str, literal: str) -> str:
    spec = json.loads(text)
    first = next(iter(spec["indices"]))
    spec["indices"][first][0][key] = "@HOSTILE@"
    return json.dumps(spec).replace('"@HOSTILE@"', literal)


def _rgb_of_first_region(text: str) -> str:
    spec = json.loads(text)
    spec["regions"][0]["rgb"] = "@HOSTILE@"
    return json.dumps(spec).replace('"@HOSTILE@"', "[1e400, 0, 0]")


def _nested_regions(depth: int):
    def edit(text: str) -> str:
        spec = json.loads(text)
        spec["regions"] = "@HOSTILE@"
        tree = '{"name": "r", "children": [' * depth + '{"name": "leaf"}' + "]}" * depth
        return json.dumps(spec).replace('"@HOSTILE@"', f"[{tree}]")

    return edit


HOSTILE = {
    "rgb 1e400": ("parcellations/difumo64.json", _rgb_of_first_region, "rgb colour"),
    "volume 1e400": ("maps/mni152-difumo64-labelled.json", lambda t: _first_index(t, "volume", "1e400"), "volume"),
    "volume -1e400": ("maps/mni152-difumo64-labelled.json", lambda t: _first_index(t, "volume", "-1e400"), "volume"),
    "label 1e400": ("maps/mni152-difumo64-labelled.json", lambda t: _first_index(t, "label", "1e400"), "label"),
    "label 10**30": ("maps/mni152-difumo64-labelled.json", lambda t: _first_index(t, "label", str(10**30)), "label"),
    "z -1e400": ("maps/mni152-difumo64-continuous.json", lambda t: _first_index(t, "z", "-1e400"), "z of"),
    "z 2.5": ("maps/mni152-difumo64-continuous.json", lambda t: _first_index(t, "z", "2.5"), "z of"),
    "regions 100000 deep": ("parcellations/difumo64.json", _nested_regions(100_000), "nested too deeply"),
    "regions 150 deep": ("parcellations/difumo64.json", _nested_regions(150), "nested more than 100 levels"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_value_skips_only_that_file(catalogue, tmp_path, case, caplog):
    rel, edit, why = HOSTILE[case]
    path = _with_hostile(catalogue, tmp_path, rel, edit)
    reg = Registry()
    with caplog.at_level("ERROR", logger="atlascope"):
        report = load_source(FolderSource(tmp_path), reg)
    failed = [p for p, _t, _w in report.failed]
    assert failed[0] == path and why in report.failed[0][2]
    assert any(path in r.getMessage() for r in caplog.records)  # the file is named with its path
    assert report.built["siibra/space/v0.0.1"] == 1  # the rest of the catalogue loads
    if rel.startswith("maps/"):
        assert failed == [path]
        assert report.built["siibra/map/v0.0.1"] == 1
        assert report.built["siibra/parcellation/v0.0.1"] == 1
    else:  # the parcellation's two maps refer to it by id, and say so
        assert all("unknown parcellation" in w for _p, _t, w in report.failed[1:]) and len(failed) == 3


def test_atlases_command_reports_a_hostile_file_without_traceback(catalogue, tmp_path):
    import os
    import subprocess
    import sys

    path = _with_hostile(catalogue, tmp_path, "parcellations/difumo64.json", _nested_regions(100_000))
    env = {**os.environ, "ATLASCOPE_CONFIGURATION": str(tmp_path)}
    res = subprocess.run(
        [sys.executable, "-c", "from atlascope.cli import main; main()", "atlases"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert path in res.stderr
    assert "ICBM 2009c" in res.stdout or "MNI" in res.stdout


@pytest.mark.parametrize("index", [str(10**30), "1e400", "-1", "two"])
def test_label_csv_with_absurd_index_names_the_file(tmp_path, index):
    from atlascope.configuration.labels import read_label_csv
    from atlascope.errors import ConfigurationError

    p = tmp_path / "labels_test.csv"
    p.write_text(f"index,name\n1,Frontal_Pole_L\n{index},Occipital_Pole_R\n")
    with pytest.raises(ConfigurationError, match=r"labels_test\.csv, line 3: .*index"):
        read_label_csv(p)
    p.write_text("index,name\n1,Frontal_Pole_L\n2,Occipital_Pole_R\n")
    assert read_label_csv(p) == [(1, "Frontal_Pole_L"), (2, "Occipital_Pole_R")]

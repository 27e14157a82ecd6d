"""The catalogue and stand-in data served from a real HTTP server on 127.0.0.1 as a mirror:
GitHub-archive configuration source, neuroglancer precomputed reading, mirror plans, and the
seed workflow run unchanged as a siibra script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from atlascope.configuration.sources import GitHubSource, load_source
from atlascope.core.registry import Registry
from atlascope.errors import InvalidInputError
from atlascope.retrieval import mirror_relpath
from fixture_mirror import TAG, build_fixture_mirror, precomputed_array
from httpserver import LocalServer
from shared_data import shared_path


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    catalogue = shared_path("siibra-configurations")
    return build_fixture_mirror(catalogue, tmp_path_factory.mktemp("fixture-mirror"))


@pytest.fixture(scope="module")
def server(fixture):
    with LocalServer() as srv:
        srv.serve_folder(fixture.mirror)
        yield srv


@pytest.fixture
def mirrored(server, monkeypatch, tmp_path):
    """The served mirror as ATLASCOPE_MIRROR, offline, with an empty cache."""
    monkeypatch.setenv("ATLASCOPE_MIRROR", server.url)
    monkeypatch.setenv("ATLASCOPE_OFFLINE", "1")
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))
    return server


def test_github_source_through_http_mirror(fixture, mirrored):
    reg = Registry()
    report = load_source(GitHubSource(TAG), reg)
    assert report.built["siibra/map/v0.0.1"] == 58 and not report.failed
    assert mirrored.count(f"/{mirror_relpath(fixture.archive_url)}") == 1


def test_precomputed_scales_and_bbox(fixture, mirrored):
    from atlascope.volumes.precomputed import PrecomputedProvider

    p = PrecomputedProvider(fixture.precomputed_url)
    assert [s.key for s in p.scales] == ["20um", "40um"]
    assert p.choose_scale(resolution_mm=0.02).key == "20um"
    assert p.choose_scale(resolution_mm=0.05).key == "40um"
    assert p.choose_scale(resolution_mm=0.001).key == "20um"  # finer than any: the finest
    assert p.choose_scale(max_bytes=40 * 30 * 20).key == "20um"
    assert p.choose_scale(max_bytes=40 * 30 * 20 - 1).key == "40um"
    full = precomputed_array()
    img = p.fetch(resolution_mm=0.02)
    np.testing.assert_array_equal(np.asarray(img.dataobj), full)
    np.testing.assert_allclose(img.affine[:3, 3], [-70, -70, -58])
    assert img.affine[0, 0] == pytest.approx(0.02)
    # a box of voxels 5..22 x 3..19 x 2..9 (mm from transform.json), spanning several chunks
    lo_mm = np.array([-70 + 5 * 0.02, -70 + 3 * 0.02, -58 + 2 * 0.02])
    hi_mm = np.array([-70 + 21 * 0.02, -70 + 18 * 0.02, -58 + 8 * 0.02])
    box = p.fetch(resolution_mm=0.02, bbox_mm=(lo_mm, hi_mm))
    arr = np.asarray(box.dataobj)
    np.testing.assert_array_equal(arr, full[5:22, 3:19, 2:9])
    np.testing.assert_allclose(box.affine[:3, 3], lo_mm, atol=1e-9)
    coarse = p.fetch(max_bytes=5000)
    np.testing.assert_array_equal(np.asarray(coarse.dataobj), full[::2, ::2, ::2])
    assert coarse.affine[0, 0] == pytest.approx(0.04)


def test_precomputed_refuses_unsupported_encodings(tmp_path):
    from atlascope.volumes.precomputed import PrecomputedProvider

    (tmp_path / "info").write_text(
        json.dumps(
            {
                "data_type": "uint8",
                "num_channels": 1,
                "scales": [
                    {
                        "key": "1",
                        "size": [4, 4, 4],
                        "resolution": [1, 1, 1],
                        "chunk_sizes": [[4, 4, 4]],
                        "encoding": "png",
                    }
                ],
            }
        )
    )
    p = PrecomputedProvider(str(tmp_path))
    with pytest.raises(InvalidInputError, match="encoding 'png'"):
        p.fetch()


def test_mirror_plan_and_make_mirror(fixture, mirrored, tmp_path):
    from atlascope.configuration.builtin import load_builtin
    from atlascope.configuration.mirror_plan import make_mirror, urls_for
    from atlascope.configuration.sources import FolderSource

    reg = Registry()
    load_builtin(reg)
    load_source(FolderSource(fixture.catalogue), reg)
    urls = urls_for(map="julich 3.0.3", space="mni152", registry=reg)
    nii = [u for u in urls if u.endswith(".nii.gz")]
    # 157-area maps (314), 175-area maps (350) and the labelled volume
    assert len(nii) == 314 + 350 + 1
    stat = urls_for(map="julich 3.0.3", space="mni152", maptype="statistical", registry=reg)
    assert len(stat) == 664
    bb = urls_for(space="bigbrain", registry=reg)
    assert bb[0].endswith("/8bit/info") and any(u.endswith("transform.json") for u in bb)
    assert len(bb) == 2 + 2  # info, transform.json, 2 chunks of the coarsest (40 um, 20x15x10) scale
    out = tmp_path / "carry"
    difumo = urls_for(map="difumo 64", space="mni152", maptype="statistical", registry=reg)
    from atlascope.retrieval import build_mirror

    build_mirror(difumo + bb, out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest) == set(difumo + bb)
    assert all(len(e["sha256"]) == 64 for e in manifest.values())
    assert make_mirror is not None


def test_path_traversal_in_mirror_paths_is_refused():
    with pytest.raises(InvalidInputError):
        mirror_relpath("https://data-proxy.ebrains.eu/api/../../etc/passwd")
    with pytest.raises(InvalidInputError):
        mirror_relpath("https://data-proxy.ebrains.eu/api/%2e%2e/%2e%2e/etc/passwd")


SEED = textwrap.dedent("""
    import numpy as np
    from nilearn import image
    import atlascope as siibra

    difumo_maps = siibra.get_map(parcellation="difumo 64", space="mni152", maptype="statistical")
    img1 = difumo_maps.fetch(region="3")
    img2 = difumo_maps.fetch(region="31")
    img3 = difumo_maps.fetch(region="30")
    img = image.smooth_img(image.math_img("np.maximum(np.maximum(im1, im2), im3)", im1=img1, im2=img2, im3=img3), 10)
    input_volume = siibra.volumes.from_nifti(img, space="mni152", name="DiFuMo 3, 31, 30")
    pmaps = siibra.get_map(parcellation="julich 3.0.3", space="mni152", maptype="statistical")
    np.random.seed(25)
    samples = input_volume.draw_samples(10000, e=5, sigma_mm=3)
    samples.find_clusters(min_fraction=1 / 300, max_fraction=1 / 2)
    for cl in sorted(set(samples.labels.tolist()) - {-1}):
        clustermap = siibra.volumes.from_pointcloud(samples, label=cl, target=input_volume)
        assignments = pmaps.assign(clustermap)
        best = assignments.sort_values("correlation", ascending=False).iloc[0]
        print("RESULT", cl, best["region"], round(float(best["correlation"]), 3), sep="\\t")
""")


def test_seed_workflow_runs_unchanged_against_the_mirror(fixture, server, tmp_path):
    script = tmp_path / "seed.py"
    script.write_text(SEED)
    env = dict(
        os.environ,
        ATLASCOPE_MIRROR=server.url,
        ATLASCOPE_OFFLINE="1",
        ATLASCOPE_CACHE=str(tmp_path / "cache"),
        ATLASCOPE_CONFIGURATION=f"github:{TAG}",
        ATLASCOPE_PROGRESS="0",
    )
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parent.parent / "src"), env.get("PYTHONPATH", "")]
    )
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("\t") for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    regions = {r[2] for r in rows}
    # the three DiFuMo components were placed on these Julich-Brain areas by the fixture
    assert regions == {"Area hOc1 (V1, 17, CalcS) left", "Area hOc2 (V2, 18) right", "Area Fp1 (FPole) left"}
    assert all(float(r[3]) > 0.3 for r in rows)

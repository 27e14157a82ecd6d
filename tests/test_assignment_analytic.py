"""The assignment metrics (correlation, IoU, containedness, weighted means) checked against dense numpy computed here, on small synthetic maps built with the
public custom-map API (``atlascope.maps.from_nifti``); plus the sparse index's disk cache."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import atlascope
from atlascope import Point, PointCloud, maps, volumes
from atlascope.files import TEMP_PREFIX
from atlascope.maps import sparse_index as sparse_index_mod

SHAPE = (20, 20, 20)
AFF = np.diag([2.0, 2.0, 2.0, 1.0])
AFF[:3, 3] = [-20.0, -20.0, -20.0]
NAMES = ["Area Box left", "Area Box right", "Blob"]
SPEC_COLUMNS = [
    "input structure",
    "centroid",
    "volume",
    "fragment",
    "region",
    "correlation",
    "intersection over union",
    "map value",
    "map weighted mean",
    "map containedness",
    "input weighted mean",
    "input containedness",
]
METRICS = SPEC_COLUMNS[5:]


def vox2mm(ijk):
    ijk = np.atleast_2d(np.asarray(ijk, float))
    return ijk * 2.0 - 20.0


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))


def region_arrays():
    rng = np.random.default_rng(11)
    m0 = np.zeros(SHAPE, np.float32)
    m0[2:10, 2:10, 2:10] = rng.uniform(0.05, 0.95, (8, 8, 8))
    m1 = np.zeros(SHAPE, np.float32)
    m1[8:16, 6:14, 4:12] = rng.uniform(0.05, 0.95, (8, 8, 4 + 4))
    ii = np.indices(SHAPE).astype(float)
    d2 = ((ii - np.array([14, 14, 14])[:, None, None, None]) ** 2).sum(0)
    m2 = np.exp(-d2 / (2 * 2.0**2)).astype(np.float32)
    m2[m2 < 0.05] = 0
    return [m0, m1, m2]


def stat_map(arrs=None):
    arrs = region_arrays() if arrs is None else arrs
    return maps.from_nifti([nib.Nifti1Image(a, AFF) for a in arrs], NAMES, "mni152", name="analytic test map")


def input_components():
    """Components by construction: name -> (list of voxel indices, values)."""
    rng = np.random.default_rng(5)
    c1 = [tuple(v) for v in np.argwhere(np.ones((5, 5, 5))) + 4]  # [4:9]^3: Box left and Box right
    c2 = [tuple(v) for v in np.argwhere(np.ones((5, 5, 5))) + 12]  # [12:17]^3: Blob
    c5 = [(2, 9, 2), (3, 9, 2)]  # two voxels in Box left
    c3 = [(2, 2, 2)]  # one voxel in Box left
    comps = {"c1": c1, "c2": c2, "c5": c5, "c3": c3}
    return {k: (v, rng.uniform(0.2, 1.0, len(v))) for k, v in comps.items()}


def dense(comp_list):
    q = np.zeros(SHAPE)
    for vox, vals in comp_list:
        for v, x in zip(vox, vals):
            q[v] = x
    return q


def expected_metrics(m, q, threshold=0.0):
    """Dense reference of the assignment table for one (component, region) pair; None if no overlap."""
    m = np.where(m >= threshold, m, 0).astype(np.float64) if threshold > 0 else m.astype(np.float64)
    mp, qp = m > 0, q > 0
    inter = int((mp & qp).sum())
    if inter == 0:
        return None
    lo = np.minimum(np.argwhere(mp).min(0), np.argwhere(qp).min(0))
    hi = np.maximum(np.argwhere(mp).max(0), np.argwhere(qp).max(0)) + 1
    sl = tuple(slice(a, b) for a, b in zip(lo, hi))
    r = np.corrcoef(m[sl].ravel(), q[sl].ravel())[0, 1]
    smq = float((m * q).sum())
    return {
        "correlation": r,
        "intersection over union": inter / int((mp | qp).sum()),
        "map value": float(m[qp].max()),
        "map weighted mean": smq / q.sum(),
        "map containedness": inter / int(mp.sum()),
        "input weighted mean": smq / m.sum(),
        "input containedness": inter / int(qp.sum()),
    }


def centroid_mm(q):
    return vox2mm(np.argwhere(q > 0).mean(0))[0]


def check_rows(df, comps_q, arrs, threshold=0.0, labels=None):
    """Every (component, region) overlap appears once with the right values, and nothing else."""
    seen = 0
    for q in comps_q:
        c = centroid_mm(q)
        mine = df[[np.allclose(t, c, atol=0.011) for t in df["centroid"]]]
        anything = any(expected_metrics(m, q, threshold) is not None for m in arrs)
        assert len(set(mine["input structure"])) == int(anything), (c, df)
        for col, m in enumerate(arrs):
            exp = expected_metrics(m, q, threshold)
            rows = mine[mine["volume"] == col]
            if exp is None:
                assert len(rows) == 0, (col, rows)
                continue
            assert len(rows) == 1, (col, mine)
            row = rows.iloc[0]
            assert str(row["region"]) == (labels or NAMES)[col] if labels is None else True
            for k, v in exp.items():
                if labels is not None and k == "map value":
                    v = labels[col]
                assert row[k] == pytest.approx(v, rel=1e-4, abs=1e-6, nan_ok=True), (k, col, row[k], v)
            seen += 1
    assert seen == len(df)


def test_volume_components_every_column():
    arrs = region_arrays()
    m = stat_map(arrs)
    comps = input_components()
    img = nib.Nifti1Image(dense(comps.values()).astype(np.float32), AFF)
    df = m.assign(volumes.from_nifti(img, "mni152", name="three blobs"))
    # fragment is empty for a custom map: dropped; everything else in SPEC order
    assert list(df.columns) == [c for c in SPEC_COLUMNS if c != "fragment"]
    kept = [dense([comps[k]]) for k in ("c1", "c2", "c5")]  # the single voxel c3 is dropped (<= 1 voxel)
    check_rows(df, kept, arrs)
    assert sorted(set(df["input structure"])) == [1, 2, 3]
    # c1 touches both boxes: two rows; region objects print as the names
    c1 = df[[np.allclose(t, centroid_mm(kept[0]), atol=0.011) for t in df["centroid"]]]
    assert sorted(map(str, c1["region"])) == ["Area Box left", "Area Box right"]
    assert isinstance(c1["region"].iloc[0], atlascope.Region)


def test_minsize_voxel_and_no_split():
    arrs = region_arrays()
    m = stat_map(arrs)
    comps = input_components()
    q_all = dense(comps.values())
    img = nib.Nifti1Image(q_all.astype(np.float32), AFF)
    df2 = m.assign(img, minsize_voxel=2)
    check_rows(df2, [dense([comps[k]]) for k in ("c1", "c2")], arrs)
    assert sorted(set(df2["input structure"])) == [1, 2]
    df0 = m.assign(img, minsize_voxel=0)
    check_rows(df0, [dense([comps[k]]) for k in ("c1", "c2", "c5", "c3")], arrs)
    one = m.assign(img, split_components=False)
    assert set(one["input structure"]) == {1}
    check_rows(one, [q_all], arrs)


def test_18_connectivity():
    """Voxels sharing a face or an edge are one component; a shared corner only is not."""
    m = maps.from_nifti(
        [nib.Nifti1Image(np.full(SHAPE, 0.5, np.float32), AFF)], ["Everywhere"], "mni152", name="uniform map"
    )
    q = np.zeros(SHAPE, np.float32)
    q[2, 2, 2] = q[3, 3, 2] = 1  # edge neighbours: one component
    q[10, 10, 10] = q[11, 11, 11] = 1  # corner neighbours: two components
    q[15, 5, 5] = q[15, 5, 6] = 1  # face neighbours: one component
    df = m.assign(nib.Nifti1Image(q, AFF), minsize_voxel=0)
    assert len(df) == 4
    cents = sorted(tuple(np.round(t, 2)) for t in df["centroid"])
    exp = sorted(
        tuple(np.round(c, 2))
        for c in [
            vox2mm([2.5, 2.5, 2])[0],
            vox2mm([10, 10, 10])[0],
            vox2mm([11, 11, 11])[0],
            vox2mm([15, 5, 5.5])[0],
        ]
    )
    np.testing.assert_allclose(cents, exp, atol=0.011)
    # with the default minsize_voxel=1 the two lone corner voxels are dropped
    assert len(m.assign(nib.Nifti1Image(q, AFF))) == 2


def test_lower_threshold_filters_map_values_not_iou():
    arrs = region_arrays()
    m = stat_map(arrs)
    comps = input_components()
    img = nib.Nifti1Image(dense(comps.values()).astype(np.float32), AFF)
    thr = 0.5
    df = m.assign(img, lower_threshold=thr)
    check_rows(df, [dense([comps[k]]) for k in ("c1", "c2", "c5")], arrs, threshold=thr)
    # every IoU is computed with thresholded maps, so it differs from the unthresholded one
    full = m.assign(img)
    assert not np.allclose(
        sorted(df["intersection over union"]), sorted(full["intersection over union"])[: len(df)]
    )


def test_input_resampled_from_another_grid():
    """A 1 mm input whose grid contains every 2 mm voxel centre: linear resampling samples it exactly."""
    arrs = region_arrays()
    m = stat_map(arrs)
    rng = np.random.default_rng(8)
    fine = np.zeros((40, 40, 40), np.float32)
    fine[8:18, 8:18, 8:18] = rng.uniform(0.3, 1.0, (10, 10, 10))
    faff = np.eye(4)
    faff[:3, 3] = -20.0
    df = m.assign(nib.Nifti1Image(fine, faff))
    q = np.zeros(SHAPE)
    q[4:9, 4:9, 4:9] = fine[8:18:2, 8:18:2, 8:18:2]
    check_rows(df, [q], arrs)


def test_points_sigma_zero_nearest_voxel():
    arrs = region_arrays()
    m = stat_map(arrs)
    vox = np.array([[5, 5, 5], [8, 7, 6], [0, 19, 0], [14, 14, 14]])
    jitter = np.array([[0.4, -0.3, 0.9], [-0.9, 0.2, 0.0], [0, 0, 0], [0.5, 0.5, -0.5]])
    coords = np.vstack([vox2mm(vox) + jitter, [[100.0, 0, 0], [-30.0, -30, -30]]])
    df = m.assign(PointCloud(coords, "mni152", sigma_mm=0))
    assert list(df.columns) == ["input structure", "centroid", "volume", "region", "map value"]
    expected = {
        (i, c): float(arrs[c][tuple(v)]) for i, v in enumerate(vox) for c in range(3) if arrs[c][tuple(v)] > 0
    }
    got = {(int(r["input structure"]), int(r["volume"])): r["map value"] for _, r in df.iterrows()}
    assert set(got) == set(expected)
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-6)
    for _, r in df.iterrows():
        np.testing.assert_allclose(r["centroid"], coords[int(r["input structure"])])
        assert str(r["region"]) == NAMES[int(r["volume"])]
    # point 1 sits in both boxes; the uncovered voxel (2) and the out-of-grid points (4, 5) give no rows
    assert {k[1] for k in got if k[0] == 1} == {0, 1}
    assert not {2, 4, 5} & {k[0] for k in got}
    # lower_threshold removes values <= threshold
    thr = float(np.median(list(expected.values())))
    dft = m.assign(PointCloud(coords, "mni152"), lower_threshold=thr)
    assert {(int(r["input structure"]), int(r["volume"])) for _, r in dft.iterrows()} == {
        k for k, v in expected.items() if v > thr
    }


def test_single_point_inputs():
    arrs = region_arrays()
    m = stat_map(arrs)
    df = m.assign(Point(tuple(vox2mm([5, 5, 5])[0]), "mni152"))
    assert len(df) == 1 and df["map value"].iloc[0] == pytest.approx(float(arrs[0][5, 5, 5]))
    for where in [(200.0, 200.0, 200.0), tuple(vox2mm([0, 19, 0])[0])]:
        out = m.assign(Point(where, "mni152"))
        assert len(out) == 0


def ball_kernel(center, sigma_vox):
    r = int(np.floor(3 * sigma_vox))
    q = np.zeros(SHAPE)
    ii = np.indices(SHAPE)
    d2 = sum((ii[a] - center[a]) ** 2 for a in range(3))
    ball = d2 <= r * r
    q[ball] = np.exp(-d2[ball] / (2 * sigma_vox**2))
    return q / q.sum()


@pytest.mark.parametrize("sigma_mm", [6.0, 7.0])
def test_points_with_large_sigma_are_gaussian_kernels(sigma_mm):
    arrs = region_arrays()
    m = stat_map(arrs)
    centers = [(10, 10, 10), (9, 10, 9)]
    df = m.assign(PointCloud(vox2mm(centers), "mni152", sigma_mm=sigma_mm))
    assert [c for c in df.columns] == [c for c in SPEC_COLUMNS if c != "fragment"]
    for i, c in enumerate(centers):
        q = ball_kernel(c, sigma_mm / 2.0)
        rows = df[df["input structure"] == i]
        for col, mm in enumerate(arrs):
            exp = expected_metrics(mm, q)
            r = rows[rows["volume"] == col]
            if exp is None:
                assert len(r) == 0
                continue
            assert len(r) == 1
            # map weighted mean is the expected probability under the normalised kernel
            assert exp["map weighted mean"] == pytest.approx(float((mm * q).sum()), rel=1e-9)
            for k, v in exp.items():
                assert r.iloc[0][k] == pytest.approx(v, rel=1e-4, abs=1e-6), (k, col)


def test_mixed_sigmas_in_one_cloud():
    arrs = region_arrays()
    m = stat_map(arrs)
    coords = vox2mm([(5, 5, 5), (10, 10, 10)])
    df = m.assign(PointCloud(coords, "mni152", sigma_mm=[0.0, 6.0]))
    small = df[df["input structure"] == 0]
    assert len(small) == 1 and small["map value"].iloc[0] == pytest.approx(float(arrs[0][5, 5, 5]))
    big = df[df["input structure"] == 1]
    q = ball_kernel((10, 10, 10), 3.0)
    assert set(big["volume"]) == {c for c in range(3) if expected_metrics(arrs[c], q) is not None}


def labelled_map():
    lab = np.zeros(SHAPE, np.int16)
    lab[2:8, 2:8, 2:8] = 5
    lab[10:18, 10:18, 10:18] = 9
    lab[2:6, 14:18, 2:6] = 12
    m = maps.from_nifti(
        nib.Nifti1Image(lab, AFF),
        {5: "Lab five", 9: "Lab nine", 12: "Lab twelve"},
        "mni152",
        maptype="labelled",
        name="analytic labelled map",
    )
    return m, lab


def test_labelled_map_volume_and_points():
    m, lab = labelled_map()
    arrs = [(lab == v).astype(float) for v in (5, 9, 12)]
    comps = input_components()
    kept = [dense([comps[k]]) for k in ("c1", "c2", "c5")]
    df = m.assign(nib.Nifti1Image(dense(comps.values()).astype(np.float32), AFF))
    check_rows(df, kept, arrs, labels=[5, 9, 12])
    for _, r in df.iterrows():
        assert str(r["region"]) == ["Lab five", "Lab nine", "Lab twelve"][int(r["volume"])]
    pts = m.assign(PointCloud(vox2mm([(3, 3, 3), (12, 12, 12), (0, 0, 19), (3, 15, 3)]), "mni152"))
    assert list(pts["map value"]) == [5, 9, 12]
    assert list(pts["input structure"]) == [0, 1, 3]


def test_empty_overlap_gives_empty_frame():
    m = stat_map()
    q = np.zeros(SHAPE, np.float32)
    q[0:2, 17:20, 0:2] = 1.0  # no region there
    df = m.assign(nib.Nifti1Image(q, AFF))
    assert len(df) == 0
    assert list(df.columns) == [c for c in SPEC_COLUMNS if c in df.columns]


# ---------------------------------------------------------------------------------------- disk cache
def _index_files(cache: Path):
    return sorted((cache / "sparse-index").glob("*.npz"))


def test_index_written_once_and_loaded_by_a_second_map(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    arrs = region_arrays()
    calls = []
    real = sparse_index_mod.build_index

    def counting(map_):
        calls.append(map_.id)
        return real(map_)

    monkeypatch.setattr(sparse_index_mod, "build_index", counting)
    m1 = stat_map(arrs)
    idx1 = m1.sparse_index
    files = _index_files(cache)
    assert len(files) == 1 and len(calls) == 1
    assert not [
        p
        for p in (cache / "sparse-index").iterdir()
        if p.name.endswith(".tmp") or p.name.startswith(TEMP_PREFIX)
    ]
    mtime = files[0].stat().st_mtime_ns
    m2 = stat_map(arrs)  # a new Map object over the same data
    assert m2 is not m1
    idx2 = m2.sparse_index
    assert len(calls) == 1, "second Map rebuilt the index instead of loading it"
    assert files[0].stat().st_mtime_ns == mtime and _index_files(cache) == files
    for k in ("voxels", "indptr", "columns", "values", "total", "total_sq", "count", "bbox_lo", "bbox_hi"):
        np.testing.assert_array_equal(getattr(idx1, k), getattr(idx2, k))
    # the index totals equal the dense sums
    np.testing.assert_allclose(idx2.total, [a.sum() for a in arrs], rtol=1e-5)
    np.testing.assert_array_equal(idx2.count, [(a > 0).sum() for a in arrs])
    # different data -> a different key
    arrs[0][0, 0, 0] = 0.5
    assert stat_map(arrs).sparse_index.nregions == 3
    assert len(_index_files(cache)) == 2 and len(calls) == 2


@pytest.mark.parametrize("damage", ["garbage", "truncate", "empty"])
def test_corrupt_cached_index_is_rebuilt(tmp_path, monkeypatch, damage):
    cache = tmp_path / "cache"
    arrs = region_arrays()
    assert stat_map(arrs).sparse_index.nregions == 3
    (path,) = _index_files(cache)
    good = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(os.urandom(2000))
    elif damage == "truncate":
        path.write_bytes(good[: len(good) // 2])
    else:
        path.write_bytes(b"")
    calls = []
    real = sparse_index_mod.build_index
    monkeypatch.setattr(sparse_index_mod, "build_index", lambda mp: calls.append(1) or real(mp))
    m = stat_map(arrs)
    comps = input_components()
    df = m.assign(nib.Nifti1Image(dense(comps.values()).astype(np.float32), AFF))
    assert len(calls) == 1
    check_rows(df, [dense([comps[k]]) for k in ("c1", "c2", "c5")], arrs)
    # the rebuilt file is valid again and no temporary file was left
    assert sparse_index_mod.SparseIndex.load(path).nregions == 3
    assert not [
        p
        for p in (cache / "sparse-index").iterdir()
        if p.name.endswith(".tmp") or p.name.startswith(TEMP_PREFIX)
    ]

"""Labels of the cluster table checked against the offline atlases' files read directly with nibabel."""

from __future__ import annotations

import functools

import nibabel as nib
import numpy as np
import pytest

from atlascope.errors import InvalidInputError
from atlascope.labelling import (
    LONG_COLUMNS,
    atlas_name,
    cluster_table,
    hemisphere_conflict,
    label_coordinates,
    resolve_atlases,
)
from atlascope.workflow import example_image_path


@pytest.fixture(scope="module")
def table():
    return cluster_table(example_image_path(), 3.1, 20, True)


@functools.lru_cache(maxsize=2)
def _file(path):
    img = nib.load(path)
    return np.asanyarray(img.dataobj), img.affine


def _file_ijk(affine, xyz):
    """The voxel containing xyz (halves round up: voxel i spans [i - 0.5, i + 0.5))."""
    return np.floor(nib.affines.apply_affine(np.linalg.inv(affine), xyz) + 0.5).astype(int)


def _file_voxel(m, xyz):
    """The atlas file's values (all volumes) at the voxel containing xyz (mm), read with nibabel."""
    data, affine = _file(m.volumes[0].provider.source)
    ijk = _file_ijk(affine, xyz)
    if np.any(ijk < 0) or np.any(ijk >= data.shape[:3]):
        return np.zeros(1)
    return np.atleast_1d(np.asarray(data[tuple(ijk)], float)) * m.volumes[0].provider.scale


def test_every_offline_atlas_is_used(table):
    keys = {m.key for m in table.atlases}
    assert {"julich-statistical", "harvard_oxford-statistical", "aal-labelled", "talairach_gyrus-labelled"} <= keys
    assert len(keys) == 10
    for m in table.atlases:
        assert table.wide[atlas_name(m)].str.len().min() > 0  # never an empty cell


def test_peak_labels_match_the_atlas_files(table):
    long = table.long
    assert list(long.columns) == LONG_COLUMNS
    peaks = table.wide[["Cluster ID", "X", "Y", "Z"]]
    for m in table.atlases:
        name = atlas_name(m)
        at_peak = long[(long["atlas"] == name) & (long["peak"] != "")]
        assert len(at_peak) == len(peaks)
        for (_, row), (_, lab) in zip(peaks.iterrows(), at_peak.iterrows(), strict=True):
            values = _file_voxel(m, row[["X", "Y", "Z"]].to_numpy(float))
            if not np.any(values > 0):
                assert lab["label"] == f"outside the {name} coverage"
                continue
            if m.is_labelled:
                assert lab["value"] == values[0]
                expected = [n for n, e in m.columns if e.label == int(values[0])]
            else:
                assert lab["value"] == pytest.approx(values.max(), abs=1e-6)
                expected = [n for n, e in m.columns if values[e.z] == values.max()]
            assert lab["label"].split(" (hemisphere")[0] in expected


def test_cluster_shares_and_metrics(table):
    long = table.long
    per_cluster = long[long["peak"] == ""]
    shares = per_cluster[per_cluster["metric"] == "share (%)"]
    assert shares["value"].between(0, 100).all()
    assert shares.groupby(["cluster", "atlas"]).size().max() <= 4
    metrics = per_cluster[per_cluster["atlas"] == "Harvard-Oxford"]
    assert {"correlation", "map containedness", "input containedness"} <= set(metrics["metric"])
    # AAL share of cluster 1 recomputed from the file
    aal = next(m for m in table.atlases if m.key == "aal-labelled")
    c1 = table.clusters[0]
    xyz = nib.affines.apply_affine(nib.load(example_image_path()).affine, c1.mask_ijk)
    data, affine = _file(aal.volumes[0].provider.source)
    labels = data[tuple(_file_ijk(affine, xyz).T)]
    top_label = np.bincount(labels[labels > 0].astype(int)).argmax()
    top_share = 100.0 * np.sum(labels == top_label) / len(labels)
    first = shares[(shares["cluster"] == c1.id) & (shares["atlas"] == "AAL2")].iloc[0]
    assert first["value"] == pytest.approx(top_share)
    assert first["label"] in [n for n, e in aal.columns if e.label == top_label]


def test_label_maps_are_signed(table):
    data = np.asanyarray(table.label_map.dataobj)
    for c in table.clusters:
        assert np.sum(data == c.sign * c.id) == len(c.mask_ijk)
    assert data.min() < 0 < data.max()


def test_cerebellar_coordinate():
    maps = resolve_atlases("all")
    df = label_coordinates(np.array([[-24.0, -68.0, -20.0]]), maps).set_index("atlas")
    assert df.loc["AAL2", "label"] == "Cerebelum 6 left"
    assert not df.loc["Harvard-Oxford", "label"].startswith("outside")
    assert df.loc["Julich-Brain FSL histological", "label"] == "outside the Julich-Brain FSL histological coverage"
    assert len(df) == len(maps)


def test_hemisphere_flag():
    assert hemisphere_conflict("Precentral left", 30.0)
    assert not hemisphere_conflict("Precentral left", 1.5)
    assert hemisphere_conflict("ctx-rh-precuneus", -10.0)
    assert not hemisphere_conflict("Vermis 8", 20.0)
    df = label_coordinates(np.array([[1.0, -20.0, 60.0]]), resolve_atlases("aal"))
    assert "hemisphere contradicts" not in df["label"].iloc[0]


def test_atlas_selection_errors():
    with pytest.raises(InvalidInputError, match="atlases"):
        resolve_atlases([])
    assert [m.key for m in resolve_atlases(["aal", "julich"])] == ["aal-labelled", "julich-statistical"]

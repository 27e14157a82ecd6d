"""The cluster table against nilearn's own ``get_clusters_table`` on its bundled t-map."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn.reporting import get_clusters_table as nilearn_table

import atlascope
from atlascope.analysis.cluster_table import TABLE_COLUMNS, find_clusters_table, table_rows
from atlascope.errors import InvalidInputError
from atlascope.labelling import cluster_table
from atlascope.workflow import example_image_path


@pytest.fixture(scope="module")
def tmap():
    return nib.load(example_image_path())


@pytest.mark.parametrize("two_sided", [False, True])
@pytest.mark.parametrize("extent", [0, 20])
@pytest.mark.parametrize("threshold", [3, 4, 5])
def test_same_rows_and_values_as_nilearn(tmap, threshold, extent, two_sided):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = nilearn_table(tmap, threshold, extent, two_sided)
    ours = atlascope.get_clusters_table(tmap, threshold, extent, two_sided, atlases=None)
    assert list(ours.columns) == TABLE_COLUMNS
    assert len(ours) == len(ref) > 0
    for col in TABLE_COLUMNS:
        assert ours[col].tolist() == ref[col].tolist(), col
    if two_sided:
        assert (ours["Peak Stat"] < 0).any()


def test_peaks_lie_in_their_cluster_and_label_map_matches(tmap):
    data = tmap.get_fdata()
    clusters, label_map = find_clusters_table(data, tmap.affine, 3.0, 20, True)
    for c in clusters:
        assert np.all(label_map[tuple(c.peaks_ijk.T)] == c.sign * c.id)
        assert np.all(np.abs(data[tuple(c.peaks_ijk.T)]) > 3.0)
        assert np.sum(label_map == c.sign * c.id) == len(c.mask_ijk)


def test_binary_donut_reports_an_in_cluster_voxel():
    # a ring of equal values: its centre of mass is the hole, nilearn's #2647
    data = np.zeros((9, 9, 3))
    data[2:7, 2:7, 1] = 1.0
    data[3:6, 3:6, 1] = 0.0
    clusters, label_map = find_clusters_table(data, np.eye(4), 0.5)
    assert len(clusters) == 1
    assert label_map[tuple(clusters[0].peaks_ijk[0])] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = nilearn_table(nib.Nifti1Image(data, np.eye(4)), 0.5)
    assert pd.DataFrame(table_rows(clusters), columns=TABLE_COLUMNS).values.tolist() == ref.values.tolist()


def test_connectivity_26_joins_diagonal_voxels():
    data = np.zeros((5, 5, 5))
    data[1, 1, 1] = data[2, 2, 2] = 5.0
    assert len(find_clusters_table(data, np.eye(4), 1.0)[0]) == 2
    assert len(find_clusters_table(data, np.eye(4), 1.0, connectivity=26)[0]) == 1


def test_nan_background_is_no_data(tmap):
    data = tmap.get_fdata().copy()
    data[data == 0] = np.nan
    nan_img = nib.Nifti1Image(data.astype(np.float32), tmap.affine, tmap.header)
    a = atlascope.get_clusters_table(nan_img, 3.1, 20, True, atlases=None)
    b = atlascope.get_clusters_table(tmap, 3.1, 20, True, atlases=None)
    assert a.values.tolist() == b.values.tolist()


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"stat_threshold": -1}, "stat_threshold"),
        ({"stat_threshold": 3, "cluster_threshold": 2.5}, "cluster_threshold"),
        ({"stat_threshold": 3, "min_distance": 0}, "min_distance"),
        ({"stat_threshold": 3, "connectivity": 8}, "connectivity"),
    ],
)
def test_bad_parameters_raise_named_errors(tmap, kwargs, needle):
    with pytest.raises(InvalidInputError, match=needle):
        atlascope.get_clusters_table(tmap, atlases=None, **kwargs)


def test_all_nan_input_is_refused():
    img = nib.Nifti1Image(np.full((4, 4, 4), np.nan, np.float32), np.eye(4))
    with pytest.raises(InvalidInputError, match="no finite value"):
        atlascope.get_clusters_table(img, 1.0, atlases=None)


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, bool])
def test_integer_and_bool_inputs(dtype):
    data = np.zeros((10, 10, 10), dtype)
    data[2:4, 2:4, 2:4] = 1
    data[6:9, 6:9, 6:9] = 1
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    ct = cluster_table(data, 0.5, atlases=None, affine=affine)
    assert sorted(ct.wide["Cluster Size (mm3)"].tolist()) == [8 * 8, 27 * 8]
    if dtype is not bool:
        img = nib.Nifti1Image(data, affine, dtype=dtype)
        table = atlascope.get_clusters_table(img, 0.5, atlases=None)
        assert table.values.tolist() == ct.wide.values.tolist()

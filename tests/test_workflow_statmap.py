"""The stat-map method: ``characterize`` and ``atlascope characterize`` on nilearn's example t-map."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from nilearn.reporting import get_clusters_table as nilearn_table

from atlascope.analysis.cluster_table import TABLE_COLUMNS
from atlascope.cli import main
from atlascope.errors import InvalidInputError
from atlascope.labelling import LONG_COLUMNS
from atlascope.workflow import Parameters, characterize, choose_method, example_image_path


@pytest.fixture(scope="module")
def result():
    return characterize(example_image_path(), threshold=3.1, extent=20, two_sided=True)


def test_signed_map_uses_the_statmap_method(result):
    assert result.method == "statmap"
    assert result.samples is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = nilearn_table(nib.load(example_image_path()), 3.1, 20, True)
    assert list(result.cluster_table.columns[:6]) == TABLE_COLUMNS
    assert result.cluster_table[TABLE_COLUMNS].values.tolist() == ref.values.tolist()
    assert len(result.cluster_table.columns) == 6 + len(result.atlases) == 16
    assert list(result.labels.columns) == LONG_COLUMNS
    np.testing.assert_array_equal(result.peak_values, ref["Peak Stat"].to_numpy(float))


def test_label_map_and_cluster_rows(result):
    lm = np.asanyarray(result.label_maps.dataobj)
    assert lm.shape == nib.load(example_image_path()).shape
    ids = result.cluster_table.loc[result.cluster_table["Cluster Size (mm3)"] != "", "Cluster ID"].astype(int)
    assert set(np.abs(np.unique(lm[lm != 0]))) == set(ids)
    assert set(result.clusters["cluster"]) == set(np.unique(lm[lm != 0]))
    assert set(result.cluster_assignments["cluster"]) <= set(result.clusters["cluster"])


def test_min_correlation_filters_the_summary_only(result):
    full = result.cluster_assignments
    assert (full["correlation"] < result.parameters.min_correlation).any()
    top = full[full["correlation"] >= result.parameters.min_correlation]  # what the summary may show
    assert len(top) and (top["correlation"] >= result.parameters.min_correlation).all()
    assert len(top) < len(full)


def test_method_choice():
    assert choose_method(np.array([0.0, 1.0])) == "sampling"
    assert choose_method(np.array([-1.0, 1.0])) == "statmap"
    assert choose_method(np.array([-1.0, 1.0]), "sampling") == "sampling"
    with pytest.raises(InvalidInputError, match="method"):
        choose_method(np.zeros(2), "kde")


def test_cli_characterize_writes_the_cluster_table(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main,
        ["characterize", "--example", "--threshold", "3.1", "--extent", "20", "--two-sided",
         "--atlas", "aal", "--atlas", "julich", "--out", str(out), "--no-plots", "--quiet"],
    )
    assert res.exit_code == 0, res.output + repr(res.exception)
    clusters = pd.read_csv(out / "clusters.tsv", sep="\t", dtype={"Cluster ID": str})
    assert list(clusters.columns) == TABLE_COLUMNS + ["AAL2", "Julich-Brain FSL histological"]
    assert clusters["AAL2"].notna().all()
    assert (out / "index.html").is_file()


def test_sampling_rejects_an_empty_part():
    img = nib.Nifti1Image(np.full((8, 8, 8), -1.0, np.float32), np.eye(4))
    with pytest.raises(InvalidInputError, match="nothing to sample"):
        characterize(img, method="sampling", threshold=0.5, parameters=Parameters(samples=100), atlases=None)


def test_report_keeps_the_peak_values_found(result):
    import dataclasses

    from atlascope.report.tables import result_tables

    peaks = result_tables(result)["peaks"]
    np.testing.assert_array_equal(peaks["value"].to_numpy(), result.peak_values)
    # taken from the result, not read again from the input
    marked = dataclasses.replace(result, peak_values=result.peak_values + 1000.0)
    np.testing.assert_array_equal(result_tables(marked)["peaks"]["value"].to_numpy(), result.peak_values + 1000.0)

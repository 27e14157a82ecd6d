"""Batch characterisation on a real dask LocalCluster: per-input errors, resumption, one map load per worker."""

from __future__ import annotations

import json
import time
from concurrent.futures import Future

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import atlascope
from atlascope.batch import RESULT_COLUMNS, _load_part, _outcome_of, _run_one, characterize_many
from atlascope.cli import main
from atlascope.workflow import Parameters

N_GOOD = 19
# Few samples and coarse clusters keep each input well under a second.
PARAMS = Parameters(samples=1000, seed=25, min_fraction=1 / 100, max_fraction=1 / 4)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[list, dict[str, str]]:
    """19 smoothed single-region probability maps of the offline pack (3 mm) plus one corrupt file."""
    from nilearn.image import resample_img, smooth_img

    folder = tmp_path_factory.mktemp("batch-inputs")
    m = atlascope.get_map("julich fsl", "mni152", "statistical")
    names = [r for r in m.regions if r.startswith("GM ")][::2][:N_GOOD]
    assert len(names) == N_GOOD
    paths, origin = [], {}
    for i, name in enumerate(names):
        img = smooth_img(m.fetch(region=name), 4)
        img = resample_img(
            img,
            target_affine=np.diag([3.0, 3.0, 3.0]),
            interpolation="continuous",
            force_resample=True,
            copy_header=True,
        )
        path = folder / f"input_{i:02d}.nii.gz"
        nib.save(nib.Nifti1Image(np.asarray(img.dataobj, np.float32), img.affine), path)
        paths.append(path)
        origin[path.name] = name
    corrupt = folder / "input_corrupt.nii.gz"
    corrupt.write_bytes(b"\x1f\x8b this is not a gzip stream")
    paths.insert(7, corrupt)
    return paths, origin


@pytest.mark.slow
def test_batch_on_local_cluster_with_errors_and_resumption(inputs, tmp_path):
    paths, origin = inputs
    out = tmp_path / "batch"
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster,
        Client(cluster) as client,
    ):
        t0 = time.perf_counter()
        df = characterize_many(paths, client=client, out=out, parameters=PARAMS)
        first = time.perf_counter() - t0

    assert list(df.columns) == list(RESULT_COLUMNS)
    assert df.attrs["inputs"] == 20 and df.attrs["computed"] == 20 and df.attrs["skipped"] == 0
    assert df.attrs["errors"] == 1
    # the map is resolved and its sparse index loaded once per worker, not once per input
    assert 1 <= df.attrs["map_loads"] <= 2

    errors = df[df["error"].notna()]
    assert list(errors["input_name"]) == ["input_corrupt.nii.gz"]
    assert "InvalidInputError" in errors["error"].iloc[0]
    good = df[df["error"].isna()]
    assert set(good["input_name"]) == set(origin)
    assert good["region"].notna().groupby(good["input_name"]).any().sum() >= N_GOOD - 2
    # a smoothed probability map of region R is assigned to R (best correlation) for nearly every input
    best = (
        good.dropna(subset=["correlation"])
        .sort_values("correlation", ascending=False)
        .groupby("input_name")
        .head(1)
    )
    hits = sum(origin[row.input_name] == row.region for row in best.itertuples())
    assert hits >= N_GOOD - 3, best[["input_name", "region", "correlation"]]
    # rows keep the order of the inputs
    order = [p.name for p in paths]
    seen = list(dict.fromkeys(df["input_name"]))
    assert seen == order

    # files: one part per input, results in parquet and tsv, an errors table
    assert len(list((out / "parts").glob("*.parquet"))) == N_GOOD
    assert len(list((out / "parts").glob("*.error.json"))) == 1
    stored = pd.read_parquet(out / "results.parquet")
    assert len(stored) == len(df)
    tsv = pd.read_csv(out / "results.tsv", sep="\t")
    assert len(tsv) == len(df)
    assert list(pd.read_csv(out / "errors.tsv", sep="\t")["input_name"]) == ["input_corrupt.nii.gz"]

    # second run: nothing is computed (no cluster is even started) and the result is the same
    t0 = time.perf_counter()
    again = characterize_many(paths, out=out, parameters=PARAMS)
    second = time.perf_counter() - t0
    assert again.attrs["computed"] == 0 and again.attrs["skipped"] == 20 and again.attrs["errors"] == 1
    assert second < max(3.0, first / 3), (first, second)
    cols = [c for c in RESULT_COLUMNS if c != "seconds"]
    pd.testing.assert_frame_equal(again[cols].reset_index(drop=True), df[cols].reset_index(drop=True))

    # the command line resumes from the same folder and reports the failed input (exit status 1)
    res = CliRunner().invoke(
        main,
        [
            "batch",
            *map(str, paths),
            "--out",
            str(out),
            "--samples",
            "1000",
            "--min-fraction",
            str(1 / 100),
            "--max-fraction",
            "0.25",
            "--quiet",
        ],
    )
    assert res.exit_code == 1, res.output
    assert "0 computed, 20 already done, 1 failed" in res.output


def test_batch_without_inputs_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(main, ["batch", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    with pytest.raises(atlascope.errors.InvalidInputError):
        characterize_many([], out=tmp_path)


@pytest.mark.slow
def test_batch_on_an_existing_scheduler_by_address(inputs, tmp_path):
    """`--scheduler tcp://HOST:PORT`: the batch connects to a running scheduler and leaves it running."""
    paths, origin = inputs
    good = [p for p in paths if p.name in origin][:3]
    from distributed import Client, LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        df = characterize_many(good, client=address, out=tmp_path / "b", parameters=PARAMS)
        assert df.attrs["computed"] == 3 and df.attrs["errors"] == 0
        assert set(df["input_name"]) == {p.name for p in good}
        with Client(address) as c:  # the scheduler was not closed by the batch
            assert c.submit(lambda: 41 + 1).result() == 42


def test_both_error_paths_write_the_same_error_file(tmp_path):
    """A task that raised on its worker and a task whose worker died leave the same kind of error file."""
    parts = tmp_path / "parts"
    parts.mkdir()
    bad = str(tmp_path / "bad.nii.gz")
    spec = ("no such atlas", "mni152")  # fails fast, before any map is loaded
    on_worker = _run_one(bad, "k-worker", "mni152", spec, PARAMS.as_dict(), str(parts))
    died: Future = Future()
    died.set_exception(RuntimeError("worker died"))
    on_driver = _outcome_of(died, bad, "k-driver", parts)

    assert on_worker.error and on_worker.frame is None  # stored in the part file, not sent back
    assert on_driver.error == "RuntimeError: worker died"
    records = [json.loads((parts / f"{k}.error.json").read_text()) for k in ("k-worker", "k-driver")]
    assert set(records[0]) == set(records[1]) == {"input", "key", "error", "seconds"}
    assert records[0]["seconds"] >= 0 and records[1]["seconds"] is None
    for key, outcome in (("k-worker", on_worker), ("k-driver", on_driver)):
        row = _load_part(parts, bad, key)
        assert list(row.columns) == list(RESULT_COLUMNS) and len(row) == 1
        assert row["error"].iloc[0] == outcome.error and row["key"].iloc[0] == key

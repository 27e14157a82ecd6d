"""A lean core: batch mode and the precomputed label decoder are pip extras with a clear error.

A missing optional package is simulated with ``sys.modules[name] = None`` (Python then raises
ImportError on ``import name``), so the real code paths run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from atlascope.batch import characterize_many
from atlascope.commons import require_extra
from atlascope.errors import AtlascopeError, MissingExtraError
from atlascope.volumes.precomputed import PrecomputedProvider, PrecomputedScale

_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
OPTIONAL = ("dask", "distributed", "pyarrow", "compressed-segmentation", "pytest")


def _project() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    with open(_PYPROJECT, "rb") as f:
        return tomllib.load(f)["project"]


def _names(requirements: list[str]) -> set[str]:
    return {r.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in requirements}


def test_core_dependencies_leave_out_the_extras():
    project = _project()
    assert not _names(project["dependencies"]) & set(OPTIONAL)
    extras = project["optional-dependencies"]
    assert {"dask", "distributed", "pyarrow"} <= _names(extras["batch"])
    assert "compressed-segmentation" in _names(extras["precomputed"])
    assert extras["all"] == ["atlascope[batch,precomputed]"]
    assert "atlascope[all]" in extras["test"]


def test_require_extra_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingExtraError, match=r'pip install "atlascope\[batch\]"') as info:
        require_extra("distributed", "batch", "Batch mode")
    assert isinstance(info.value, AtlascopeError) and isinstance(info.value, ImportError)
    assert require_extra("numpy", "batch", "Batch mode") is np


@pytest.mark.parametrize("missing", ["distributed", "pyarrow"])
def test_batch_without_its_extra_fails_before_any_work(monkeypatch, tmp_path, missing):
    monkeypatch.setitem(sys.modules, missing, None)
    out = tmp_path / "out"
    with pytest.raises(MissingExtraError, match=r"atlascope\[batch\]") as info:
        characterize_many([tmp_path / "missing.nii.gz"], out=out)
    assert repr(missing) in str(info.value)
    assert not out.exists()  # nothing written


def test_precomputed_labels_without_decoder_fail_before_download(monkeypatch):
    monkeypatch.setitem(sys.modules, "compressed_segmentation", None)
    # an unreachable URL: the check must come before any request
    provider = PrecomputedProvider("http://127.0.0.1:9/labels")
    scale = PrecomputedScale(
        key="1mm",
        size=(8, 8, 8),
        resolution_nm=(1e6, 1e6, 1e6),
        voxel_offset=(0, 0, 0),
        chunk_size=(8, 8, 8),
        encoding="compressed_segmentation",
        block_size=(8, 8, 8),
    )
    with pytest.raises(MissingExtraError, match=r"atlascope\[precomputed\]"):
        provider.read(scale)

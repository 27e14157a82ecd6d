"""Fast start: ``import atlascope`` and ``atlascope --help`` load no heavy library until it is used.

Each check runs a fresh interpreter (``sys.executable``) so modules imported by other tests do not count.
Timing limits are generous multiples of the targets (shared 2-core machine); the benchmarks
(``benchmarks/bench_startup.py``) measure the targets themselves.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

#: Libraries ``import atlascope`` must not import (nibabel itself imports the bare ``scipy``
#: package, ~10 ms, so scipy's heavy subpackages are checked instead).
HEAVY = [
    "pandas",
    "scipy.ndimage",
    "scipy.sparse",
    "scipy.stats",
    "scipy.spatial",
    "sklearn",
    "matplotlib",
    "nilearn",
    "requests",
    "dask",
    "distributed",
    "pyarrow",
    "jinja2",
]


def _loaded_after(code: str) -> list[str]:
    """Heavy modules present in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        "import atlascope",
        "import atlascope as siibra; siibra.volumes; siibra.maps; siibra.Point",
        "import atlascope.cli",
    ],
)
def test_import_loads_no_heavy_library(code):
    assert _loaded_after(code) == []


def test_heavy_library_arrives_when_used():
    # a dense cloud on a small grid takes the box-filter path, which imports scipy.ndimage there
    code = (
        "import numpy as np, atlascope\n"
        "from atlascope.analysis import points_to_density\n"
        "d = points_to_density(np.random.default_rng(0).uniform(-20, 20, (5000, 3)), 6.0, (40, 40, 40),"
        " np.diag([2.0, 2.0, 2.0, 1.0]) + np.array([[0, 0, 0, -40]] * 3 + [[0, 0, 0, 0]]))\n"
        "assert d.sum() > 0"
    )
    assert "scipy.ndimage" in _loaded_after(code)


def test_importtime_has_no_heavy_library():
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import atlascope"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    names = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert not names & set(HEAVY)
    assert "atlascope" in names


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_cli_answers_quickly(args):
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "atlascope.cli", *args], capture_output=True, text=True, timeout=60
        )
        best = min(best, time.perf_counter() - t0)
        assert out.returncode == 0, out.stderr
    assert "atlascope" in out.stdout
    assert best < 1.5, f"atlascope {' '.join(args)} took {best:.2f} s (target 0.5 s)"


def test_assign_one_coordinate_stays_lean():
    # a fresh process with a warm cache: the coordinate path needs pandas, not the plotting,
    # clustering or resampling libraries; the first run builds the map's index into the session cache
    code = (
        "import sys\n"
        "from atlascope.cli import main\n"
        "main(['assign', '--coords', '-20,-80,0', '--map', 'julich fsl', '--tsv'], standalone_mode=False)\n"
    )
    _loaded_after(code)  # warm-up (index build)
    loaded = _loaded_after(code)
    assert "pandas" in loaded
    assert not set(loaded) & {"scipy.ndimage", "sklearn", "matplotlib", "nilearn", "requests", "dask"}


def test_assign_in_every_atlas_needs_no_pandas():
    # `atlascope assign --coords` labels in all offline atlases without pandas (half of its start-up
    # time); the feature pack, which needs pandas, loads only at the first feature lookup
    code = (
        "import sys\n"
        "from atlascope.cli import main\n"
        "main(['assign', '--coords', '-20,-80,0', '--tsv'], standalone_mode=False)\n"
    )
    _loaded_after(code)  # warm-up (index builds)
    loaded = _loaded_after(code)
    assert not set(loaded) & {"pandas", "scipy.ndimage", "sklearn", "matplotlib", "nilearn", "requests", "dask"}


def test_feature_pack_loads_at_the_first_feature_lookup():
    from atlascope.configuration.builtin import load_builtin
    from atlascope.core.registry import Registry

    reg = Registry()
    load_builtin(reg)
    assert reg.maps and "builtin feature pack" in reg.sources
    assert not reg._features  # map lookups did not load the feature tables
    fingerprints = [f for f in reg.features if type(f).__name__ == "ReceptorDensityFingerprint"]
    assert fingerprints and reg._features

"""Fast start: ``import atlascope`` and ``atlascope --help`` load no heavy library until it is used.

Each check runs a fresh interpreter (``sys.executable``) so modules imported by other tests do not count.
Nothing here is timed (the machine is shared): the checks are on which modules get imported, and the
benchmarks (``benchmarks/bench_startup.py``) measure the time targets themselves.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import atlascope

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


def _imported_by(argv: list[str]) -> set[str]:
    """Every module a fresh ``sys.executable <argv>`` imports (from ``-X importtime``), checking it exits 0."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}


def _console_script() -> list[str]:
    """``[path]`` of the ``atlascope`` console script beside this interpreter (the file ``pip install``
    writes), or, where there is none, ``["-c", code]`` doing what pip's wrapper does."""
    script = shutil.which("atlascope", path=str(Path(sys.executable).parent))
    if script:
        return [script]
    (ep,) = entry_points(group="console_scripts", name="atlascope")
    module, function = ep.value.split(":")
    return ["-c", f"import re, sys\nfrom {module} import {function}\nsys.exit({function}())"]


def test_python_m_atlascope_runs_the_command_line():
    out = subprocess.run(
        [sys.executable, "-m", "atlascope", "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == f"atlascope, version {atlascope.__version__}"
    out = subprocess.run(
        [sys.executable, "-m", "atlascope", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.startswith("Usage: atlascope ")


def test_entry_point_is_the_cli_main():
    (ep,) = entry_points(group="console_scripts", name="atlascope")
    assert ep.value == "atlascope.cli:main"


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_cli_answers_without_heavy_libraries(args):
    # --help and --version import no heavy library, through the entry point and through python -m;
    # the entry point imports nothing that python -m does not (the console-script wrapper adds no
    # importlib.metadata / pkg_resources look-up), and neither reads package metadata (the version
    # is atlascope.__version__, which pyproject.toml also reads)
    via_script = _imported_by([*_console_script(), *args])
    via_m = _imported_by(["-m", "atlascope", *args])
    for loaded in (via_script, via_m):
        assert "atlascope.cli" in loaded
        assert not loaded & set(HEAVY)
        assert "pkg_resources" not in loaded
    assert via_script - via_m <= {"re"}
    assert "importlib.metadata" not in via_script | via_m


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



def test_installed_version_is_the_package_version():
    # one version string: pyproject.toml reads atlascope.__version__ (setuptools dynamic attr)
    from importlib.metadata import version

    assert version("atlascope") == atlascope.__version__


def test_import_leaves_the_algorithms_and_numpy_random_unloaded():
    # the analysis package (and numpy.random, ~20 ms) loads at the first clustering, sampling or
    # assignment, not with `import atlascope` or the CLI's --help
    probe = "import atlascope, sys; print(sorted(m for m in ('atlascope.analysis', 'numpy.random') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"

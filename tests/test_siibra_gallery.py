"""siibra-python's gallery examples that need only MNI152 data, run with ``import atlascope as siibra``.

Two parts.

1. **The examples' own text** (``test_gallery_example_verbatim``): each example file is read from a
   siibra-python checkout at test time (``$SIIBRA_PYTHON_EXAMPLES`` = its ``examples/`` folder; the
   tests skip without it, since the examples' code is not copied into this repository), its one
   ``import siibra`` line becomes ``import atlascope as siibra`` and nothing else changes. It runs in
   a fresh process under Agg against the 127.0.0.1 fixture mirror (``fixture_mirror``: stand-in
   Julich-Brain 2.9 / 3.0.3 and DiFuMo files at the catalogue's real URLs, ``julich29=True``), cell by
   cell (``# %%``); after a cell, the checks test what the example's text tells the reader to expect.
   Cells are left out only where they need data that is not MNI152 map data, and cells that fail
   the same way under siibra 1.0.1a25 itself (stale against siibra or nilearn) must raise that error:

   - ``04_locations/000``: the ``point.warp('bigbrain' / 'colin27')`` cell (siibra's spatial
     transformation service) and the two ``siibra.features.get(bbox, 'image')`` cells (EBRAINS
     image features) are left out;
   - ``05_anatomical_assignment/001``: the last cell passes a Region as a plot title, which
     nilearn >= 0.11 refuses with ``TypeError`` for siibra's Region as well (checked with siibra
     1.0.1a25 and nilearn 0.14.1);
   - ``05_anatomical_assignment/002``: ``view_img(..., colorbar="south")`` raises ``TypeError`` in
     nilearn >= 0.11 and ``query('Correlation >= 0.35')`` raises pandas' ``UndefinedVariableError``
     (siibra 1.0.1a25's column is ``correlation``), both as under siibra; the cells before the
     error (DiFuMo ``fetch(region=...)``, ``assign(img)``) run;
   - ``01_atlases_and_parcellations/005``: ``props.components[0]`` raises ``AttributeError`` in
     siibra 1.0.1a25 too (``spatial_props`` returns a list there); the cells before it
     (``siibra.atlases.get("human")``, ``atlas.spaces.get``, ``atlas.get_region``) run;
   - excluded: ``03_data_features/002_colorize_map`` (needs EBRAINS receptor fingerprints and
     nilearn's fsaverage6 download) and every BigBrain / surface / feature example.

2. **The same calls on the offline pack** (the other tests): the four examples' calls as before,
   with the FSL Jülich maps ("julich fsl") in place of Julich-Brain 2.9, values per region in
   place of receptor densities, and no warps or feature queries; they run without the mirror or a
   checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from nilearn import plotting  # noqa: E402

import atlascope as siibra  # noqa: E402
from fixture_mirror import TAG, build_fixture_mirror  # noqa: E402
from httpserver import LocalServer  # noqa: E402
from shared_data import shared_path  # noqa: E402

EXAMPLES_VAR = "SIIBRA_PYTHON_EXAMPLES"
SRC = Path(__file__).resolve().parent.parent / "src"


@dataclass(frozen=True)
class Example:
    """One gallery file: cells left out (marker -> reason), cells that must raise (marker ->
    exception name), and checks run after the cell holding a marker (marker -> code)."""

    path: str
    leave_out: dict[str, str] = field(default_factory=dict)
    must_raise: dict[str, str] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)
    xfail: str = ""


GALLERY = (
    Example(
        "04_locations/000_employing_locations_of_interest.py",
        leave_out={
            "point.warp(": "warps to BigBrain / COLIN27 need siibra's transformation service",
            "siibra.features.get(bbox": "image features are EBRAINS queries",
            "for f in features_of_interest": "image features are EBRAINS queries",
        },
        checks={
            "point_uncertain = siibra.Point": "assert point_uncertain.sigma == 3.0 and point.sigma == 0",
            "siibra.PointCloud(\n    np.array": (
                "assert len(ptset) == 10000\n"
                "assert np.allclose(ptset.centroid, (-27.75, -32.0, 63.725), atol=0.3)"
            ),
            "from_pointcloud(ptset)": (
                "kde = np.asanyarray(kde_volume.fetch().dataobj)\n"
                "assert kde.shape == siibra.get_template('mni152').fetch().shape\n"
                "assert abs(kde.sum() - 1) < 1e-3  # normalised density"
            ),
        },
    ),
    Example(
        "05_anatomical_assignment/001_coordinates.py",
        must_raise={"title=assignment['region']": "TypeError"},
        checks={
            "assign(point)\n": (
                "top = assignments.sort_values(by=['map value'], ascending=False).iloc[0]\n"
                "assert 'PostCG' in str(top['region']) and 'right' in str(top['region']), top"
            ),
            "assign(point_uncertain)": "assert len(assignments.query('`input containedness` >= 0.5'))",
        },
    ),
    Example(
        "05_anatomical_assignment/002_activation_maps.py",
        must_raise={'colorbar="south"': "TypeError", "query('Correlation": "UndefinedVariableError"},
    ),
    Example(
        "01_atlases_and_parcellations/005_brain_region_spatialprops.py",
        must_raise={"props.components[0]": "AttributeError"},
        checks={
            "print(atlas.spaces)": (
                "assert atlas.name == 'Multilevel Human Atlas' and atlas.species == 'Homo sapiens'\n"
                "assert 'MNI 152 ICBM 2009c Nonlinear Asymmetric' in atlas.spaces.names"
            ),
            "print(v1_left)": (
                "assert space.name == 'MNI 152 ICBM 2009c Nonlinear Asymmetric'\n"
                "assert 'hOc1' in v1_left.name and v1_left.parcellation.name.endswith('(v2.9)')"
            ),
            "pprint(props)": "assert props and props[0].centroid.coordinate[0] < 0  # left",
        },
    ),
)

DRIVER = """
import json, re, sys, traceback
import matplotlib
matplotlib.use("Agg")
spec = json.loads(sys.argv[1])
text = open(spec["file"], encoding="utf-8").read()
if text.count("import siibra\\n") != 1:
    sys.exit("IMPORT: the example has not exactly one 'import siibra' line")
text = text.replace("import siibra\\n", "import atlascope as siibra\\n")
ns = {"__name__": "__main__"}
seen = set()
for i, cell in enumerate(re.split(r"(?m)^# %%.*\\n", text)):
    seen.update(m for m in (*spec["leave_out"], *spec["must_raise"], *spec["checks"]) if m in cell)
    if any(m in cell for m in spec["leave_out"]):
        print(f"CELL {i} left out")
        continue
    expected = [e for m, e in spec["must_raise"].items() if m in cell]
    try:
        exec(compile(cell, f"{spec['file']} cell {i}", "exec"), ns)
    except Exception as exc:
        if expected and type(exc).__name__ in expected:
            print(f"CELL {i} raised {type(exc).__name__} as siibra does")
            continue
        traceback.print_exc()
        sys.exit(f"CELL {i} failed")
    if expected:
        sys.exit(f"CELL {i} ran, but siibra raises {expected[0]} there")
    for marker, code in spec["checks"].items():
        if marker in cell:
            exec(compile(code, f"check {marker!r}", "exec"), ns)
            print(f"CELL {i} checked")
unmatched = {*spec["leave_out"], *spec["must_raise"], *spec["checks"]} - seen
if unmatched:
    sys.exit(f"the example changed: no cell holds {sorted(unmatched)}")
print("GALLERY OK")
"""


@pytest.fixture(scope="module")
def gallery_env(tmp_path_factory):
    """Environment of a process that sees the fixture mirror and its catalogue (one cache)."""
    root = tmp_path_factory.mktemp("gallery")
    fixture = build_fixture_mirror(shared_path("siibra-configurations"), root / "fixture", julich29=True)
    with LocalServer() as srv:
        srv.serve_folder(fixture.mirror)
        env = dict(
            os.environ,
            ATLASCOPE_MIRROR=srv.url,
            ATLASCOPE_OFFLINE="1",
            ATLASCOPE_CACHE=str(root / "cache"),
            ATLASCOPE_CONFIGURATION=f"github:{TAG}",
            ATLASCOPE_PROGRESS="0",
            MPLBACKEND="Agg",
            PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        )
        yield env


@pytest.mark.parametrize(
    "example", GALLERY, ids=[e.path.split("/")[-1][:3] + "-" + e.path.split("/")[0] for e in GALLERY]
)
def test_gallery_example_verbatim(example, request):
    folder = os.environ.get(EXAMPLES_VAR)
    if not folder:
        pytest.skip(f"set {EXAMPLES_VAR} to the examples/ folder of a siibra-python checkout")
    path = Path(folder) / example.path
    if not path.is_file():
        pytest.skip(f"{path} is not there")
    if example.xfail:
        request.applymarker(pytest.mark.xfail(reason=example.xfail, strict=True))
    env = request.getfixturevalue("gallery_env")
    spec = {
        "file": str(path),
        "leave_out": list(example.leave_out),
        "must_raise": example.must_raise,
        "checks": example.checks,
    }
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(spec)], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0 and "GALLERY OK" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-4000:]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_employing_locations_of_interest():
    # 04_locations/000_employing_locations_of_interest.py
    point = siibra.Point((27.75, -32.0, 63.725), space="mni152")
    point_uncertain = siibra.Point((27.75, -32.0, 63.725), space="mni152", sigma_mm=3.0)
    assert point_uncertain.sigma == 3.0
    siibra.PointCloud([(27.75, -32.0, 63.725), (27.75, -32.0, 63.725)], space="mni152", sigma_mm=[0.0, 3.0])
    np.random.seed(0)
    ptset = siibra.PointCloud(
        np.array(
            [
                np.random.randn(10000) * 3 - 27.75,
                np.random.randn(10000) * 3 - 32.0,
                np.random.randn(10000) * 3 + 63.725,
            ]
        ).T,
        space="mni152",
    )
    box = ptset.boundingbox
    assert box.contains([ptset.centroid]).all()
    np.testing.assert_allclose(ptset.centroid, (-27.75, -32.0, 63.725), atol=0.2)
    kde_volume = siibra.volumes.from_pointcloud(ptset, target=siibra.get_template("mni152"))
    plotting.view_img(kde_volume.fetch())
    bbox = siibra.BoundingBox((-29.75, -33.0, 63.725), (-25.75, -30.0, 60.725), space="mni152")
    assert bbox.shape == pytest.approx((4.0, 3.0, 3.0))
    inside = ptset.intersection(bbox)
    assert inside is not None and 0 < len(inside) < len(ptset)
    assert point.intersection(bbox) is None


def test_assigning_brain_regions_to_coordinates():
    # 05_anatomical_assignment/001_coordinates.py
    with siibra.QUIET:
        julich_pmaps = siibra.get_map(parcellation="julich fsl", space="mni152", maptype="statistical")
    point = siibra.Point((27.75, -32.0, 63.725), space="mni152")
    with siibra.QUIET:
        assignments = julich_pmaps.assign(point)
    top = assignments.sort_values(by=["map value"], ascending=False)
    assert "right" in str(top.iloc[0]["region"])  # "located in PostCG of the right hemisphere"
    point_uncertain = siibra.Point((27.75, -32.0, 63.725), space="mni152", sigma_mm=3.0)
    with siibra.QUIET:
        assignments = julich_pmaps.assign(point_uncertain)
    likely = assignments.query("`input containedness` >= 0.5").dropna(axis=1)
    assert len(likely)
    for _index, assignment in assignments[assignments["input containedness"] >= 0.5].iterrows():
        pmap = julich_pmaps.fetch(region=assignment["region"])
        plotting.plot_stat_map(pmap, cut_coords=tuple(point), title=str(assignment["region"]))


def test_spatial_properties_of_brain_regions():
    # 01_atlases_and_parcellations/005_brain_region_spatialprops.py
    space = siibra.spaces["mni152"]
    v1_left = siibra.get_region("julich fsl", "v1 left")
    props = v1_left.spatial_props(space)
    centroid = props[0].centroid
    assert isinstance(centroid, siibra.Point) and centroid.space is not None
    assert centroid.coordinate[0] < 0  # left hemisphere
    mask = v1_left.get_regional_mask(space)
    plotting.plot_roi(mask.fetch(), title=f"Mask of {v1_left.name} in {space.name}")
    centroids = v1_left.compute_centroids(space)
    assert len(centroids) == len(props)


def test_colorizing_a_map():
    # 03_data_features/002_colorize_map.py (one number per region instead of receptor densities)
    jubrain = siibra.parcellations["julich fsl"]
    mapping = {r: float(i) for i, r in enumerate(jubrain.find("V1"), start=1)}
    colorized_map = siibra.get_map(jubrain, "mni152", maptype=siibra.MapType.LABELLED).colorize(mapping)
    values = np.asanyarray(colorized_map.fetch().dataobj)
    assert set(np.unique(values)) - {0.0} <= set(mapping.values())
    plotting.plot_stat_map(colorized_map.fetch(), cmap="viridis", title="values per region")

"""atlasreader 0.3.2 against atlascope, side by side in one run (issue 8).

The labelled cluster table of nilearn's example t-map resampled to 2 mm (threshold 3.1, extent 20
voxels, two-sided, all atlases), and one coordinate labelled in all atlases as a fresh process.
atlasreader needs ``nilearn<0.12`` and ``pandas<3``: it runs in its own venv, made once under
``benchmarks/.venv-atlasreader`` (git-ignored). Every measured run is a fresh subprocess that reports
its own wall time and peak RSS; atlascope's atlas indices are warmed first (one untimed run).

Usage: ``python benchmarks/bench_atlasreader.py [--out results.json]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-atlasreader"
REQUIREMENTS = ["atlasreader==0.3.2", "nilearn<0.12", "pandas<3"]
THRESHOLD, EXTENT = 3.1, 20
COORD = (40.0, -20.0, 50.0)

# Child scripts (str.format templates): each prints one JSON line with "seconds" and "peak_rss_mib".
_FOOTER = """
import json, resource
print(json.dumps({{"seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
ATLASREADER_TABLE = """
import sys, time, warnings
warnings.simplefilter("ignore")
from atlasreader.atlasreader import get_statmap_info
t0 = time.perf_counter()
clusters, peaks = get_statmap_info(sys.argv[1], cluster_extent={extent}, atlas="all",
                                   voxel_thresh={threshold}, direction="both")
seconds = time.perf_counter() - t0
""" + _FOOTER
ATLASCOPE_TABLE = """
import sys, time
import atlascope
t0 = time.perf_counter()
table = atlascope.get_clusters_table(sys.argv[1], {threshold}, {extent}, two_sided=True, atlases="all")
seconds = time.perf_counter() - t0
""" + _FOOTER
ATLASREADER_COORD = """
import time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
from atlasreader.atlasreader import check_atlases, read_atlas_peak
labels = [read_atlas_peak(a, {coord}) for a in check_atlases("all")]
seconds = time.perf_counter() - t0
""" + _FOOTER


def ensure_venv() -> Path:
    """The venv's python, created and filled on the first run."""
    python = VENV / "bin" / "python"
    if not python.exists():
        venv.create(VENV, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    return python


def run_child(python: str, code: str, *args: str) -> dict:
    """Run ``code`` in a fresh process; its JSON line plus the process's own wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["process_seconds"] = wall
    return row


def run_cli(cmd: list[str]) -> dict:
    """Wall time and peak RSS of a fresh command-line process."""
    code = (
        "import json, resource, subprocess, sys, time\n"
        "t0 = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
        "print(json.dumps({'seconds': time.perf_counter() - t0,"
        " 'peak_rss_mib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n"
    )
    return run_child(sys.executable, code, *cmd)


def resampled_example(folder: Path) -> Path:
    """nilearn's example t-map resampled to 2 mm (continuous interpolation), written to ``folder``."""
    import numpy as np
    from nilearn.image import resample_img

    from atlascope.workflow import example_image_path

    img = resample_img(example_image_path(), target_affine=np.diag([2.0, 2.0, 2.0]), interpolation="continuous",
                       force_resample=True, copy_header=True)
    path = folder / "tmap_2mm.nii.gz"
    img.to_filename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="Write the results as JSON here.")
    args = parser.parse_args()
    ar_python = str(ensure_venv())
    with tempfile.TemporaryDirectory() as tmp:
        img = str(resampled_example(Path(tmp)))
        fmt = {"threshold": THRESHOLD, "extent": EXTENT, "coord": COORD}
        run_child(sys.executable, ATLASCOPE_TABLE.format(**fmt), img)  # warm the indices (untimed)
        atlascope_cli = [str(Path(sys.executable).with_name("atlascope")), "assign", "--coords", ",".join(map(str, COORD))]
        run_cli(atlascope_cli)  # warm
        results = {
            "cluster table": {
                "atlasreader": run_child(ar_python, ATLASREADER_TABLE.format(**fmt), img),
                "atlascope": run_child(sys.executable, ATLASCOPE_TABLE.format(**fmt), img),
            },
            "one coordinate, all atlases, fresh process": {
                "atlasreader": run_child(ar_python, ATLASREADER_COORD.format(**fmt)),
                "atlascope": run_cli(atlascope_cli),
            },
        }
    for task, r in results.items():
        a, b = r["atlasreader"], r["atlascope"]
        r["speed-up"] = a["seconds"] / b["seconds"]
        r["memory ratio"] = a["peak_rss_mib"] / b["peak_rss_mib"]
        print(
            f"{task}: atlasreader {a['seconds']:.2f} s / {a['peak_rss_mib']:.0f} MiB, "
            f"atlascope {b['seconds']:.2f} s / {b['peak_rss_mib']:.0f} MiB "
            f"-> {r['speed-up']:.1f}x faster, {r['memory ratio']:.1f}x leaner"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

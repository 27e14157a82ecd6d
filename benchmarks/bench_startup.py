#!/usr/bin/env python
"""Where users wait: import, CLI cold start, one coordinate, one cluster volume, the whole job, install.

Every timing is the best of ``--repeat`` fresh processes (the machine is shared and noisy); ratios are
computed from figures measured in the same run. Not run by the tests. Sections (``--sections``):

  import      ``python -c "import atlascope"`` wall time (beside a bare interpreter's), and which heavy
              libraries it loaded
  cli         ``atlascope --help``, ``atlascope --version`` (target < 0.5 s), through the console script,
              the ``atlascope`` found on $PATH when that is another file (a pyenv shim), and
              ``python -m atlascope``; prints the entry point / python -m ratio
  coords      ``atlascope assign --coords -20,-80,0`` (every offline atlas) and with ``--map 'julich fsl'``,
              warm cache (target < 1 s), through the same launchers
  volume      one cluster volume against the 121 Jülich probability maps, in one process: atlascope's
              ``Map.assign`` (second call) against (a) siibra's reference figures measured on this
              machine with ../shared/bench/bench_assign.py (benchmarks/RESULTS.md; siibra itself is
              not run here: it takes minutes) and (b) a measured lower bound: one numpy pass over the
              touched index rows (row lookup, expansion, one weighted bincount); targets >= 50x siibra
              and <= 3x the lower bound
  job         ``atlascope characterize --example`` warm, report included: wall time, peak RSS
              (target < 5 s, < 400 MB)
  install     opt-in (needs the package registry; minutes): ``pip install <before>`` (default 5231c5d^,
              the parent of the lean-core change), ``pip install <after>`` and ``"<after>[all]"``
              (default HEAD), each from a temporary git worktree into a fresh venv with an empty pip
              cache: wall and CPU time, ``du -sm`` of site-packages, and the after / before ratios

Fresh processes run with the bytecode cache on (see ``_user_env``); every line shows the 1-minute load
average, as ``uptime`` does.

Usage: python benchmarks/bench_startup.py [--sections import,cli,coords,volume,job,install] [--repeat 3]
                                          [--json out.json] [--install-before REV] [--install-after REV]
                                          [--install-prefix /tmp/x-]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = ["pandas", "scipy.ndimage", "sklearn", "matplotlib", "nilearn", "requests"]

#: siibra-python 1.0.1a25 on the same maps and inputs, 2-core machine (benchmarks/RESULTS.md, from
#: ../shared/bench/bench_assign.py and its README): seconds per assign call.
SIIBRA_S = {
    "volume_nilearn_3mm": (40.1, 40.1),  # nilearn's 3 mm t-map, positive part, resampled to 1 mm
    "volume_synthetic_tpl": (16.0, 16.0),  # fig3 synthetic input on the 2009c template grid
    "volume_synthetic_1mm": (15.5, 15.5),  # fig3 synthetic input on the pmap grid
    "cluster_kde": (2.4, 13.6),  # one cluster volume of the fig3 workflow (README range)
}


def _launchers() -> dict[str, list[str]]:
    """The ways a user starts the command line: name -> argv prefix.

    ``entry point`` is the ``atlascope`` console script beside this interpreter (what ``pip install``
    writes into a venv's ``bin/``); ``entry point on PATH`` is added when ``$PATH`` finds another file
    first (e.g. a pyenv shim, which re-executes through bash); ``python -m atlascope`` runs the package.
    """
    out = {}
    script = Path(sys.executable).parent / "atlascope"
    if script.exists():
        out["entry point"] = [str(script)]
    found = shutil.which("atlascope")
    if found and (not script.exists() or not Path(found).samefile(script)):
        out["entry point on PATH"] = [found]
    out["python -m atlascope"] = [sys.executable, "-m", "atlascope"]
    return out


def _atlascope_cmd() -> list[str]:
    """The first launcher of :func:`_launchers` (the console script when there is one)."""
    return next(iter(_launchers().values()))


def _load() -> str:
    """The 1-minute load average of the machine (as ``uptime`` shows it), for every timing line."""
    return f"load {os.getloadavg()[0]:.1f}"


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _user_env() -> dict[str, str]:
    """The environment of the measured commands: this one, with Python's bytecode cache on.

    An installed package has its bytecode compiled at install time; a shell with
    ``PYTHONDONTWRITEBYTECODE=1`` would instead recompile every module of a source checkout in every
    fresh process (up to 0.25 s CPU for one coordinate here). The bytecode goes to a folder of the temp dir
    (``PYTHONPYCACHEPREFIX``), not into the working tree.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "atlascope-bench-pycache")
    return env


def _run(
    cmd: list[str], env: dict | None = None, timeout: float = 600, cwd: str | Path | None = None
) -> tuple[float, str, float]:
    """Run ``cmd``; wall seconds, its stdout, and CPU seconds (user + system of it and its children).

    ``env`` defaults to :func:`_user_env`. CPU time is a proxy for the wall time of an idle machine
    when other work shares the cores (wall time then also counts waiting for a core, and, for installs,
    for the network).
    """
    env = _user_env() if env is None else env
    c0, t0 = _children_cpu(), time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=cwd)
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - c0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr[-2000:]}")
    return wall, out.stdout, cpu


def _best(cmd: list[str], repeat: int, env: dict | None = None) -> tuple[float, float]:
    """Best wall time and best CPU time (user + system) of ``repeat`` runs, in seconds."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, _out, cpu = _run(cmd, env)
        walls.append(wall)
        cpus.append(cpu)
    return min(walls), min(cpus)


def section_import(repeat: int) -> dict:
    cmd = [sys.executable, "-c", "import atlascope"]
    _run(cmd)  # warm (bytecode)
    wall, cpu = _best(cmd, repeat)
    bare, bare_cpu = _best([sys.executable, "-c", "pass"], repeat)
    probe = f"import atlascope, sys; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = _run([sys.executable, "-c", probe])[1].strip()
    print(
        f"import atlascope          {wall:7.3f} s (cpu {cpu:.3f} s; bare interpreter {bare:.3f} s, cpu "
        f"{bare_cpu:.3f} s)  heavy modules loaded: {loaded or 'none'}  {_load()}"
    )
    return {
        "import_s": wall,
        "import_cpu_s": cpu,
        "bare_interpreter_s": bare,
        "bare_interpreter_cpu_s": bare_cpu,
        "heavy_loaded": loaded.split(",") if loaded else [],
    }


def _per_launcher(args: list[str], repeat: int, target_s: float, label: str) -> dict:
    """Best wall / CPU seconds of ``<launcher> <args>`` for every launcher, after one warm-up run each."""
    res = {}
    for name, launcher in _launchers().items():
        cmd = [*launcher, *args]
        _run(cmd)  # warm: bytecode, and the cache (sparse indices) for a coordinate
        wall, cpu = _best(cmd, repeat)
        res[name] = {"wall_s": wall, "cpu_s": cpu}
        print(
            f"{label:<28s} {wall:7.3f} s (cpu {cpu:.3f} s)  target < {target_s:g} s  "
            f"{'ok' if wall < target_s else 'MISSED'}  via {name}  {_load()}",
            flush=True,
        )
    if "entry point" in res:
        ep, m = res["entry point"], res["python -m atlascope"]
        res["entry_point_vs_python_m"] = {"wall": ep["wall_s"] / m["wall_s"], "cpu": ep["cpu_s"] / m["cpu_s"]}
        print(
            f"{label:<28s} entry point / python -m: wall x{ep['wall_s'] / m['wall_s']:.2f}, "
            f"cpu x{ep['cpu_s'] / m['cpu_s']:.2f}"
        )
    return res


def section_cli(repeat: int) -> dict:
    """``atlascope --help`` and ``--version`` as fresh processes, through every launcher."""
    return {f"cli{arg}": _per_launcher([arg], repeat, 0.5, f"atlascope {arg}") for arg in ("--help", "--version")}


def section_coords(repeat: int) -> dict:
    """One coordinate labelled in every offline atlas (the command's default), and in one map, warm cache."""
    base = ["assign", "--coords", "-20,-80,0", "--tsv"]
    return {
        "all offline atlases": _per_launcher(base, repeat, 1.0, "assign --coords (all atlases)"),
        "--map 'julich fsl' (121 probability maps)": _per_launcher(
            [*base, "--map", "julich fsl"], repeat, 1.0, "assign --coords --map julich"
        ),
    }


_VOLUME_CHILD = r"""
import json, sys, time
sys.path.insert(0, {bench!r})
import numpy as np, nibabel as nib, atlascope
from atlascope import volumes
from atlascope.volumes.resampling import crop_resample
from bench_core import synthetic

def timed(f):
    w, c = time.perf_counter(), time.process_time(); f()
    return time.perf_counter() - w, time.process_time() - c

pm = atlascope.get_map("julich fsl", "mni152", "statistical")
idx = pm.sparse_index
out = {{}}
for step in {steps!r}:
    if step == "volume_nilearn_3mm":
        from atlascope.workflow import example_image_path
        img = nib.load(example_image_path())
    elif step == "cluster_kde":
        vol = volumes.from_nifti(synthetic(pm), "mni152", name="synthetic 1 mm")
        pts = vol.draw_samples(10000, e=5, sigma_mm=3, rng=np.random.default_rng(25))
        pts.find_clusters(min_fraction=1 / 300, max_fraction=1 / 2)
        img = volumes.from_pointcloud(pts, label=0, target=vol).fetch()
    else:
        img = synthetic(pm, on_template=step.endswith("tpl"))
    item = volumes.from_nifti(img, "mni152", name=step)
    item.fetch()
    with atlascope.QUIET:
        first = timed(lambda: pm.assign(item))[0]
    data = np.asanyarray(img.dataobj)
    sub, off = crop_resample(np.where(data > 0, data, 0), img.affine, idx.shape, idx.affine)
    sel = sub > 0
    flat = np.ravel_multi_index(tuple((np.argwhere(sel) + off).T), idx.shape)
    q = sub[sel].astype(np.float64)

    def lower():
        rows, hit = idx.rows_of(flat)
        owner, entries = idx.expand_rows(rows[hit])
        return np.bincount(idx.columns[entries], idx.values[entries] * q[hit][owner], idx.nregions)

    rows, hit = idx.rows_of(flat)
    pairs = int((idx.indptr[rows[hit] + 1] - idx.indptr[rows[hit]]).sum())
    # the call and the bound alternate, so that both see the same load; best of each (wall, CPU)
    calls, bounds = [], []
    with atlascope.QUIET:
        for _ in range({repeat}):
            calls.append(timed(lambda: pm.assign(item)))
            bounds.append(timed(lower))
    out[step] = dict(first_s=first, second_s=min(w for w, _ in calls), second_cpu_s=min(c for _, c in calls),
                     lower_s=min(w for w, _ in bounds), lower_cpu_s=min(c for _, c in bounds),
                     voxels=int(len(flat)), pairs=pairs)
print("RESULT " + json.dumps(out))
"""


def section_volume(repeat: int) -> dict:
    """Volume assignment against siibra's reference times and a lower bound measured in the same process.

    The second call and the bound alternate ``max(repeat, 7)`` times (best wall and best CPU time of
    each); the ratio to the bound is given for both, siibra's ratio from wall times.
    """
    steps = list(SIIBRA_S)
    code = _VOLUME_CHILD.format(bench=str(Path(__file__).parent), steps=steps, repeat=max(repeat, 7))
    out = _run([sys.executable, "-c", code])[1]
    res = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
    load = os.getloadavg()[0]
    for step, r in res.items():
        lo, hi = SIIBRA_S[step]
        r["vs_siibra"] = [lo / r["second_s"], hi / r["second_s"]]
        r["vs_lower_bound"] = r["second_s"] / r["lower_s"]
        r["vs_lower_bound_cpu"] = r["second_cpu_s"] / r["lower_cpu_s"]
        r["load"] = load
        print(
            f"{step:<22s} assign {r['first_s']:.3f} first / {r['second_s']:.3f} s (cpu {r['second_cpu_s']:.3f})  "
            f"lower bound {r['lower_s']:.3f} s (cpu {r['lower_cpu_s']:.3f}; {r['pairs']:,} pairs)  "
            f"x{r['vs_lower_bound']:.1f} of the bound (cpu x{r['vs_lower_bound_cpu']:.1f}; target <= 3)  "
            f"siibra/atlascope {r['vs_siibra'][0]:.0f}-{r['vs_siibra'][1]:.0f}x (target >= 50)  load {load:.1f}"
        )
    return res


def section_job(repeat: int) -> dict:
    """The whole job, warm: ``characterize --example`` with the report, and without its figures.

    Each run is a fresh process started by a small parent that reads its wall time, CPU time (user +
    system) and peak RSS; the best of ``repeat`` runs is kept. CPU time is printed beside wall time:
    on a shared machine the wall time also counts waiting for a core (the load average is shown).
    """
    res: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = [*_atlascope_cmd(), "characterize", "--example", "--out"]
        _run([*base, os.path.join(tmp, "out")])  # warm
        for key, extra in (("with report", []), ("--no-plots", ["--no-plots"])):
            walls, cpus, peaks = [], [], []
            for i in range(repeat):
                out = os.path.join(tmp, f"out-{len(extra)}-{i}")
                code = (
                    "import resource, subprocess, sys, time\n"
                    "t = time.perf_counter()\n"
                    f"subprocess.run({[*base, out, *extra]!r}, check=True, capture_output=True)\n"
                    "w = time.perf_counter() - t\n"
                    "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
                    "print(w, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024)"
                )
                w, cpu, peak = (float(v) for v in _run([sys.executable, "-c", code])[1].split())
                walls.append(w)
                cpus.append(cpu)
                peaks.append(peak)
                assert os.path.exists(os.path.join(out, "index.html"))
            wall, cpu, peak = min(walls), min(cpus), min(peaks)
            load = os.getloadavg()[0]
            verdict = "ok" if wall < 5 and peak < 400 else "MISSED"
            print(
                f"characterize --example {key:<12s} (warm) {wall:.2f} s (cpu {cpu:.2f} s), peak {peak:.0f} MiB"
                f"  load {load:.1f}" + (f"  target < 5 s, < 400 MiB  {verdict}" if not extra else "")
            )
            res[key] = {"wall_s": wall, "cpu_s": cpu, "peak_mib": peak, "walls": walls, "load": load}
    res.update(wall_s=res["with report"]["wall_s"], peak_mib=res["with report"]["peak_mib"])
    return res


def _du_mib(path: Path) -> float:
    """``du -sm`` of ``path``: disk usage in MiB."""
    return float(_run(["du", "-sm", str(path)])[1].split()[0])


def _install_one(tree: Path, extra: str, prefix: str, tag: str) -> dict:
    """``pip install <tree><extra>`` into a fresh venv with an empty pip cache, as a new user would.

    Parameters
    ----------
    tree : Path
        A checkout of the project (a git worktree, so the build writes nothing into the working tree).
    extra : str
        ``""`` or an extras suffix such as ``"[all]"``.
    prefix : str
        Path prefix of the venv (``<prefix>venv-<tag>``) and pip cache (``<prefix>pipcache-<tag>``).
    tag : str
        Short name of this install.

    Returns
    -------
    dict
        ``wall_s`` and ``cpu_s`` of the install (seconds; wall includes downloads), ``site_packages_mib``
        and ``venv_mib`` (``du -sm``), ``packages`` (distributions in the venv, pip's own included) and
        the 1-minute load average before/after.
    """
    venv, cache = Path(f"{prefix}venv-{tag}"), Path(f"{prefix}pipcache-{tag}")
    for path in (venv, cache):
        shutil.rmtree(path, ignore_errors=True)
    # a new user's environment: no PYTHONPATH, bytecode written where it belongs (inside the venv)
    drop = ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(PIP_CACHE_DIR=str(cache), PIP_DISABLE_PIP_VERSION_CHECK="1")
    _run([sys.executable, "-m", "venv", str(venv)], env=env)
    python = str(venv / "bin" / "python")
    site = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], env=env)[1].strip()
    )
    base = _du_mib(site)
    load0 = os.getloadavg()[0]
    wall, _out, cpu = _run([python, "-m", "pip", "install", "-q", f"{tree}{extra}"], env=env, timeout=3600)
    load1 = os.getloadavg()[0]
    freeze = _run([python, "-m", "pip", "list", "--format=freeze"], env=env)[1].split()
    _run([python, "-c", "import atlascope"], env=env, cwd=venv)  # installed and importable
    res = {
        "wall_s": wall,
        "cpu_s": cpu,
        "site_packages_mib": _du_mib(site),
        "empty_site_packages_mib": base,
        "venv_mib": _du_mib(venv),
        "packages": len(freeze),
        "load": [load0, load1],
    }
    shutil.rmtree(venv, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    return res


def section_install(repeat: int, before: str = "5231c5d^", after: str = "HEAD", prefix: str = "") -> dict:
    """Install time and size of the core install before and after the lean-core change.

    ``before`` and ``after`` are git revisions, checked out as temporary worktrees at
    ``<prefix>before`` / ``<prefix>after`` and removed at the end. Three installs, each into a fresh
    venv with its own empty pip cache (downloads count as a new user's would, so wall time depends on
    the network): ``pip install <before>``, ``pip install <after>`` and ``pip install "<after>[all]"``.
    ``repeat`` is not used (one install takes minutes). Needs the package registry.
    """
    prefix = prefix or tempfile.mkdtemp(prefix="atlascope-install-") + "/"
    trees = {}
    try:
        for name, rev in (("before", before), ("after", after)):
            trees[name] = Path(f"{prefix}{name}")
            _run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(trees[name]), rev])
        res = {"revisions": {"before": before, "after": after}}
        for tag, tree, extra in (("before", "before", ""), ("core", "after", ""), ("all", "after", "[all]")):
            r = res[tag] = _install_one(trees[tree], extra, prefix, tag)
            print(
                f"pip install {tree}{extra:<6s} ({(before if tree == 'before' else after)}) "
                f"{r['wall_s']:6.1f} s wall, {r['cpu_s']:5.1f} s CPU, site-packages "
                f"{r['site_packages_mib']:5.0f} MiB ({r['packages']} distributions)  load {r['load'][0]:.1f}->{r['load'][1]:.1f}",
                flush=True,
            )
    finally:
        for tree in trees.values():
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)
    b, c, a = res["before"], res["core"], res["all"]
    res["ratios"] = {
        "core_vs_before_wall": c["wall_s"] / b["wall_s"],
        "core_vs_before_cpu": c["cpu_s"] / b["cpu_s"],
        "core_vs_before_size": c["site_packages_mib"] / b["site_packages_mib"],
        "all_vs_before_wall": a["wall_s"] / b["wall_s"],
        "all_vs_before_size": a["site_packages_mib"] / b["site_packages_mib"],
    }
    ra = res["ratios"]
    print(
        f"core install after / before: wall x{ra['core_vs_before_wall']:.2f}, CPU x{ra['core_vs_before_cpu']:.2f}, "
        f"size x{ra['core_vs_before_size']:.2f}; [all] after / before: wall x{ra['all_vs_before_wall']:.2f}, "
        f"size x{ra['all_vs_before_size']:.2f}"
    )
    return res


SECTIONS = {
    "import": section_import,
    "cli": section_cli,
    "coords": section_coords,
    "volume": section_volume,
    "job": section_job,
    "install": section_install,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default="import,cli,coords,volume,job")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default="")
    ap.add_argument("--install-before", default="5231c5d^", help="git revision of the 'before' install")
    ap.add_argument("--install-after", default="HEAD", help="git revision of the 'after' installs")
    ap.add_argument(
        "--install-prefix", default="", help="path prefix of the install worktrees, venvs and pip caches"
    )
    args = ap.parse_args()
    options = {
        "install": {"before": args.install_before, "after": args.install_after, "prefix": args.install_prefix}
    }
    t0 = time.perf_counter()
    results = {}
    for name in [s for s in args.sections.split(",") if s]:
        print(f"-- {name} ({_load()}; {os.cpu_count()} cores)", flush=True)
        results[name] = SECTIONS[name](args.repeat, **options.get(name, {}))
    results["cpu_children_s"] = _children_cpu()
    print(f"total {time.perf_counter() - t0:.0f} s wall, {_children_cpu():.0f} s CPU of the measured commands; {_load()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Step timer for atlascope's benchmarks: wall time, CPU time and per-step peak RSS (Linux).

The step-local peak is the kernel's VmHWM after resetting it through ``/proc/self/clear_refs``; run
heavy steps in their own subprocess (see ``bench_core.py``) so that earlier steps do not pollute it.
"""

from __future__ import annotations

import json
import os
import resource
import time
from contextlib import contextmanager


def _status_mib() -> dict[str, float]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) / 1024.0
    return out


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class StepTimer:
    """Collects one row per ``with timer.step(name):`` block."""

    def __init__(self, tag: str = "") -> None:
        self.tag = tag
        self.rows: list[dict] = []
        self.process_peak = _maxrss_mib()

    @contextmanager
    def step(self, name: str, **extra):
        self.process_peak = max(self.process_peak, _maxrss_mib())
        ok = _reset_hwm()
        before = _status_mib()["VmRSS"]
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            st = _status_mib()
            self.process_peak = max(self.process_peak, _maxrss_mib(), st["VmHWM"])
            row = {
                "step": name,
                "wall_s": round(wall, 4),
                "cpu_s": round(cpu, 4),
                "rss_before_mib": round(before, 1),
                "step_peak_rss_mib": round(st["VmHWM"], 1) if ok else None,
                "process_peak_rss_mib": round(self.process_peak, 1),
                **extra,
            }
            self.rows.append(row)
            print(
                f"[{self.tag}] {name:<36s} wall {wall:8.3f} s  cpu {cpu:8.3f} s  "
                f"step-peak {row['step_peak_rss_mib']} MiB  process-peak {row['process_peak_rss_mib']} MiB",
                flush=True,
            )

    def dump(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(self.rows, f, indent=1)

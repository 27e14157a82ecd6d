"""Characterise many activation maps on dask.distributed, resumably.

:func:`characterize_many` works in three steps. *Plan*: every input gets a key hashing the file's
content, the space, the map and the parameters; inputs whose part file exists are done. *Run*: one
task per remaining input goes to a dask cluster (a ``LocalCluster`` of two single-threaded worker
processes by default, or a running scheduler); each worker resolves the map and loads its sparse index
once and reuses it for every input it gets, and writes the input's result to
``out/parts/<key>.parquet`` as soon as it is done. *Collect*: the parts, in the order of the inputs,
become one table (and ``results.parquet``, ``results.tsv``, ``errors.tsv``, ``batch.json``).

A failed input is recorded in ``out/parts/<key>.error.json`` with the keys ``input``, ``key``,
``error`` and ``seconds`` (null when unknown), whether its task raised on the worker or the worker
died. Errors of one input never stop the others, and a rerun skips every input whose part exists, so
an interrupted batch resumes where it stopped.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .commons import QUIET, logger, progress, require_extra
from .errors import AtlascopeError, InvalidInputError
from .files import atomic_write, short_digest
from .maps.map import METRIC_COLUMNS, Map
from .report import flatten_assignments
from .workflow import DEFAULT_MAP, Parameters, characterize, resolve_map

__all__ = ["characterize_many", "RESULT_COLUMNS", "input_key"]

#: Columns of the batch result, one row per (input, cluster, connected component, region).
RESULT_COLUMNS = (
    "input",
    "input_name",
    "key",
    "cluster",
    "cluster_samples",
    "cluster_x",
    "cluster_y",
    "cluster_z",
    "cluster_peak_value",
    "input structure",
    "x",
    "y",
    "z",
    "region",
    *METRIC_COLUMNS,
    "seconds",
    "error",
)

_TEXT_COLUMNS = ("input", "input_name", "key", "region", "error")
_FLOAT_COLUMNS = tuple(c for c in RESULT_COLUMNS if c not in _TEXT_COLUMNS)


# ------------------------------------------------------------------------------------------ keys
def _map_spec(map_: Any, space: str) -> str | tuple[str, str]:
    """A picklable, hashable description of the map (a Map object is described by its id)."""
    if isinstance(map_, Map):
        return map_.id
    return (str(map_ or DEFAULT_MAP[0]), str(space))


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        return "unreadable:" + hashlib.sha256(f"{path}:{exc}".encode()).hexdigest()
    return h.hexdigest()


def input_key(path: str | os.PathLike, space: str, map_spec: Any, parameters: dict[str, Any]) -> str:
    """The resumption key of one input: a hash of its content, the space, the map and the parameters."""
    payload = json.dumps(
        {"file": _file_digest(str(path)), "space": space, "map": map_spec, "params": parameters},
        sort_keys=True,
        default=str,
    )
    return short_digest(payload)


# ---------------------------------------------------------------------------------------- frames
def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a table with the columns :data:`RESULT_COLUMNS` (numbers float64, missing text None)."""
    df = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    for col in _FLOAT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in _TEXT_COLUMNS:
        df[col] = df[col].astype("object").where(df[col].notna(), None)
    return df


def _result_rows(result: Any, path: str, key: str, seconds: float) -> pd.DataFrame:
    """One row per (cluster, component, region) of a Characterization."""
    clusters = result.clusters.set_index("cluster")
    ca = flatten_assignments(result.cluster_assignments)
    base = {"input": path, "input_name": Path(path).name, "key": key, "seconds": seconds, "error": None}
    if not len(ca):
        return _frame([base])
    rows = []
    for rec in ca.to_dict("records"):
        c = int(rec["cluster"])
        row = dict(base)
        row.update(
            {
                "cluster": c,
                "cluster_samples": clusters.at[c, "samples"],
                "cluster_x": clusters.at[c, "x"],
                "cluster_y": clusters.at[c, "y"],
                "cluster_z": clusters.at[c, "z"],
                "cluster_peak_value": clusters.at[c, "peak value"],
            }
        )
        for col in RESULT_COLUMNS:
            if col in rec and col not in row:
                row[col] = rec[col]
        rows.append(row)
    return _frame(rows)


def _error_frame(path: str, key: str, message: str, seconds: float | None = None) -> pd.DataFrame:
    """The one row of a failed input (``seconds`` None: unknown)."""
    return _frame(
        [{"input": path, "input_name": Path(path).name, "key": key, "seconds": seconds, "error": message}]
    )


def _record_error(
    parts: Path | None, path: str, key: str, message: str, seconds: float | None
) -> pd.DataFrame:
    """Record a failed input: its ``parts/<key>.error.json`` (when ``parts`` is given) and its row.

    The one writer of error files, for both ways an input fails (its task raised on the worker, or
    the worker died), so every error file has the keys ``input``, ``key``, ``error``, ``seconds``.

    Parameters
    ----------
    parts : Path or None
        The folder of part files; None: nothing is written.
    path, key : str
        The input and its resumption key.
    message : str
        ``"<ExceptionType>: <message>"``.
    seconds : float or None
        Time the input took (s), None when unknown.

    Returns
    -------
    pandas.DataFrame
        One row, columns :data:`RESULT_COLUMNS`, the message in ``error``.
    """
    if parts is not None:
        record = {"input": path, "key": key, "error": message, "seconds": seconds}
        with atomic_write(parts / f"{key}.error.json") as tmp:
            tmp.write_text(json.dumps(record), encoding="utf-8")
    return _error_frame(path, key, message, seconds)


def _load_part(parts: Path, path: str, key: str) -> pd.DataFrame | None:
    """The stored result of one input (its rows, or its error row), None if there is none."""
    pq = parts / f"{key}.parquet"
    if pq.is_file():
        df = pd.read_parquet(pq)
        df["input"] = path
        return df
    err = parts / f"{key}.error.json"
    if err.is_file():
        info = json.loads(err.read_text(encoding="utf-8"))
        return _error_frame(path, key, info.get("error", "unknown error"), info.get("seconds"))
    return None


# ------------------------------------------------------------------------------------------ plan
@dataclass(frozen=True)
class _Plan:
    """What one call of :func:`characterize_many` does.

    Attributes
    ----------
    paths, keys : tuple of str
        The inputs (absolute paths, in the caller's order) and their resumption keys.
    spec : str or tuple of (str, str)
        The map, as :func:`_map_spec` describes it.
    params : dict
        ``Parameters.as_dict()`` of the run.
    parts : Path or None
        Folder of the part files (None: nothing is stored).
    done : dict of str to pandas.DataFrame
        Results of earlier runs, by key.
    todo : tuple of (str, str)
        (path, key) still to compute, each key once.
    """

    paths: tuple[str, ...]
    keys: tuple[str, ...]
    spec: str | tuple[str, str]
    params: dict[str, Any]
    parts: Path | None
    done: dict[str, pd.DataFrame]
    todo: tuple[tuple[str, str], ...]


def _plan(
    paths: Iterable[str | os.PathLike],
    out: str | os.PathLike | None,
    space: str,
    map_: Any,
    parameters: Parameters | None,
    retry_errors: bool,
) -> _Plan:
    """Key every input and find the ones an earlier run (in ``out/parts``) finished."""
    absolute = tuple(str(Path(p).absolute()) for p in paths)
    if not absolute:
        raise InvalidInputError("characterize_many needs at least one input path.")
    params = (parameters or Parameters()).as_dict()
    spec = _map_spec(map_, space)
    keys = tuple(input_key(p, space, spec, params) for p in absolute)
    parts: Path | None = None
    if out is not None:
        parts = Path(out) / "parts"
        parts.mkdir(parents=True, exist_ok=True)
    done: dict[str, pd.DataFrame] = {}
    todo: dict[str, str] = {}
    for path, key in zip(absolute, keys):
        if key in done or key in todo:
            continue
        if parts is not None:
            if retry_errors:
                (parts / f"{key}.error.json").unlink(missing_ok=True)
            frame = _load_part(parts, path, key)
            if frame is not None:
                done[key] = frame
                continue
        todo[key] = path
    return _Plan(absolute, keys, spec, params, parts, done, tuple((p, k) for k, p in todo.items()))


# ------------------------------------------------------------------------------------------- run
@dataclass(frozen=True)
class _Outcome:
    """What one task reports back: the input, its error (None: it worked), the worker and its frame.

    ``map_loads`` counts the maps the worker process ``pid`` resolved and indexed so far; ``frame``
    is None when the result was stored in the part files instead.
    """

    input: str
    key: str
    error: str | None
    pid: int
    map_loads: int
    frame: pd.DataFrame | None


@functools.lru_cache(maxsize=8)
def _worker_map(spec: str | tuple[str, str], map_obj: Map | None = None) -> Map:
    """The map of ``spec`` (or ``map_obj``, the caller's Map) with its sparse index, once per process."""
    m = map_obj if map_obj is not None else resolve_map(*spec)
    m.load_index()
    logger.debug("worker %d loaded map %s", os.getpid(), spec)
    return m


def _run_one(
    path: str,
    key: str,
    space: str,
    map_spec: Any,
    params: dict[str, Any],
    parts_dir: str | None,
    map_obj: Map | None = None,
) -> _Outcome:
    """Worker task: characterise one input and store its part file (or its error file)."""
    t0 = time.perf_counter()
    parts = Path(parts_dir) if parts_dir else None
    try:
        with QUIET:
            m = _worker_map(map_spec, map_obj)
            result = characterize(
                path, space=space, map=m, parameters=Parameters(**params), name=Path(path).name
            )
        frame = _result_rows(result, path, key, time.perf_counter() - t0)
    except Exception as exc:  # one bad input must not stop the batch
        if not isinstance(exc, AtlascopeError):
            logger.debug("input %s failed:\n%s", path, traceback.format_exc())
        message = f"{type(exc).__name__}: {exc}"
        frame = _record_error(parts, path, key, message, time.perf_counter() - t0)
        error: str | None = message
    else:
        error = None
        if parts is not None:
            with atomic_write(parts / f"{key}.parquet") as tmp:
                frame.to_parquet(tmp, index=False)
    loads = _worker_map.cache_info().misses
    return _Outcome(path, key, error, os.getpid(), loads, None if parts is not None else frame)


def _outcome_of(future: Any, path: str, key: str, parts: Path | None) -> _Outcome:
    """The outcome of a finished task; a task that raised (its worker died) is recorded as failed."""
    try:
        return future.result()
    except Exception as exc:  # a worker died: record it like any other failure
        message = f"{type(exc).__name__}: {exc}"
        return _Outcome(path, key, message, -1, 0, _record_error(parts, path, key, message, None))


def _client(client: Any, workers: int | None) -> tuple[Any, list[Any]]:
    """A distributed Client and the objects to close afterwards."""
    from distributed import Client, LocalCluster

    if client is None:
        cluster = LocalCluster(
            n_workers=workers or 2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
        c = Client(cluster)
        return c, [c, cluster]
    if isinstance(client, str):
        c = Client(client)
        return c, [c]
    return client, []


def _run(
    plan: _Plan, space: str, map_: Any, client: Any, workers: int | None
) -> tuple[dict[str, pd.DataFrame], int]:
    """Compute ``plan.todo`` on dask.distributed.

    Returns
    -------
    frames : dict of str to pandas.DataFrame
        The result (or error row) of each computed input, by key.
    map_loads : int
        Maps resolved and indexed on the workers (their processes' counts, summed).
    """
    from distributed import as_completed

    map_obj = map_ if isinstance(map_, Map) else None
    # Build (or load) the sparse index once here, so workers only read it from the disk cache.
    resolve_map(map_, space).load_index()
    c, owned = _client(client, workers)
    frames: dict[str, pd.DataFrame] = {}
    loads: dict[int, int] = {}
    try:
        map_arg = c.scatter(map_obj, broadcast=True) if map_obj is not None else None
        parts_dir = str(plan.parts) if plan.parts is not None else None
        task_of = {f"atlascope-characterize-{key}": (path, key) for path, key in plan.todo}
        futures = [
            c.submit(
                _run_one, path, key, space, plan.spec, plan.params, parts_dir, map_arg, key=task, pure=False
            )
            for task, (path, key) in task_of.items()
        ]
        for fut in progress(as_completed(futures), desc="characterize", total=len(futures), unit="map"):
            outcome = _outcome_of(fut, *task_of[fut.key], plan.parts)
            loads[outcome.pid] = max(loads.get(outcome.pid, 0), outcome.map_loads)
            frame = outcome.frame
            if frame is None and plan.parts is not None:
                frame = _load_part(plan.parts, outcome.input, outcome.key)
            frames[outcome.key] = frame
            if outcome.error:
                logger.warning("%s failed: %s", Path(outcome.input).name, outcome.error)
    finally:
        for obj in owned:
            obj.close()
    return frames, sum(loads.values())


# --------------------------------------------------------------------------------------- collect
def _collect(plan: _Plan, frames: dict[str, pd.DataFrame], map_loads: int) -> pd.DataFrame:
    """One table of every input's rows, in the order of the inputs, with the counts in ``attrs``."""
    result = pd.concat(
        [frames[k].assign(input=p) for p, k in zip(plan.paths, plan.keys) if frames.get(k) is not None],
        ignore_index=True,
    )
    result = _frame(result.to_dict("records"))
    result.attrs.update(
        {
            "inputs": len(plan.paths),
            "computed": len(plan.todo),
            "skipped": len(set(plan.keys)) - len(plan.todo),
            "errors": int(result.loc[result["error"].notna(), "input"].nunique()),
            "map_loads": map_loads,
        }
    )
    return result


def _write_results(result: pd.DataFrame, out: Path, plan: _Plan, space: str) -> None:
    """``results.parquet``, ``results.tsv``, ``errors.tsv`` and ``batch.json`` in ``out``."""
    result.to_parquet(out / "results.parquet", index=False)
    result.to_csv(out / "results.tsv", sep="\t", index=False, float_format="%.6g")
    errors = result[result["error"].notna()]
    errors[["input", "input_name", "key", "error"]].to_csv(out / "errors.tsv", sep="\t", index=False)
    summary = {**result.attrs, "parameters": plan.params, "space": space, "map": plan.spec}
    (out / "batch.json").write_text(json.dumps(summary, indent=1, default=str))


def characterize_many(
    paths: Iterable[str | os.PathLike],
    client: Any = None,
    out: str | os.PathLike | None = None,
    space: str = "mni152",
    map: Any = None,
    parameters: Any = None,
    workers: int | None = None,
    retry_errors: bool = False,
) -> pd.DataFrame:
    """Characterise many activation maps in parallel on dask.distributed.

    Parameters
    ----------
    paths : iterable of path
        NIfTI files, all in ``space``.
    client : distributed.Client or str, optional
        A client, or the address of a running scheduler (``"tcp://host:8786"``). Default: a new
        ``LocalCluster(n_workers=workers or 2, threads_per_worker=1)``, closed at the end.
    out : path, optional
        Output folder: ``parts/`` (one file per input, for resumption), ``results.parquet``,
        ``results.tsv`` and ``errors.tsv``. Without it nothing is stored and nothing resumes.
    space : str
        Space of the inputs.
    map : Map or str, optional
        Statistical map or parcellation spec (default: the Juelich histological atlas).
    parameters : Parameters, optional
        Parameters of :func:`atlascope.workflow.characterize`.
    workers : int, optional
        Worker processes of the default local cluster (default 2).
    retry_errors : bool
        Recompute inputs whose previous run failed (by default a recorded error counts as done).

    Returns
    -------
    pandas.DataFrame
        One row per (input, cluster, component, region), columns :data:`RESULT_COLUMNS`; a failed
        input has one row with its message in ``error``; an input without any assignment has one row
        with empty region. ``attrs`` holds ``inputs``, ``computed``, ``skipped``, ``errors`` and
        ``map_loads`` (maps resolved and indexed by the worker processes).
    """
    for module in ("distributed", "pyarrow"):  # before any work: batch mode is an extra
        require_extra(module, "batch", "Batch mode (characterize_many, atlascope batch)")
    plan = _plan(paths, out, space, map, parameters, retry_errors)
    logger.info(
        "batch: %d inputs, %d already done, %d to compute",
        len(plan.paths),
        len(set(plan.keys)) - len(plan.todo),
        len(plan.todo),
    )
    frames, map_loads = dict(plan.done), 0
    if plan.todo:
        computed, map_loads = _run(plan, space, map, client, workers)
        frames.update(computed)
    result = _collect(plan, frames, map_loads)
    if out is not None:
        _write_results(result, Path(out), plan, space)
    return result

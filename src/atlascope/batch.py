"""Characterise many activation maps on dask.distributed, resumably.

:func:`characterize_many` sends one task per input to a dask cluster (a ``LocalCluster`` of two
single-threaded worker processes by default, or a running scheduler). Each worker resolves the map
and loads its sparse index once (a worker-local cache keyed by the map's identity) and reuses it for
every input it gets. Each input's result is written to ``out/parts/<key>.parquet`` (or
``out/parts/<key>.error.json`` when it failed) as soon as it is done, where ``key`` hashes the file's
content, the space, the map and the parameters; a rerun skips every input whose part exists, so an
interrupted batch resumes where it stopped. Errors of one input never stop the others.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from .commons import QUIET, logger, progress, require_extra
from .errors import AtlascopeError, InvalidInputError
from .maps.map import METRIC_COLUMNS
from .retrieval.cache import atomic_write

__all__ = ["characterize_many", "RESULT_COLUMNS", "input_key", "worker_state"]

#: Columns of the batch result, one row per (input, cluster, connected component, region).
RESULT_COLUMNS = [
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
]

_FLOAT_COLUMNS = [c for c in RESULT_COLUMNS if c not in ("input", "input_name", "key", "region", "error")]

#: Worker-local state: resolved maps (with their sparse index loaded) and counters.
_MAPS: dict[str, Any] = {}
_STATE = {"map_loads": 0, "computed": 0}


def worker_state() -> dict[str, int]:
    """Counters of this process: how often a map was loaded, how many inputs were computed, pid."""
    return {**_STATE, "pid": os.getpid()}


def _map_spec(map_: Any, space: str) -> str | tuple[str, str]:
    """A picklable, hashable description of the map (a Map object is described by its id)."""
    from .maps.map import Map

    if isinstance(map_, Map):
        return map_.id
    from .workflow import DEFAULT_MAP

    return (str(map_ or DEFAULT_MAP[0]), str(space))


def _worker_map(spec: Any, space: str, map_obj: Any = None) -> Any:
    """The map for ``spec``, resolved and indexed once per worker process."""
    key = json.dumps(spec) if not isinstance(spec, str) else spec
    m = _MAPS.get(key)
    if m is None:
        from .workflow import resolve_map

        m = map_obj if map_obj is not None else resolve_map(spec[0], spec[1])
        _ = m.sparse_index
        _MAPS[key] = m
        _STATE["map_loads"] += 1
        logger.debug("worker %d loaded map %s", os.getpid(), key)
    return m


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
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _result_rows(result: Any, path: str, key: str, seconds: float) -> pd.DataFrame:
    """One row per (cluster, component, region) of a Characterization."""
    from .report import flatten_assignments

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


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    for col in _FLOAT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in ("input", "input_name", "key", "region", "error"):
        df[col] = df[col].astype("object").where(df[col].notna(), None)
    return df


def _error_frame(path: str, key: str, message: str, seconds: float = float("nan")) -> pd.DataFrame:
    return _frame(
        [{"input": path, "input_name": Path(path).name, "key": key, "seconds": seconds, "error": message}]
    )


def _run_one(
    path: str,
    key: str,
    space: str,
    map_spec: Any,
    params: dict[str, Any],
    parts_dir: str | None,
    map_obj: Any = None,
) -> dict[str, Any]:
    """Worker task: characterise one input, store its part file, report what happened."""
    from .workflow import Parameters, characterize

    t0 = time.perf_counter()
    status: dict[str, Any] = {"input": path, "key": key, "error": None, "pid": os.getpid()}
    try:
        with QUIET:
            m = _worker_map(map_spec, space, map_obj)
            result = characterize(
                path, space=space, map=m, parameters=Parameters(**params), name=Path(path).name
            )
        df = _result_rows(result, path, key, time.perf_counter() - t0)
    except AtlascopeError as exc:
        status["error"] = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # one bad input must not stop the batch
        status["error"] = f"{type(exc).__name__}: {exc}"
        logger.debug("input %s failed:\n%s", path, traceback.format_exc())
    _STATE["computed"] += 1
    seconds = time.perf_counter() - t0
    status["seconds"] = seconds
    if status["error"] is not None:
        df = _error_frame(path, key, status["error"], seconds)
        if parts_dir:
            _write_atomic(
                Path(parts_dir) / f"{key}.error.json",
                json.dumps({"input": path, "error": status["error"], "seconds": seconds}).encode(),
            )
    elif parts_dir:
        with atomic_write(Path(parts_dir) / f"{key}.parquet") as tmp:
            df.to_parquet(tmp, index=False)
    status["frame"] = None if parts_dir else df
    status["map_loads"] = _STATE["map_loads"]
    return status


def _write_atomic(path: Path, data: bytes) -> None:
    with atomic_write(path) as tmp:
        tmp.write_bytes(data)


def _load_part(parts: Path, path: str, key: str) -> pd.DataFrame | None:
    pq = parts / f"{key}.parquet"
    if pq.is_file():
        df = pd.read_parquet(pq)
        df["input"] = path
        return df
    err = parts / f"{key}.error.json"
    if err.is_file():
        info = json.loads(err.read_text())
        return _error_frame(path, key, info.get("error", "unknown error"), info.get("seconds", float("nan")))
    return None


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
        ``map_loads`` (map loads on the workers during this call).
    """
    from .maps.map import Map
    from .workflow import Parameters, resolve_map

    for module in ("distributed", "pyarrow"):  # before any work: batch mode is an extra
        require_extra(module, "batch", "Batch mode (characterize_many, atlascope batch)")
    paths = [str(Path(p).absolute()) for p in paths]
    if not paths:
        raise InvalidInputError("characterize_many needs at least one input path.")
    params = (parameters or Parameters()).as_dict()
    spec = _map_spec(map, space)
    keys = [input_key(p, space, spec, params) for p in paths]
    parts: Path | None = None
    if out is not None:
        parts = Path(out) / "parts"
        parts.mkdir(parents=True, exist_ok=True)
    frames: dict[str, pd.DataFrame] = {}
    todo = []
    for path, key in zip(paths, keys):
        if key in frames:
            continue
        if parts is not None:
            if retry_errors:
                (parts / f"{key}.error.json").unlink(missing_ok=True)
            done = _load_part(parts, path, key)
            if done is not None:
                frames[key] = done
                continue
        todo.append((path, key))
    skipped = len(set(keys)) - len(todo)
    logger.info("batch: %d inputs, %d already done, %d to compute", len(paths), skipped, len(todo))
    map_loads = 0
    if todo:
        # Build (or load) the sparse index once here, so workers only read it from the disk cache.
        map_obj = map if isinstance(map, Map) else None
        (map_obj or resolve_map(map, space)).sparse_index  # noqa: B018
        c, owned = _client(client, workers)
        try:
            from distributed import as_completed

            map_arg = c.scatter(map_obj, broadcast=True) if map_obj is not None else None
            futures = [
                c.submit(
                    _run_one,
                    path,
                    key,
                    space,
                    spec,
                    params,
                    str(parts) if parts else None,
                    map_arg,
                    key=f"atlascope-characterize-{key}",
                    pure=False,
                )
                for path, key in todo
            ]
            loads: dict[int, int] = {}
            for fut in progress(as_completed(futures), desc="characterize", total=len(futures), unit="map"):
                try:
                    status = fut.result()
                except Exception as exc:  # a worker died: record it like any other failure
                    path, key = todo[futures.index(fut)]
                    status = {
                        "input": path,
                        "key": key,
                        "error": f"{type(exc).__name__}: {exc}",
                        "frame": None,
                        "pid": -1,
                        "map_loads": 0,
                    }
                    if parts is not None:
                        _write_atomic(
                            parts / f"{key}.error.json",
                            json.dumps({"input": path, "error": status["error"]}).encode(),
                        )
                key = status["key"]
                loads[status["pid"]] = max(loads.get(status["pid"], 0), status.get("map_loads", 0))
                if status.get("frame") is not None:
                    frames[key] = status["frame"]
                elif parts is not None:
                    frames[key] = _load_part(parts, status["input"], key)
                else:
                    frames[key] = _error_frame(status["input"], key, status["error"] or "no result")
                if status["error"]:
                    logger.warning("%s failed: %s", Path(status["input"]).name, status["error"])
            map_loads = sum(loads.values())
        finally:
            for obj in owned:
                obj.close()
    result = pd.concat(
        [frames[k].assign(input=p) for p, k in zip(paths, keys) if frames.get(k) is not None],
        ignore_index=True,
    )
    result = _frame(result.to_dict("records"))
    errors = result[result["error"].notna()]
    result.attrs.update(
        {
            "inputs": len(paths),
            "computed": len(todo),
            "skipped": skipped,
            "errors": int(errors["input"].nunique()),
            "map_loads": map_loads,
        }
    )
    if out is not None:
        out_dir = Path(out)
        result.to_parquet(out_dir / "results.parquet", index=False)
        result.to_csv(out_dir / "results.tsv", sep="\t", index=False, float_format="%.6g")
        errors[["input", "input_name", "key", "error"]].to_csv(out_dir / "errors.tsv", sep="\t", index=False)
        (out_dir / "batch.json").write_text(
            json.dumps(
                {**result.attrs, "parameters": params, "space": space, "map": spec}, indent=1, default=str
            )
        )
    return result

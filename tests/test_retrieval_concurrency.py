"""Several processes and threads on one cache download each file once (per-file locks)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

from atlascope.retrieval import fetch, zip_member_path
from httpserver import json_bytes, zip_bytes

pytest_plugins = ["httpserver"]


def _fetch_in_child(url: str, barrier, results) -> None:
    """Run in a spawned process: wait for the sibling, then fetch the same URL."""
    from atlascope.retrieval import fetch as child_fetch

    barrier.wait(timeout=60)
    try:
        path = child_fetch(url)
        results.put(("ok", str(path), path.read_bytes() == json_bytes()))
    except Exception as exc:  # reported to the parent test
        results.put(("error", repr(exc), False))


def test_two_processes_download_once(http_server, isolated_cache, monkeypatch):
    url = http_server.add("/slow/space.json", json_bytes(), delay=1.0)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [ctx.Process(target=_fetch_in_child, args=(url, barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert [o[0] for o in outcomes] == ["ok", "ok"], outcomes
    assert outcomes[0][1] == outcomes[1][1]
    assert all(o[2] for o in outcomes)
    assert http_server.count("/slow/space.json") == 1
    files = [p.name for p in (isolated_cache / "files").iterdir() if not p.name.endswith(".lock")]
    assert len(files) == 1


def test_threads_download_once(http_server, isolated_cache):
    url = http_server.add("/slow/threads.json", json_bytes(), delay=0.3)
    with ThreadPoolExecutor(6) as pool:
        paths = list(pool.map(lambda _: fetch(url), range(6)))
    assert len(set(paths)) == 1
    assert http_server.count("/slow/threads.json") == 1


def test_threads_extract_once(http_server, isolated_cache):
    url = http_server.add("/slow/conn.zip", zip_bytes(), delay=0.2)
    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda _: zip_member_path(url, "subject01/matrix.csv"), range(4)))
    assert len(set(paths)) == 1 and paths[0].read_bytes().startswith(b",r0")
    assert http_server.count("/slow/conn.zip") == 1

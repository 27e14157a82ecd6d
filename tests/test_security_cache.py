"""Regression tests of issue 11 for the download cache: prune/clear only touch atlascope's own files,
orphaned temporary files, group-shareable permissions, size overflow, total download deadline,
text validated before caching and evicted when it fails to parse."""

from __future__ import annotations

import errno
import os
import stat
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from atlascope.cli import main
from atlascope.errors import CacheError, IntegrityError, InvalidInputError, RetrievalError
from atlascope.retrieval import cache as rcache
from atlascope.retrieval import cache_dir, cache_info, clear_cache, fetch, fetch_text, parse_size, prune_cache
from atlascope.retrieval.fetching import fetch_json
from httpserver import json_bytes

pytest_plugins = ["httpserver"]


def _home_like(folder: Path) -> dict[Path, bytes]:
    """A folder that looks like a home or project folder (not an atlascope cache)."""
    files = {
        folder / ".bashrc": b"export PATH=$PATH\n",
        folder / "src" / "main.py": b"print('hello')\n",
        folder / "files" / "notes.txt": b"my own notes in a folder called files\n",
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


@pytest.mark.parametrize("action", ["prune", "clear"])
def test_prune_and_clear_refuse_a_foreign_folder(tmp_path, monkeypatch, action):
    home = tmp_path / "home"
    files = _home_like(home)
    monkeypatch.setenv("ATLASCOPE_CACHE", str(home))
    with pytest.raises(CacheError, match="not an atlascope cache"):
        prune_cache(0) if action == "prune" else clear_cache()
    for path, data in files.items():
        assert path.read_bytes() == data
    assert not (home / "CACHEDIR.TAG").exists()  # never tag a foreign, non-empty folder


def test_cli_prune_of_home_deletes_nothing_and_exits_2(tmp_path, monkeypatch):
    home = tmp_path / "home"
    files = _home_like(home)
    monkeypatch.setenv("ATLASCOPE_CACHE", str(home))
    monkeypatch.setenv("HOME", str(home))
    result = CliRunner().invoke(main, ["cache", "prune", "--max-size", "0"])
    assert result.exit_code == 2
    assert "not an atlascope cache" in result.output
    assert all(p.read_bytes() == d for p, d in files.items())
    assert sorted(p.name for p in home.iterdir()) == [".bashrc", "files", "src"]


def test_foreign_cachedir_tag_is_not_atlascope(tmp_path, monkeypatch):
    folder = tmp_path / "other-tool-cache"
    folder.mkdir()
    (folder / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n# made by another tool\n")
    (folder / "files").mkdir()
    (folder / "files" / "theirs.bin").write_bytes(b"x" * 10)
    monkeypatch.setenv("ATLASCOPE_CACHE", str(folder))
    with pytest.raises(CacheError, match="not an atlascope cache"):
        prune_cache(0)
    assert (folder / "files" / "theirs.bin").exists()


def test_prune_deletes_only_atlascope_rooms(http_server, isolated_cache):
    http_server.add("/a.json", json_bytes({"a": 1}))
    entry = fetch(http_server.url_for("/a.json"))
    root = cache_dir()
    stranger = root / "my-results" / "table.csv"
    stranger.parent.mkdir()
    stranger.write_text("keep me\n")
    (root / "top.txt").write_text("keep me too\n")
    removed = prune_cache(0)
    assert removed == [entry] and not entry.exists()
    assert stranger.read_text() == "keep me\n" and (root / "top.txt").exists()
    clear_cache()
    assert stranger.exists() and (root / "CACHEDIR.TAG").exists()


def test_prune_does_not_follow_a_symlinked_room(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.dat").write_bytes(b"1" * 100)
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))
    root = cache_dir()
    (root / "files").symlink_to(outside, target_is_directory=True)
    assert cache_info()["files"] == 0
    prune_cache(0)
    clear_cache()
    assert (outside / "precious.dat").exists()


def _old(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_orphaned_temp_files_are_counted_and_pruned(http_server, isolated_cache):
    http_server.add("/b.json", json_bytes({"b": 2}))
    entry = fetch(http_server.url_for("/b.json"))
    stale = entry.parent / f".part-{entry.name}.dead1234"
    stale.write_bytes(b"half a download")
    _old(stale, rcache.STALE_TEMP + 60)
    fresh = entry.parent / ".part-other.json.live5678"
    fresh.write_bytes(b"being written")
    index_orphan = cache_dir() / "sparse-index" / ".part-index.npz.killed99"
    index_orphan.parent.mkdir()
    index_orphan.write_bytes(b"x" * 7)
    _old(index_orphan, rcache.STALE_TEMP + 60)
    info = cache_info()
    assert info["files"] == 1
    assert info["temp_files"] == 3 and info["stale_temp_files"] == 2
    assert info["temp_bytes"] == len(b"half a download") + len(b"being written") + 7
    prune_cache("1GB")
    assert entry.exists() and fresh.exists()
    assert not stale.exists() and not index_orphan.exists()
    assert cache_info()["temp_files"] == 1


def test_atomic_write_removes_its_stale_orphan(isolated_cache):
    target = cache_dir() / "sparse-index" / "abc.npz"
    target.parent.mkdir(parents=True)
    orphan = target.parent / f".part-{target.name}.old00000"
    orphan.write_bytes(b"killed mid-way")
    _old(orphan, rcache.STALE_TEMP + 1)
    with rcache.atomic_write(target) as tmp:
        tmp.write_bytes(b"complete")
    assert target.read_bytes() == b"complete"
    assert list(target.parent.glob(".part-*")) == []


def test_cache_entries_honour_the_umask(http_server, isolated_cache):
    http_server.add("/shared.json", json_bytes({"lab": True}))
    old = os.umask(0o002)
    try:
        entry = fetch(http_server.url_for("/shared.json"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o664  # group may read and write, not 0600
    assert stat.S_IMODE(Path(f"{entry}.lock").stat().st_mode) == 0o664


def test_permission_problems_are_named():
    text = rcache.os_problem(PermissionError(errno.EACCES, "Permission denied", "/shared/cache/files"))
    assert "permission denied" in text and "/shared/cache/files" in text and "g+rwX" in text
    assert "disk is full" in rcache.os_problem(OSError(errno.ENOSPC, "No space left on device"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_cache_raises_permission_cache_error(http_server, isolated_cache):
    http_server.add("/c.json", json_bytes({"c": 3}))
    files = cache_dir() / "files"
    files.mkdir()
    files.chmod(0o500)
    try:
        with pytest.raises(CacheError, match="permission denied"):
            fetch(http_server.url_for("/c.json"))
    finally:
        files.chmod(0o700)


@pytest.mark.parametrize("text", ["1e400", "1e30", 10**400])
def test_huge_sizes_are_invalid_input(text):
    with pytest.raises(InvalidInputError, match="too large"):
        parse_size(text)


def test_cli_prune_with_overflowing_size_exits_2(isolated_cache):
    result = CliRunner().invoke(main, ["cache", "prune", "--max-size", "1e400"])
    assert result.exit_code == 2 and "too large" in result.output


def test_trickling_server_hits_the_total_deadline(http_server, isolated_cache, monkeypatch):
    body = b"\x00" * 400_000
    http_server.add("/slow.bin", body)
    http_server.set_faults("/slow.bin", ["trickle:2048:0.02"], repeat_last=True)
    monkeypatch.setenv("ATLASCOPE_DEADLINE", "1")
    start = time.monotonic()
    with pytest.raises(RetrievalError, match="ATLASCOPE_DEADLINE") as info:
        fetch(http_server.url_for("/slow.bin"))
    assert time.monotonic() - start < 15
    assert "deadline of 1 s" in str(info.value)
    assert http_server.count("/slow.bin") == 1  # a deadline is not retried
    assert [p for p in (cache_dir() / "files").iterdir() if not p.name.endswith(".lock")] == []


def test_deadline_and_lock_wait_settings(monkeypatch):
    from atlascope.retrieval import http

    monkeypatch.delenv("ATLASCOPE_DEADLINE", raising=False)
    monkeypatch.delenv("ATLASCOPE_LOCK_TIMEOUT", raising=False)
    assert http.deadline_seconds() == http.DEADLINE
    assert rcache.lock_timeout() == rcache.LOCK_TIMEOUT <= 900  # not one hour
    monkeypatch.setenv("ATLASCOPE_LOCK_TIMEOUT", "5")
    assert rcache.lock_timeout() == 5
    for bad in ("soon", "-1", "inf", "nan"):
        monkeypatch.setenv("ATLASCOPE_DEADLINE", bad)
        with pytest.raises(InvalidInputError, match="ATLASCOPE_DEADLINE"):
            http.deadline_seconds()


def test_lock_wait_message_names_the_setting(isolated_cache, monkeypatch):
    from filelock import FileLock

    monkeypatch.setenv("ATLASCOPE_LOCK_TIMEOUT", "0.2")
    target = cache_dir() / "files" / "x"
    target.parent.mkdir()
    holder = FileLock(f"{target}.lock")
    holder.acquire()
    try:
        import threading

        errors: list[BaseException] = []

        def other() -> None:  # a lock is per thread in filelock; take it from another thread
            try:
                with rcache.file_lock(target):
                    pass
            except CacheError as exc:
                errors.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join(10)
    finally:
        holder.release()
    assert errors and "ATLASCOPE_LOCK_TIMEOUT" in str(errors[0])


TSV = b"name\tvalue\nV1\t1.5\nV2\t2.5\n"


def test_non_utf8_text_is_not_cached_and_fetched_again(http_server, isolated_cache, fast_retries):
    http_server.add("/t.tsv", TSV)
    http_server.set_faults("/t.tsv", ["nonutf8", "ok"])
    assert fetch_text(http_server.url_for("/t.tsv")) == TSV.decode()
    assert http_server.count("/t.tsv") == 2


def test_persistently_corrupt_text_raises_and_caches_nothing(http_server, isolated_cache, fast_retries):
    http_server.add("/bad.csv", TSV)
    http_server.set_faults("/bad.csv", ["nonutf8"], repeat_last=True)
    with pytest.raises(IntegrityError, match="not UTF-8"):
        fetch_text(http_server.url_for("/bad.csv"))
    assert [p for p in (cache_dir() / "files").iterdir() if not p.name.endswith(".lock")] == []


def test_unbalanced_quote_table_is_refused(http_server, isolated_cache, fast_retries):
    http_server.add("/q.csv", b'a,b\n"x"y,z\n')
    with pytest.raises(IntegrityError, match="table does not parse"):
        fetch(http_server.url_for("/q.csv"))


@pytest.mark.parametrize("reader", ["text", "json"])
def test_cached_entry_that_fails_to_parse_is_evicted_and_fetched_once(http_server, isolated_cache, reader):
    path = "/e.tsv" if reader == "text" else "/e.json"
    good = TSV if reader == "text" else json_bytes({"ok": 1})
    http_server.add(path, good)
    url = http_server.url_for(path)
    entry = fetch(url)
    entry.write_bytes(b"\xff\xfe{broken")  # corrupted on disk after it was cached
    got = fetch_text(url) if reader == "text" else fetch_json(url)
    assert got == (TSV.decode() if reader == "text" else {"ok": 1})
    assert http_server.count(path) == 2
    assert entry.read_bytes() == good


def test_using_a_foreign_folder_warns_once(tmp_path, monkeypatch, caplog):
    home = tmp_path / "project"
    _home_like(home)
    monkeypatch.setenv("ATLASCOPE_CACHE", str(home))
    with caplog.at_level("WARNING", logger="atlascope"):
        cache_dir()
        cache_dir()
    warnings = [r for r in caplog.records if "no atlascope CACHEDIR.TAG" in r.getMessage()]
    assert len(warnings) == 1 and not (home / "CACHEDIR.TAG").exists()

"""The cache folder: location, layout, atomicity, local paths, info / LRU prune / clear, parse_size."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from filelock import FileLock
from hypothesis import given
from hypothesis import strategies as st

from atlascope.errors import CacheError, InvalidInputError, RetrievalError
from atlascope.retrieval import cache as rcache
from atlascope.retrieval import cache_dir, cache_info, clear_cache, fetch, fetching, parse_size, prune_cache
from httpserver import json_bytes

pytest_plugins = ["httpserver"]


def test_cache_dir_read_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "one"))
    assert cache_dir() == tmp_path / "one"
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "two"))
    assert cache_dir() == tmp_path / "two" and (tmp_path / "two").is_dir()
    assert (
        (tmp_path / "two" / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )


def test_cache_dir_default_is_platformdirs(tmp_path, monkeypatch):
    import platformdirs

    monkeypatch.delenv("ATLASCOPE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda name: str(tmp_path / "xdg" / name))
    assert cache_dir() == tmp_path / "xdg" / "atlascope"


def test_unusable_cache_dir_is_cache_error(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "a-file" / "cache"))
    with pytest.raises(CacheError, match="ATLASCOPE_CACHE"):
        cache_dir()


def test_import_opens_no_socket_and_creates_nothing(tmp_path):
    folder = tmp_path / "never-created"
    code = textwrap.dedent(
        """
        import sys
        def audit(event, args):
            if event in ("socket.__new__", "socket.connect", "socket.getaddrinfo"):
                raise AssertionError(f"{event} at import time")
        sys.addaudithook(audit)
        import atlascope.retrieval
        print("imported")
        """
    )
    env = dict(os.environ, ATLASCOPE_CACHE=str(folder))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "imported" in out.stdout
    assert not folder.exists()


def test_entry_layout(http_server, isolated_cache):
    url = http_server.add("/a b/Area hOc1 (V1).json", json_bytes())
    url = url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    path = fetch(url)
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    assert path == isolated_cache / "files" / f"{key}-Area_hOc1__V1_.json"
    # the query takes part in the key, not in the name
    other = fetch(url + "?version=2")
    assert other != path and other.name.endswith("-Area_hOc1__V1_.json")
    assert rcache.sanitise_name("..hidden") == "hidden"
    assert rcache.sanitise_name("") == "index"
    assert rcache.sanitise_name("x" * 300 + ".nii.gz").endswith(".nii.gz")


def test_cache_hit_makes_no_request_and_touches(http_server, isolated_cache):
    url = http_server.add("/hit.json", json_bytes())
    path = fetch(url)
    os.utime(path, (1_000_000, 1_000_000))
    assert fetch(url) == path
    assert http_server.count("/hit.json") == 1
    assert path.stat().st_mtime > time.time() - 60


def test_any_failure_removes_the_temporary_file(http_server, isolated_cache, monkeypatch):
    url = http_server.add("/boom.json", json_bytes())

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fetching, "validate_file", explode)
    with pytest.raises(KeyboardInterrupt):
        fetch(url)
    assert [p.name for p in (isolated_cache / "files").iterdir() if not p.name.endswith(".lock")] == []


def test_stale_temporary_files_are_removed(http_server, isolated_cache):
    url = http_server.add("/stale.json", json_bytes())
    target = rcache.entry_path(url)
    stale = target.parent / f"{rcache.TEMP_PREFIX}{target.name}.abc123"
    stale.write_bytes(b"half a download")
    fetch(url)
    assert not stale.exists() and target.exists()


def test_stale_entry_with_wrong_size_is_downloaded_again(http_server, isolated_cache):
    body = json_bytes()
    url = http_server.add("/changed.json", body)
    path = fetch(url)
    path.write_bytes(b"{}")
    assert fetch(url, size=len(body)).read_bytes() == body
    assert http_server.count("/changed.json") == 2


def test_local_paths_pass_through(tmp_path, isolated_cache):
    f = tmp_path / "my map.nii.gz"
    f.write_bytes(b"not even checked")
    assert fetch(f) == f
    assert fetch(str(f)) == f
    assert fetch(f.as_uri()) == f
    with pytest.raises(RetrievalError, match="does not exist"):
        fetch(tmp_path / "absent.nii")
    with pytest.raises(InvalidInputError, match="scheme"):
        fetch("ftp://example.org/x.nii")
    with pytest.raises(InvalidInputError, match="kind"):
        fetch("https://example.org/x.nii", kind="image")


def _fill(http_server, names: list[str]) -> dict[str, Path]:
    paths = {}
    for i, name in enumerate(names):
        url = http_server.add(f"/{name}", bytes([i]) * 1000)
        paths[name] = fetch(url)
    return paths


def test_cache_info(http_server, isolated_cache):
    info = cache_info()
    assert info["files"] == 0 and info["bytes"] == 0 and info["oldest_access"] is None
    paths = _fill(http_server, ["a.bin", "b.bin", "c.bin"])
    os.utime(paths["a.bin"], (1_600_000_000, 1_600_000_000))
    info = cache_info()
    assert info["folder"] == isolated_cache
    assert info["files"] == 3 and info["bytes"] == 3000
    assert info["oldest_access"].timestamp() == 1_600_000_000
    assert info["newest_access"].timestamp() > 1_600_000_000


def test_prune_cache_removes_least_recently_used(http_server, isolated_cache):
    paths = _fill(http_server, ["a.bin", "b.bin", "c.bin", "d.bin"])
    for age, name in enumerate(["d.bin", "c.bin", "b.bin", "a.bin"]):  # a newest ... d oldest
        os.utime(paths[name], (1_600_000_000 + age, 1_600_000_000 + age))
    fetch(http_server.url_for("/d.bin"))  # a cache hit: d becomes the most recently used
    removed = prune_cache(2500)
    assert removed == [paths["c.bin"], paths["b.bin"]]
    assert cache_info()["bytes"] == 2000
    assert paths["a.bin"].exists() and paths["d.bin"].exists()
    assert prune_cache("10GB") == []
    assert http_server.count("/d.bin") == 1


def test_prune_cache_skips_locked_files(http_server, isolated_cache):
    paths = _fill(http_server, ["a.bin", "b.bin"])
    os.utime(paths["a.bin"], (1_600_000_000, 1_600_000_000))
    with FileLock(f"{paths['a.bin']}.lock"):
        removed = prune_cache(0)
    assert removed == [paths["b.bin"]]
    assert paths["a.bin"].exists()


def test_clear_cache(http_server, isolated_cache, monkeypatch):
    paths = _fill(http_server, ["a.bin", "b.bin"])
    assert sorted(clear_cache()) == sorted(paths.values())
    assert cache_info()["files"] == 0
    files = isolated_cache / "files"
    assert not files.exists() or not any(p.name.endswith(".lock") for p in files.iterdir())
    monkeypatch.setenv("ATLASCOPE_CACHE", str(Path.home()))
    with pytest.raises(CacheError, match="Refusing"):
        clear_cache()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2GB", 2_000_000_000),
        ("2 GiB", 2 * 1024**3),
        ("1.5MB", 1_500_000),
        ("500mb", 500_000_000),
        ("10KiB", 10240),
        ("1TB", 10**12),
        ("3TiB", 3 * 1024**4),
        ("1024", 1024),
        ("7B", 7),
        ("2G", 2 * 1024**3),
        (123, 123),
        ("0", 0),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "GB", "2 XB", "-1GB", "two GB", "1.2.3MB", True])
def test_parse_size_rejects(bad):
    with pytest.raises(InvalidInputError):
        parse_size(bad)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["KB", "MB", "GB", "KiB", "MiB", "GiB"]))
def test_parse_size_scales(n, unit):
    base = 1024 if "i" in unit else 1000
    power = {"K": 1, "M": 2, "G": 3}[unit[0]]
    assert parse_size(f"{n}{unit}") == n * base**power
    assert parse_size(f"{n} {unit.lower()}") == n * base**power

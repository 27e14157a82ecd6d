"""atlascope.files: whole-or-nothing writes, the one safe-name rule, containment, short digests."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from atlascope.errors import CacheError, InvalidInputError
from atlascope.files import (
    DIGEST_LENGTH,
    STALE_TEMP,
    TEMP_PREFIX,
    atomic_write,
    contained,
    copy_atomic,
    fit_name,
    is_safe_relpath,
    new_temp,
    safe_relpath,
    short_digest,
    temp_target,
)


# -- short digests --------------------------------------------------------------------------------
def test_short_digest_is_the_sha256_prefix():
    assert DIGEST_LENGTH == 16
    assert short_digest("abc") == hashlib.sha256(b"abc").hexdigest()[:16]
    assert short_digest(b"abc") == short_digest("abc") == short_digest("a", b"b", "c")


def test_short_digest_of_array_bytes():
    arr = np.arange(12, dtype=np.int16).reshape(3, 4)
    flat = np.ascontiguousarray(arr).view(np.uint8).reshape(-1)
    assert short_digest(flat, b"x") == hashlib.sha256(arr.tobytes() + b"x").hexdigest()[:16]


def test_fit_name_keeps_short_names_and_shortens_long_ones():
    assert fit_name("short.json") == "short.json"
    long = "q" * 300 + "é"
    fitted = fit_name(long)
    assert len(fitted.encode()) <= 200 and fitted.endswith("~" + short_digest(long.encode()))
    assert fit_name(long) == fitted  # deterministic: writer and reader agree


# -- the one safe-name rule -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["", "/etc/passwd", "\\windows\\evil", "C:\\evil.txt", "c:evil", "..", "../x", "a/../../x", "a\\b", "a\x00b"],
)
def test_safe_relpath_refuses_names_that_could_leave(name):
    with pytest.raises(InvalidInputError, match="Refusing the zip member name"):
        safe_relpath(name, "zip member name")
    assert not is_safe_relpath(name)


@pytest.mark.parametrize("name", ["a.json", "dir/sub/file.nii.gz", "./a//b", "a..b/c..", "0:/x", "dir/"])
def test_safe_relpath_accepts_relative_names(name):
    assert safe_relpath(name) == PurePosixPath(name)
    assert is_safe_relpath(name)


@given(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4))
def test_accepted_names_stay_inside(segments):
    name = "/".join(segments)
    if not is_safe_relpath(name):
        return
    root = Path("/srv/root")
    try:
        full = contained(root, safe_relpath(name))
    except InvalidInputError:  # the name is only "." segments: it names the root itself
        assert all(p in ("", ".") for p in name.split("/"))
        return
    assert full.is_relative_to(root) and full != root


def test_contained_refuses_symbolic_links_leading_outside(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "inner").mkdir()
    (root / "inlink").symlink_to(root / "inner", target_is_directory=True)
    with pytest.raises(InvalidInputError, match="symbolic link"):
        contained(root, "link/file.txt", "mirror folder")
    assert contained(root, "inlink/file.txt") == root / "inlink" / "file.txt"
    with pytest.raises(InvalidInputError, match="leaves"):
        contained(root, ".")


# -- whole-or-nothing writes ----------------------------------------------------------------------
def test_atomic_write_commits_or_leaves_the_target(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    with atomic_write(target) as temp:
        assert temp.parent == target.parent and temp.name.startswith(TEMP_PREFIX + "out.bin.")
        temp.write_bytes(b"one")
    assert target.read_bytes() == b"one"
    with pytest.raises(RuntimeError), atomic_write(target) as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"one"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.bin"]


def test_atomic_write_removes_stale_orphans_only(tmp_path):
    target = tmp_path / "out.bin"
    old = tmp_path / f"{TEMP_PREFIX}out.bin.dead0000"
    fresh = tmp_path / f"{TEMP_PREFIX}out.bin.live0000"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    t = time.time() - STALE_TEMP - 10
    os.utime(old, (t, t))
    assert temp_target(old) == target
    with atomic_write(target) as temp:
        temp.write_bytes(b"z")
    assert not old.exists() and fresh.exists() and target.read_bytes() == b"z"


def test_copy_atomic_and_temp_names(tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("data")
    assert copy_atomic(src, tmp_path / "copy" / "dst.txt").read_text() == "data"
    temp = new_temp(tmp_path / "img.nii.gz", ".nii.gz")
    assert temp.name.endswith(".nii.gz") and temp.exists() and temp.stat().st_size == 0


def test_atomic_write_into_a_file_raises_cache_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    with pytest.raises(CacheError, match="Cannot create"), atomic_write(blocker / "x.bin") as temp:
        temp.write_bytes(b"never")

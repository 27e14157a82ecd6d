"""The cached sparse index is memory-mapped on load, not read whole, and reads back exactly."""

from __future__ import annotations

import mmap
import zipfile

import numpy as np
import pytest

from atlascope.analysis.sparse import FORMAT_VERSION, SparseIndex
from atlascope.errors import CacheError


def _mapped(arr: np.ndarray) -> bool:
    """Whether the array's memory is a file mapping (following the chain of ``.base``)."""
    base = arr
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = getattr(base, "base", None)
    return False


def _index(rng: np.random.Generator) -> SparseIndex:
    shape = (12, 10, 8)
    n = int(np.prod(shape))
    cols = []
    for c in range(5):
        flat = np.sort(rng.choice(n, size=60, replace=False))
        cols.append((c, flat, rng.uniform(0.05, 1.0, size=60).astype(np.float32)))
    return SparseIndex.from_columns(shape, np.diag([2.0, 2.0, 2.0, 1.0]), iter(cols), 5)


def test_load_memory_maps_every_large_array(tmp_path):
    idx = _index(np.random.default_rng(3))
    path = idx.save(tmp_path / "index.npz")
    back = SparseIndex.load(path)
    for name in SparseIndex._ARRAYS:
        stored = getattr(back, name)
        assert _mapped(stored), name
        assert stored.ctypes.data % 64 == 0, name  # aligned: numpy works on the map without a copy
        assert not stored.flags.writeable  # the cache file cannot be changed through the index
        np.testing.assert_array_equal(np.asarray(stored), getattr(idx, name))
    assert back.shape == idx.shape
    np.testing.assert_array_equal(back.affine, idx.affine)
    # queries on the mapped index give the in-memory answers
    flat = idx.voxels[::7]
    np.testing.assert_array_equal(back.rows_of(flat)[0], idx.rows_of(flat)[0])
    for t in (0.0, 0.5):
        for a, b in zip(back.totals(t), idx.totals(t)):
            np.testing.assert_allclose(a, b)


def test_compressed_members_are_read(tmp_path):
    # an index re-saved with compression (e.g. by hand) still loads, by reading those members
    idx = _index(np.random.default_rng(4))
    plain = idx.save(tmp_path / "plain.npz")
    packed = tmp_path / "packed.npz"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    back = SparseIndex.load(packed)
    assert not _mapped(back.values)
    np.testing.assert_array_equal(back.values, idx.values)


def test_truncated_file_is_a_cache_error(tmp_path):
    idx = _index(np.random.default_rng(5))
    path = idx.save(tmp_path / "index.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CacheError, match="rebuilt"):
        SparseIndex.load(path)


def test_unaligned_numpy_savez_file_still_loads(tmp_path):
    # a plain numpy.savez file (members at arbitrary offsets) reads back exactly, by copying
    idx = _index(np.random.default_rng(6))
    path = tmp_path / "plain.npz"
    np.savez(
        path,
        shape=np.asarray(idx.shape, np.int64),
        affine=idx.affine,
        format_version=np.asarray(FORMAT_VERSION),
        **{k: getattr(idx, k) for k in SparseIndex._ARRAYS},
    )
    back = SparseIndex.load(path)
    for name in SparseIndex._ARRAYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(idx, name))


def _resident_kib(path) -> int:
    """Resident KiB of this process's mappings of ``path`` (Linux /proc/self/smaps)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as fh:
        for line in fh:
            head = line.split()
            if len(head) >= 5 and "-" in head[0]:  # a mapping's first line: address range ... path
                inside = line.rstrip().endswith(str(path))
            elif inside and head[0] == "Rss:":
                total += int(head[1])
    return total


@pytest.mark.skipif(not hasattr(mmap, "MADV_DONTNEED"), reason="needs madvise(MADV_DONTNEED) (Linux)")
def test_release_pages_drops_resident_pages_and_keeps_results(tmp_path):
    rng = np.random.default_rng(5)
    shape = (64, 64, 64)
    n = int(np.prod(shape))
    cols = [(c, np.sort(rng.choice(n, size=40_000, replace=False)), rng.uniform(0.05, 1, 40_000).astype(np.float32))
            for c in range(4)]
    path = SparseIndex.from_columns(shape, np.eye(4), iter(cols), 4).save(tmp_path / "big.npz")
    idx = SparseIndex.load(path)
    flat = rng.choice(n, size=5000, replace=False)
    before = idx.rows_of(flat)
    total = float(np.asarray(idx.values, np.float64).sum())  # touches every page of values
    assert _resident_kib(path) > 256
    idx.release_pages()
    assert _resident_kib(path) < 64
    after = idx.rows_of(flat)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    assert float(np.asarray(idx.values, np.float64).sum()) == total


def test_release_pages_of_an_index_in_memory_is_a_no_op():
    idx = _index(np.random.default_rng(4))
    idx.release_pages()
    assert idx.nnz == 300

"""Building a map's sparse index from its volumes, once, and keeping it in the disk cache.

The index itself (:class:`atlascope.analysis.sparse.SparseIndex`) is a plain array structure; this
module reads a Map's volumes into one. Storage: ``<cache>/sparse-index/<key>.npz``, named by a key
made of the map's identity (sources of every volume, region index) and
:data:`~atlascope.analysis.sparse.FORMAT_VERSION`; built under a file lock and written atomically,
so concurrent processes never see a partial index.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..analysis.sparse import FORMAT_VERSION, SparseIndex
from ..commons import logger, progress
from ..errors import CacheError
from ..files import short_digest
from ..retrieval.cache import cache_dir, file_lock
from ..volumes.providers import read_dataobj
from ..volumes.resampling import resample_to_grid

__all__ = ["IndexedMap", "index_key", "build_index", "load_or_build"]


class IndexedMap(Protocol):
    """What building an index reads of a :class:`~atlascope.maps.map.Map` (which calls this module,
    so it is not imported here)."""

    id: str
    name: str
    maptype: str
    volumes: Sequence[Any]
    columns: Sequence[tuple[str, Any]]

    @property
    def grid(self) -> tuple[tuple[int, int, int], np.ndarray]: ...


def index_key(map_: IndexedMap) -> str:
    """Cache key of a map's index: its id, type, volume sources and region index, plus the format."""
    desc = {
        "format": FORMAT_VERSION,
        "id": map_.id,
        "maptype": map_.maptype,
        "volumes": [v.identity for v in map_.volumes],
        "index": [[name, e.volume, e.label, e.z, e.fragment] for name, e in map_.columns],
    }
    return short_digest(json.dumps(desc, sort_keys=True, default=str))


def _nonzero_c_order(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """C-order flat indices and values of the non-zero voxels, without copying F-ordered arrays."""
    if arr.flags.f_contiguous and not arr.flags.c_contiguous:
        t = arr.T  # C-contiguous view
        fidx = np.flatnonzero(t != 0)
        vals = t.reshape(-1)[fidx]
        ijk = np.unravel_index(fidx, arr.shape, order="F")
        return np.ravel_multi_index(ijk, arr.shape), vals
    flat = np.flatnonzero(arr != 0)
    return flat, arr.reshape(-1)[flat]


#: Concurrent downloads when a map's volumes are remote files (one per region, e.g. 314 NIfTIs).
PREFETCH_THREADS = 8


def _prefetch(map_: IndexedMap) -> None:
    """Download every remote volume of ``map_`` into the cache concurrently before indexing."""
    remote = [
        v.provider for v in map_.volumes if hasattr(v.provider, "local_path") and "://" in v.provider.source
    ]
    if len(remote) < 2:
        return
    with ThreadPoolExecutor(PREFETCH_THREADS) as pool:
        list(
            progress(
                pool.map(lambda p: p.local_path(), remote),
                desc="downloading maps",
                total=len(remote),
                unit="file",
            )
        )


def build_index(map_: IndexedMap) -> SparseIndex:
    """Read every volume of ``map_`` once and build its sparse index (streams 4D files)."""
    _prefetch(map_)
    shape, affine = map_.grid
    ncols = len(map_.columns)
    by_volume: dict[int, list[tuple[int, object]]] = {}
    for c, (_name, entry) in enumerate(map_.columns):
        by_volume.setdefault(entry.volume, []).append((c, entry))

    def generate():
        todo = [
            (vidx, z)
            for vidx in sorted(by_volume)
            for z in sorted({e.z for _, e in by_volume[vidx]}, key=lambda z: -1 if z is None else z)
        ]
        bar = iter(progress(range(len(todo)), desc=f"indexing {map_.name[:40]}", unit="image"))
        for vidx in sorted(by_volume):
            vol = map_.volumes[vidx]
            entries = by_volume[vidx]
            zs = sorted({e.z for _, e in entries}, key=lambda z: -1 if z is None else z)
            for z, img in vol.provider.iter_volumes(zs):
                next(bar, None)
                arr = read_dataobj(img, (), vol.provider.source)
                if arr.ndim == 4 and arr.shape[3] == 1:
                    arr = arr[..., 0]
                if arr.shape[:3] != tuple(shape) or not np.allclose(img.affine, affine, atol=1e-4):
                    arr = resample_to_grid(arr, img.affine, shape, affine, labels=map_.maptype == "labelled")
                flat, vals = _nonzero_c_order(arr)
                group = [(c, e) for c, e in entries if e.z == z]
                if map_.maptype == "labelled":
                    labels = np.array([e.label for _, e in group], dtype=np.int64)
                    order = np.argsort(labels)
                    sl, scols = labels[order], np.array([c for c, _ in group])[order]
                    pos = np.clip(np.searchsorted(sl, vals), 0, len(sl) - 1)
                    ok = sl[pos] == vals
                    cols_of = scols[pos]
                    f, cc = flat[ok], cols_of[ok]
                    srt = np.argsort(cc, kind="stable")
                    f, cc = f[srt], cc[srt]
                    bounds = (
                        np.flatnonzero(np.r_[True, cc[1:] != cc[:-1], True]) if len(cc) else np.array([0])
                    )
                    for a, b in zip(bounds[:-1], bounds[1:]):
                        yield int(cc[a]), f[a:b], np.ones(b - a, np.float32)
                else:
                    for c, _e in group:
                        yield c, flat, vals.astype(np.float32)

    return SparseIndex.from_columns(shape, affine, generate(), ncols)


def load_or_build(map_: IndexedMap) -> SparseIndex:
    """The map's index from the cache, or built now and stored (one builder at a time per key)."""
    folder = Path(cache_dir()) / "sparse-index"
    folder.mkdir(parents=True, exist_ok=True)
    key = index_key(map_)
    path = folder / f"{key}.npz"
    if path.exists():
        try:
            return SparseIndex.load(path)
        except CacheError as exc:
            logger.warning("%s", exc)
    with file_lock(path):
        if path.exists():
            try:
                return SparseIndex.load(path)
            except CacheError:
                path.unlink(missing_ok=True)
        logger.info("Building the sparse index of %r (once; cached in %s)", map_.name, folder)
        index = build_index(map_)
        index.save(path)
        return index

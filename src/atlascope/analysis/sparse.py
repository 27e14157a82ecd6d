"""The sparse index of a map: covered voxels x regions (CSR), its per-region totals and its file format.

Every assignment metric (correlation, intersection over union, map value, weighted means,
containedness) follows from this matrix and a few per-region totals, so assignment never touches
dense per-region arrays and never loops over regions in Python. The structure knows nothing of
maps: :mod:`atlascope.maps.sparse_index` builds one from a Map and keeps it in the disk cache.

Storage: one uncompressed ``.npz`` of binary arrays, every array's data 64-byte aligned, written
atomically (:meth:`SparseIndex.save`) and memory-mapped read-only when loaded
(:meth:`SparseIndex.load`), so a query reads only the pages of the rows it touches.
"""

from __future__ import annotations

import io
import mmap
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..commons import logger
from ..errors import CacheError
from ..files import atomic_write

__all__ = ["SparseIndex", "FORMAT_VERSION", "kept_by_threshold"]


#: Bump when the stored layout or the build rules change; old files are then ignored.
#: 4: percentages are stored as the float32 nearest to k/100 (``NiftiProvider`` scaling).
#: 5: array data 64-byte aligned in the file, so the memory-mapped arrays need no copy.
FORMAT_VERSION = 5

#: :meth:`SparseIndex.rows_of` uses a temporary voxel -> row table (4 bytes per grid voxel spanned)
#: instead of a binary search when (voxels spanned + 4 x rows in the span) is at most this many times
#: the number of voxels looked up: a volume's support, not a few points.
DENSE_LOOKUP_SPAN = 32


def kept_by_threshold(values: np.ndarray, lower_threshold: float) -> np.ndarray:
    """Which map values count under ``lower_threshold``: those > 0 and >= the threshold, compared at
    the float32 precision the index stores (so a threshold of k % keeps voxels of exactly k %).

    The one rule for points and volumes alike (docs/differences.md: ``lower_threshold``).
    """
    v = np.asarray(values)
    keep = v > 0
    if lower_threshold > 0:
        keep &= v.astype(np.float32) >= np.float32(lower_threshold)
    return keep


def _column_stats(flat: np.ndarray, col: np.ndarray, val: np.ndarray, shape: tuple, ncols: int):
    """Per-column Σm, Σm², #m>0 and inclusive voxel bounding box (lo, hi) of (flat, column, value) entries."""
    v64 = val.astype(np.float64)
    total = np.bincount(col, v64, ncols)
    total_sq = np.bincount(col, v64 * v64, ncols)
    count = np.bincount(col, minlength=ncols).astype(np.int64)
    lo = np.zeros((ncols, 3), np.int32)
    hi = np.full((ncols, 3), -1, np.int32)
    if len(col):
        by_col = np.argsort(col, kind="stable")
        sc = col[by_col]
        starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
        ijk = np.stack(np.unravel_index(flat[by_col], tuple(shape)), axis=1).astype(np.int32)
        lo[sc[starts]] = np.minimum.reduceat(ijk, starts, axis=0)
        hi[sc[starts]] = np.maximum.reduceat(ijk, starts, axis=0)
    return total, total_sq, count, lo, hi


@dataclass
class SparseIndex:
    """Voxels x regions matrix of a map on one voxel grid (CSR over the covered voxels).

    Attributes
    ----------
    shape : tuple of int
        Grid shape (voxels).
    affine : numpy.ndarray, shape (4, 4)
        Voxel-to-mm affine of the grid.
    voxels : numpy.ndarray of int64, shape (V,)
        Sorted C-order flat indices of voxels covered by at least one region.
    indptr : numpy.ndarray of int64, shape (V + 1,)
        CSR row pointers into ``columns`` / ``values``.
    columns : numpy.ndarray of int32, shape (nnz,)
        Region column of each entry.
    values : numpy.ndarray of float32, shape (nnz,)
        Map value (probability, or 1 for labelled maps) of each entry, > 0.
    bbox_lo, bbox_hi : numpy.ndarray of int32, shape (R, 3)
        Per-column voxel bounding box of the non-zero voxels (inclusive).
    total, total_sq : numpy.ndarray of float64, shape (R,)
        Σm and Σm² per column.
    count : numpy.ndarray of int64, shape (R,)
        Number of non-zero voxels per column.
    """

    shape: tuple[int, int, int]
    affine: np.ndarray
    voxels: np.ndarray
    indptr: np.ndarray
    columns: np.ndarray
    values: np.ndarray
    bbox_lo: np.ndarray
    bbox_hi: np.ndarray
    total: np.ndarray
    total_sq: np.ndarray
    count: np.ndarray
    _thresholded: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def nregions(self) -> int:
        """Number of columns (map index entries)."""
        return int(len(self.total))

    @property
    def nnz(self) -> int:
        """Number of stored (voxel, region) entries."""
        return int(len(self.values))

    def __repr__(self) -> str:
        return f"<SparseIndex {self.nregions} regions, {len(self.voxels)} voxels, {self.nnz} entries, grid {self.shape}>"

    # -------------------------------------------------------------- building
    @classmethod
    def from_columns(cls, shape, affine, columns_iter, ncols: int) -> SparseIndex:
        """Build from an iterator of ``(column, flat_indices, values)`` (values > 0 only).

        Parameters
        ----------
        shape : tuple of int
            Grid shape.
        affine : array (4, 4)
            Grid affine.
        columns_iter : iterable of (int, ndarray int64, ndarray float32)
            Non-zero voxels (C-order flat index) and values of each column.
        ncols : int
            Number of columns R.
        """
        flats, cols, vals = [], [], []
        for c, flat, v in columns_iter:
            flat = np.asarray(flat, np.int64)
            v = np.asarray(v, np.float32)
            keep = v > 0
            if not keep.all():
                flat, v = flat[keep], v[keep]
            if not len(flat):
                logger.debug("column %d of the map is empty", c)
                continue
            flats.append(flat)
            cols.append(np.full(len(flat), c, np.int32))
            vals.append(v)
        flat = np.concatenate(flats) if flats else np.zeros(0, np.int64)
        col = np.concatenate(cols) if cols else np.zeros(0, np.int32)
        val = np.concatenate(vals) if vals else np.zeros(0, np.float32)
        del flats, cols, vals
        total, total_sq, count, lo, hi = _column_stats(flat, col, val, tuple(shape), ncols)
        order = np.argsort(flat * np.int64(max(ncols, 1)) + col, kind="stable")
        flat, col, val = flat[order], col[order], val[order]
        del order
        voxels, starts = np.unique(flat, return_index=True) if len(flat) else (flat, np.zeros(0, np.int64))
        indptr = np.append(starts, len(flat)).astype(np.int64)
        return cls(
            tuple(int(s) for s in shape),
            np.asarray(affine, float),
            voxels.astype(np.int64),
            indptr,
            col,
            val,
            lo,
            hi,
            total,
            total_sq,
            count,
        )

    # ------------------------------------------------------------ thresholds
    def totals(self, lower_threshold: float = 0.0) -> tuple[np.ndarray, ...]:
        """Per-column (Σm, Σm², #m>0, bbox_lo, bbox_hi) after zeroing values below ``lower_threshold``."""
        if lower_threshold <= 0:
            return self.total, self.total_sq, self.count, self.bbox_lo, self.bbox_hi
        key = float(lower_threshold)
        if key not in self._thresholded:
            keep = kept_by_threshold(self.values, lower_threshold)
            rows = np.repeat(np.arange(len(self.voxels)), np.diff(self.indptr))[keep]
            self._thresholded[key] = _column_stats(
                self.voxels[rows], self.columns[keep], self.values[keep], self.shape, self.nregions
            )
        return self._thresholded[key]

    def release_pages(self) -> None:
        """Hand the memory-mapped pages this process has read back to the operating system.

        The file stays mapped and the page cache keeps its contents, so the next query re-reads them
        at memory speed; the process's resident memory no longer counts them. Labelling a table in
        ten atlases one after the other thereby holds one atlas's pages at a time, not ten. No-op
        for indices held in memory (built, or read from an unaligned file).
        """
        for arr in (self.voxels, self.indptr, self.columns, self.values):
            mapping = _mapping_of(arr)
            if mapping is not None and hasattr(mapping, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
                mapping.madvise(mmap.MADV_DONTNEED)

    # --------------------------------------------------------------- reading
    def rows_of(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row numbers of flat voxel indices, and which of them are covered at all.

        Parameters
        ----------
        flat : numpy.ndarray of int, shape (N,)
            C-order flat voxel indices on the index's grid.

        Returns
        -------
        rows : numpy.ndarray of int64, shape (N,)
            Row of each voxel (meaningful where ``hit``).
        hit : numpy.ndarray of bool, shape (N,)
            Whether the voxel is covered by at least one region.

        Notes
        -----
        For many voxels in a compact span (a volume's support; see :data:`DENSE_LOOKUP_SPAN`) the
        rows are read from a temporary voxel -> row table over that span (one scatter, one gather);
        otherwise (a few points) by binary search in the sorted ``voxels``, which reads only the
        pages of ``voxels`` it needs.
        """
        flat = np.asarray(flat, np.int64)
        nvox = len(self.voxels)
        if not len(flat) or not nvox:
            return np.zeros(len(flat), np.int64), np.zeros(len(flat), bool)
        lo, hi = int(flat.min()), int(flat.max()) + 1
        r0, r1 = (int(r) for r in np.searchsorted(self.voxels, (lo, hi)))
        if lo >= 0 and (hi - lo) + 4 * (r1 - r0) <= DENSE_LOOKUP_SPAN * len(flat):
            table = np.full(hi - lo, -1, np.int32 if nvox < 2**31 else np.int64)
            table[self.voxels[r0:r1] - lo] = np.arange(r0, r1)
            rows = table[flat - lo]
            hit = rows >= 0
            return np.maximum(rows, 0).astype(np.int64, copy=False), hit
        pos = np.searchsorted(self.voxels, flat)
        pos_c = np.minimum(pos, nvox - 1)
        return pos_c, (pos < nvox) & (self.voxels[pos_c] == flat)

    def row_entries(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Number of entries of each row in ``rows`` and the positions of all of them, row by row.

        Returns
        -------
        counts : numpy.ndarray of int64, shape (len(rows),)
            Entries (regions) per row.
        entries : numpy.ndarray of int64, shape (counts.sum(),)
            Positions into ``columns``/``values``, the entries of ``rows[0]`` first.
        """
        starts = self.indptr[rows]
        counts = self.indptr[rows + 1] - starts
        # entry j of row i sits at starts[i] + j, and at output position offsets[i] + j
        shift = starts - (np.cumsum(counts) - counts)
        entries = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(shift, counts)
        return counts, entries

    def expand_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For rows r_i, the entry positions of all their non-zeros and the owner i of each.

        Returns
        -------
        owner : ndarray int64 (M,)
            Index into ``rows`` of each entry.
        entries : ndarray int64 (M,)
            Positions into ``columns``/``values``.
        """
        counts, entries = self.row_entries(rows)
        return np.repeat(np.arange(len(rows)), counts), entries

    def column_array(self, column: int, dtype=np.float32) -> np.ndarray:
        """Dense array (grid shape) of one column, rebuilt from the index."""
        sel = np.flatnonzero(self.columns == column)
        rows = np.searchsorted(self.indptr, sel, side="right") - 1
        out = np.zeros(int(np.prod(self.shape)), dtype)
        out[self.voxels[rows]] = self.values[sel]
        return out.reshape(self.shape)

    def columns_max_array(self, columns, dtype=np.float32) -> np.ndarray:
        """Dense voxel-wise maximum over several columns (e.g. the hemispheres of an area)."""
        sel = np.flatnonzero(np.isin(self.columns, np.asarray(list(columns))))
        rows = np.searchsorted(self.indptr, sel, side="right") - 1
        out = np.zeros(int(np.prod(self.shape)), dtype)
        np.maximum.at(out, self.voxels[rows], self.values[sel].astype(dtype))
        return out.reshape(self.shape)

    # ----------------------------------------------------------- persistence
    _ARRAYS = ("voxels", "indptr", "columns", "values", "bbox_lo", "bbox_hi", "total", "total_sq", "count")

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically to ``path`` (an uncompressed ``.npz``)."""
        path = Path(path)
        arrays = {
            "shape": np.asarray(self.shape, np.int64),
            "affine": np.asarray(self.affine),
            "format_version": np.asarray(FORMAT_VERSION),
            **{k: np.asarray(getattr(self, k)) for k in self._ARRAYS},
        }
        with atomic_write(path) as tmp:
            _save_aligned_npz(tmp, arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> SparseIndex:
        """Read an index written by :meth:`save` (binary arrays only, no text parsing).

        The arrays are memory-mapped read-only from the uncompressed ``.npz``, so loading costs
        no copy and a query reads only the pages of the rows it touches.
        """
        try:
            z = _memmap_npz(path)
            if int(z["format_version"]) != FORMAT_VERSION:
                raise CacheError(
                    f"sparse index {path} has format {int(z['format_version'])}, expected {FORMAT_VERSION}"
                )
            # plain ndarray views of the maps: numpy.memmap's per-indexing overhead is avoided
            arrays = {k: np.asarray(z[k]) for k in cls._ARRAYS}
            return cls(tuple(int(s) for s in z["shape"]), np.array(z["affine"]), **arrays)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise CacheError(f"sparse index {path} is unreadable ({exc}); it will be rebuilt.") from exc


def _mapping_of(arr: np.ndarray) -> mmap.mmap | None:
    """The ``mmap`` an array views (through its chain of bases), or None for arrays in memory."""
    base: object = arr
    while base is not None:
        if isinstance(base, mmap.mmap):
            return base
        if isinstance(base, np.memmap) and isinstance(getattr(base, "_mmap", None), mmap.mmap):
            return base._mmap
        base = getattr(base, "base", None)
    return None


#: Alignment (bytes) of each member's array data in the stored ``.npz``: memory maps of it are then
#: aligned, which numpy's kernels (``searchsorted``, gathers) need to work without a whole copy.
ALIGN = 64
#: ZIP extra-field id used for the padding (the one Android's zipalign uses).
_PAD_ID = 0xD935


def _save_aligned_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """``numpy.savez`` layout (uncompressed ``.npz``, readable by ``numpy.load``) with every array's
    data starting at a multiple of :data:`ALIGN` bytes in the file (padding in the local headers'
    extra field; numpy pads the ``.npy`` header itself to 64 bytes)."""
    with open(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
            data = buf.getvalue()
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            start = fh.tell() + 30 + len(info.filename.encode()) + 4  # header, name, pad record
            if len(data) >= 0xFFFFFFFF:
                start += 20  # the zip64 extra record zipfile adds for large members
            pad = (-start) % ALIGN
            info.extra = _PAD_ID.to_bytes(2, "little") + pad.to_bytes(2, "little") + b"\0" * pad
            zf.writestr(info, data)


def _memmap_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of an uncompressed ``.npz`` as read-only memory maps (compressed members are read).

    Parameters
    ----------
    path : path
        A file written by ``numpy.savez``.

    Returns
    -------
    dict
        Member name (without ``.npy``) -> array; stored members are ``numpy.memmap`` views of the file.
    """
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
        for info in zf.infolist():
            name = info.filename[: -len(".npy")] if info.filename.endswith(".npy") else info.filename
            if info.compress_type != zipfile.ZIP_STORED:
                with zf.open(info) as member:
                    out[name] = np.lib.format.read_array(member, allow_pickle=False)
                continue
            # local file header: 30 bytes, then the name and the extra field (lengths at bytes 26-29)
            fh.seek(info.header_offset)
            local = fh.read(30)
            if local[:4] != b"PK\x03\x04":
                raise zipfile.BadZipFile(f"bad local header of {info.filename}")
            start = info.header_offset + 30 + int.from_bytes(local[26:28], "little")
            start += int.from_bytes(local[28:30], "little")
            fh.seek(start)
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(fh)
            if dtype.hasobject:
                raise ValueError(f"{info.filename} holds Python objects")
            if int(np.prod(shape)) == 0:
                out[name] = np.zeros(shape, dtype)
                continue
            if len(shape) == 0 or fh.tell() % max(dtype.alignment, 1):  # scalars; unaligned (older) files
                out[name] = np.fromfile(fh, dtype, int(np.prod(shape))).reshape(shape, order="F" if fortran else "C")
                continue
            out[name] = np.memmap(
                path, dtype=dtype, mode="r", offset=fh.tell(), shape=shape, order="F" if fortran else "C"
            )
    return out

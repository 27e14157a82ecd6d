"""Volume and point assignment metrics, computed from a map's sparse index in one vectorised pass.

The functions here take *structures* — sparse vectors over the map grid (an input volume's
connected components, or Gaussian kernels around points) — and compute, for every (structure,
region) pair with a non-empty overlap, correlation, intersection over union, map value, weighted
means and containedness. There is no Python loop over regions or structures: the overlap is a
gather of the index rows the structures touch, grouped by (structure, region) key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from .sparse import SparseIndex, kept_by_threshold

__all__ = [
    "Structures",
    "assign_structures",
    "read_voxels",
    "gaussian_kernel_structures",
    "image_structures",
    "PairMetrics",
]


@dataclass
class Structures:
    """K input structures as sparse entries on the map grid.

    Attributes
    ----------
    owner : ndarray int64 (E,)
        Structure number 0..K-1 of each entry.
    flat : ndarray int64 (E,)
        C-order flat voxel index on the map grid of each entry.
    value : ndarray float64 (E,)
        Input value q > 0 of each entry.
    n : int
        Number of structures K.
    lo, hi : ndarray int (K, 3), optional
        Inclusive voxel bounding box of each structure, when the caller knows it (saves a pass).
    """

    owner: np.ndarray
    flat: np.ndarray
    value: np.ndarray
    n: int
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None


@dataclass
class PairMetrics:
    """Metrics per overlapping (structure, column) pair; every array has shape (P,)."""

    structure: np.ndarray
    column: np.ndarray
    correlation: np.ndarray
    iou: np.ndarray
    map_value: np.ndarray
    map_weighted_mean: np.ndarray
    map_containedness: np.ndarray
    input_weighted_mean: np.ndarray
    input_containedness: np.ndarray
    intersection: np.ndarray


def _group(keys: np.ndarray):
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]]) if len(sk) else np.zeros(0, np.int64)
    return order, sk, starts


#: Upper bound of (entry, region) pairs expanded at once; bounds memory to a few tens of MB.
JOIN_CHUNK = 262_144


#: Largest key space (structures x regions) reduced with dense bincounts instead of a sort.
DENSE_KEYS = 4_000_000


def _reduce_pairs(key, mq, cnt, mx):
    """Group partial results by key: sums of ``mq`` and ``cnt``, maximum of ``mx``."""
    if len(key) and int(key.max()) < DENSE_KEYS:
        size = int(key.max()) + 1
        n = np.bincount(key, cnt, size)
        present = np.flatnonzero(n)
        best = np.zeros(size)
        np.maximum.at(best, key, mx)
        return present, np.bincount(key, mq, size)[present], n[present].astype(np.int64), best[present]
    order, sk, starts = _group(key)
    if not len(starts):
        return sk, np.zeros(0), np.zeros(0, np.int64), np.zeros(0)
    return (
        sk[starts],
        np.add.reduceat(mq[order], starts),
        np.add.reduceat(cnt[order], starts),
        np.maximum.reduceat(mx[order], starts),
    )


def _overlaps(index: SparseIndex, owner, flat, q, R: int, K: int, lower_threshold: float):
    """Per (structure, column) key ``structure * R + column``: Σ m·q, #(m>0 ∧ q>0) and max m, from
    the index rows the entries touch, in ascending key order.

    The gather is done in chunks of about :data:`JOIN_CHUNK` (entry, region) pairs; with at most
    :data:`DENSE_KEYS` keys the chunks are summed into dense per-key arrays.
    """
    rows, hit = index.rows_of(flat)
    e_idx = np.flatnonzero(hit)
    hrows = rows[e_idx]
    sizes = index.indptr[hrows + 1] - index.indptr[hrows]
    bounds = np.searchsorted(
        np.cumsum(sizes), np.arange(JOIN_CHUNK, int(sizes.sum()) + JOIN_CHUNK, JOIN_CHUNK)
    )
    dense = K * R <= DENSE_KEYS
    if dense:
        acc_mq, acc_n, acc_mx = np.zeros(K * R), np.zeros(K * R, np.int64), np.zeros(K * R)
    parts = []
    lo = 0
    for hi in [*np.minimum(bounds + 1, len(e_idx)).tolist(), len(e_idx)]:
        if hi <= lo:
            continue
        sel = e_idx[lo:hi]
        counts, entries = index.row_entries(hrows[lo:hi])
        m = index.values[entries]
        key = index.columns[entries]
        if K > 1:
            key = np.repeat(owner[sel].astype(np.int64) * R, counts) + key
        mq = np.repeat(q[sel], counts)
        if lower_threshold > 0:  # stored values are > 0, so only a threshold can drop entries
            keep = kept_by_threshold(m, lower_threshold)
            m, key, mq = m[keep], key[keep], mq[keep]
        m = m.astype(np.float64)
        mq *= m
        if dense:
            acc_mq += np.bincount(key, mq, K * R)
            acc_n += np.bincount(key, minlength=K * R)
            np.maximum.at(acc_mx, key, m)
        else:
            parts.append(_reduce_pairs(key.astype(np.int64), mq, np.ones(len(key), np.int64), m))
        lo = hi
    if dense:
        present = np.flatnonzero(acc_n)
        return present, acc_mq[present], acc_n[present], acc_mx[present]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), np.zeros(0)
    if len(parts) == 1:
        return parts[0]
    return _reduce_pairs(*(np.concatenate(x) for x in zip(*parts)))


def _unit_scaled(q: np.ndarray) -> tuple[np.ndarray, float]:
    """``(q / s, s)`` with ``s`` the largest finite ``|q|`` (1 when there is none).

    Raises
    ------
    InvalidInputError
        ``q`` holds NaN or infinite values (validated inputs never do).
    """
    q = np.asarray(q, dtype=np.float64)
    if not len(q):
        return q, 1.0
    if not np.isfinite(q).all():
        raise InvalidInputError(
            "The input holds values that are infinite on the map's grid: either NaN/inf voxels that "
            "were not validated (atlascope.volumes.validated_image treats them as background), or "
            "values beyond float32's range (about 3.4e38) that overflowed when the input was resampled "
            "onto the map's grid. Rescale the input (e.g. divide it by its maximum)."
        )
    s = float(np.max(np.abs(q)))
    if s == 0.0:
        return q, 1.0
    return q / s, s


def assign_structures(
    index: SparseIndex, structs: Structures, shape, lower_threshold: float = 0.0
) -> PairMetrics:
    """Correlation, IoU, map value, weighted means and containedness of every (structure, region) overlap.

    Parameters
    ----------
    index : SparseIndex
        The map's index.
    structs : Structures
        Input structures on the index's grid (entries with q > 0 only).
    shape : tuple of int
        Grid shape (for voxel coordinates).
    lower_threshold : float
        Map values below it count as 0 (the threshold filters map values, not the IoU).

    Returns
    -------
    PairMetrics
        One entry per pair with intersection > 0, sorted by structure then column.
    """
    K, R = structs.n, index.nregions
    tot_m, tot_m2, cnt_m, lo_m, hi_m = index.totals(lower_threshold)

    # every metric but the input weighted mean is invariant to the scale of q: compute with q / max q,
    # so that sums of squares and products stay finite for inputs up to float64's largest value
    q, q_scale = _unit_scaled(structs.value)
    own = structs.owner
    sum_q = np.bincount(own, q, K)
    sum_q2 = np.bincount(own, np.square(q, dtype=np.float64), K)
    cnt_q = np.array([len(own)]) if K == 1 else np.bincount(own, minlength=K).astype(np.int64)
    if structs.lo is not None and structs.hi is not None:
        lo_q, hi_q = np.asarray(structs.lo, np.int64), np.asarray(structs.hi, np.int64)
    else:
        lo_q = np.zeros((K, 3), np.int64)
        hi_q = np.zeros((K, 3), np.int64)
        if len(own):
            ijk = np.stack(np.unravel_index(structs.flat, tuple(shape)), axis=1)
            order, so, starts = _group(own)
            present = so[starts]
            lo_q[present] = np.minimum.reduceat(ijk[order], starts, axis=0)
            hi_q[present] = np.maximum.reduceat(ijk[order], starts, axis=0)
            del ijk, order

    pk, sum_mq, inter, mx = _overlaps(index, own, structs.flat, q, R, K, lower_threshold)
    ps, pc = pk // R, pk % R

    n_m, n_q = cnt_m[pc].astype(np.float64), cnt_q[ps].astype(np.float64)
    union = n_m + n_q - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
        map_wmean = sum_mq / sum_q[ps]
        map_cont = inter / n_m
        in_wmean = (sum_mq / tot_m[pc]) * q_scale  # a weighted mean of q: <= max q, finite
        in_cont = inter / n_q
        blo = np.minimum(lo_m[pc], lo_q[ps])
        bhi = np.maximum(hi_m[pc], hi_q[ps])
        nB = np.prod((bhi - blo + 1).astype(np.float64), axis=1)
        sm, sm2 = tot_m[pc], tot_m2[pc]
        sq, sq2 = sum_q[ps], sum_q2[ps]
        cov = nB * sum_mq - sm * sq
        var = (nB * sm2 - sm * sm) * (nB * sq2 - sq * sq)
        corr = np.where(var > 0, cov / np.sqrt(np.clip(var, 0, None)), np.nan)
    return PairMetrics(ps, pc, np.clip(corr, -1, 1), iou, mx, map_wmean, map_cont, in_wmean, in_cont, inter)


def read_voxels(index: SparseIndex, flat: np.ndarray, lower_threshold: float = 0.0):
    """Map values at single voxels (points with small sigma).

    Parameters
    ----------
    flat : ndarray int64 (N,)
        Flat voxel index per point; negative values mark points outside the grid (no rows).

    Returns
    -------
    point : ndarray int64 (P,)
        Point number of each (point, column) hit.
    column : ndarray int64 (P,)
    value : ndarray float64 (P,)
        Map values > 0 and >= lower_threshold (``kept_by_threshold``, the rule volumes use too).
    """
    flat = np.asarray(flat, np.int64)
    inside = np.flatnonzero(flat >= 0)
    rows, hit = index.rows_of(flat[inside])
    pts = inside[hit]
    owner, entries = index.expand_rows(rows[hit])
    keep = kept_by_threshold(index.values[entries], lower_threshold)
    vals = index.values[entries].astype(np.float64)
    return pts[owner][keep], index.columns[entries][keep].astype(np.int64), vals[keep]


def gaussian_kernel_structures(ijk_center: np.ndarray, sigma_vox: np.ndarray, shape) -> Structures:
    """Normalised Gaussian kernels (σ in voxels, radius ⌊3σ⌋) around voxel centres, as structures.

    Points sharing a σ share one offset table, so N points cost one broadcast per distinct σ.
    Kernels are normalised over their full extent before cropping at the grid border.
    """
    shape = np.asarray(shape, np.int64)
    owners, flats, vals = [], [], []
    sig = np.asarray(sigma_vox, float)
    for s in np.unique(sig):
        sel = np.flatnonzero(sig == s)
        r = int(np.floor(3 * s))
        ax = np.arange(-r, r + 1)
        off = np.stack(np.meshgrid(ax, ax, ax, indexing="ij"), axis=-1).reshape(-1, 3)
        w = np.exp(-(off**2).sum(1) / (2 * s * s))
        inball = (off**2).sum(1) <= r * r
        off, w = off[inball], w[inball]
        w = w / w.sum()
        pos = ijk_center[sel][:, None, :] + off[None, :, :]
        ok = np.all((pos >= 0) & (pos < shape), axis=2)
        o_idx, k_idx = np.nonzero(ok)
        p = pos[o_idx, k_idx]
        owners.append(sel[o_idx])
        flats.append(np.ravel_multi_index((p[:, 0], p[:, 1], p[:, 2]), tuple(shape)))
        vals.append(w[k_idx])
    if owners:
        return Structures(np.concatenate(owners), np.concatenate(flats), np.concatenate(vals), len(sig))
    return Structures(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), len(sig))


#: Neighbourhood of connected components of input volumes: voxels sharing a face or an edge (18).
COMPONENT_CONNECTIVITY = 2


def _run_components(
    run_row: np.ndarray, run_k: np.ndarray, run_len: np.ndarray, box: tuple[int, ...]
) -> tuple[np.ndarray, int]:
    """Connected components (18-connectivity) of the voxels of runs, numbered as ``ndimage.label``.

    Voxels of one run are connected. Two runs connect when their rows are face neighbours in the
    (i, j) plane and their k ranges overlap or touch (a face or an edge neighbour), or when their
    rows are diagonal neighbours and their k ranges overlap (an edge neighbour); that is
    :data:`COMPONENT_CONNECTIVITY` = 2. The run graph is a few times smaller than the voxel grid, so
    ``scipy.sparse.csgraph.connected_components`` on it is several times faster than labelling
    the whole box; labels are renumbered by each component's first run in C order, which is the
    numbering of ``scipy.ndimage.label``.

    Parameters
    ----------
    run_row : numpy.ndarray of int, shape (R,)
        Row ``i * box[1] + j`` of each run in the sub-box, runs in C order.
    run_k, run_len : numpy.ndarray of int, shape (R,)
        First k (voxels) and length of each run.
    box : tuple of int
        Sub-box shape (X, Y, Z).

    Returns
    -------
    (numpy.ndarray of int64, shape (R,), int)
        Label 1..n of each run, and n.
    """
    from scipy.sparse import coo_matrix  # heavy: imported at first use, not with atlascope
    from scipy.sparse.csgraph import connected_components

    s0, s1, s2 = (int(b) for b in box[:3])
    nrun = len(run_row)
    width = s2 + 4  # row * width + k orders runs as C order does, with room for k - 1 .. k + 1
    k_end = run_k + run_len - 1
    key0 = run_row * width + run_k
    key1 = run_row * width + k_end
    i, j = run_row // s1, run_row % s1
    src, dst = [], []
    # forward neighbour rows (di, dj) and how far k ranges may be apart: face rows 1, edge rows 0
    for di, dj, reach in ((0, 1, 1), (1, 0, 1), (1, -1, 0), (1, 1, 0)):
        ok = (i + di < s0) & (j + dj >= 0) & (j + dj < s1)
        a = np.flatnonzero(ok)
        if not len(a):
            continue
        target = (run_row[a] + di * s1 + dj) * width
        lo = np.searchsorted(key1, target + run_k[a] - reach, side="left")
        hi = np.searchsorted(key0, target + k_end[a] + reach, side="right")
        counts = np.maximum(hi - lo, 0)
        total = int(counts.sum())
        if not total:
            continue
        src.append(np.repeat(a, counts))
        dst.append(np.arange(total) - np.repeat(np.cumsum(counts) - counts - lo, counts))
    if src:
        rows_, cols_ = np.concatenate(src), np.concatenate(dst)
    else:
        rows_ = cols_ = np.zeros(0, np.int64)
    graph = coo_matrix((np.ones(len(rows_), np.int8), (rows_, cols_)), shape=(nrun, nrun))
    n, comp = connected_components(graph, directed=False)
    first_run = np.full(n, nrun, np.int64)
    np.minimum.at(first_run, comp, np.arange(nrun))
    order = np.empty(n, np.int64)
    order[np.argsort(first_run, kind="stable")] = np.arange(1, n + 1)
    return order[comp], int(n)


def image_structures(
    sub: np.ndarray, offset, shape, split_components: bool = True, minsize_voxel: int = 1
) -> tuple[Structures, np.ndarray] | None:
    """The positive voxels of an image on a sub-box of the map grid, as structures.

    Parameters
    ----------
    sub : numpy.ndarray, shape (X, Y, Z)
        Input values on the sub-box (voxels <= 0 are background).
    offset : array_like of int, shape (3,)
        Map-grid voxel index of ``sub[0, 0, 0]``.
    shape : tuple of int
        Map grid shape (voxels).
    split_components : bool
        One structure per connected component (18-connectivity) with more than ``minsize_voxel``
        voxels, numbered in label order; else all positive voxels are one structure.
    minsize_voxel : int
        Components of this many voxels or fewer are dropped (with ``split_components`` only).

    Returns
    -------
    (Structures, numpy.ndarray of float64, shape (K, 3)) or None
        The structures (entries in C order, inclusive voxel bounding boxes) and the centroid of each
        (map-grid voxels); None when no voxel is left.
    """
    offset = np.asarray(offset, np.int64)
    pos = sub > 0
    local = np.flatnonzero(pos)  # C-order positions in the sub-box
    if not len(local):
        return None
    s1, s2 = int(sub.shape[1]), int(sub.shape[2])
    S1, S2 = int(shape[1]), int(shape[2])
    row = local // s2  # sub-box row (i, j) of each voxel
    # runs: maximal stretches of consecutive voxels along one row. Neighbours are connected, so a
    # run lies in one component; boxes, sizes and sums come from the runs in integer arithmetic.
    brk = np.flatnonzero((np.diff(local) != 1) | (row[1:] != row[:-1])) + 1
    first = np.r_[0, brk]
    run_len = np.diff(np.r_[first, len(local)])
    if split_components:
        run_lab, n = _run_components(row[first], local[first] - row[first] * s2, run_len, sub.shape)
        sizes = np.zeros(n + 1, np.int64)
        np.add.at(sizes, run_lab, run_len)
        good = np.flatnonzero(sizes > minsize_voxel)
        good = good[good > 0]
        K = len(good)
        if not K:
            return None
        relabel = np.full(n + 1, -1, np.int64)
        relabel[good] = np.arange(K)
        run_owner = relabel[run_lab]
        if K < n:  # drop the voxels of the small components
            keep = run_owner >= 0
            voxel_keep = np.repeat(keep, run_len)
            local, row = local[voxel_keep], row[voxel_keep]
            run_owner, run_len, first = run_owner[keep], run_len[keep], first[keep]
            first = np.cumsum(run_len) - run_len
    else:
        run_owner, K = np.zeros(len(first), np.int64), 1
    owner = np.repeat(run_owner, run_len) if K > 1 else np.zeros(len(local), np.int64)
    # flat index on the map grid: local = row * s2 + k and row = i * s1 + j
    i = row // s1
    base = (int(offset[0]) * S1 + int(offset[1])) * S2 + int(offset[2])
    flat = local + row * (S2 - s2) + i * ((S1 - s1) * S2) + base
    q = sub.reshape(-1)[local].astype(np.float64)
    run_row = row[first]
    run_i = run_row // s1
    run_j = run_row - run_i * s1
    run_k = local[first] - run_row * s2  # k of the first voxel; the run covers run_k .. run_k + len - 1
    run_ksum = run_len * run_k + run_len * (run_len - 1) // 2
    lo = np.full((K, 3), np.iinfo(np.int64).max, np.int64)
    hi = np.full((K, 3), -1, np.int64)
    sums = np.zeros((K, 3), np.int64)
    cnt = np.zeros(K, np.int64)
    for a, (low, high, total) in enumerate(
        ((run_i, run_i, run_i * run_len), (run_j, run_j, run_j * run_len), (run_k, run_k + run_len - 1, run_ksum))
    ):
        np.minimum.at(lo[:, a], run_owner, low)
        np.maximum.at(hi[:, a], run_owner, high)
        np.add.at(sums[:, a], run_owner, total)
    np.add.at(cnt, run_owner, run_len)
    lo, hi = lo + offset, hi + offset
    sums = (sums + offset * cnt[:, None]).astype(np.float64)
    return Structures(owner, flat, q, K, lo, hi), sums / cnt[:, None]

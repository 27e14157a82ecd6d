"""Cluster tables of statistical maps: threshold, connected components, peaks and sub-peaks.

Plain functions over arrays that reproduce ``nilearn.reporting.get_clusters_table`` (volume data)
row for row: the map is thresholded (``|v| >= t`` kept), clusters smaller than the extent (in
voxels) are removed, clusters are the connected components of ``v > t`` (6-connectivity by
default, 18 and 26 selectable), ordered by their peak; each cluster reports its peak and up to
three sub-peaks (local maxima at least ``min_distance`` mm apart) and its size in mm³. Plateaus
(binary clusters) report their centre of mass, snapped into the cluster when it falls outside.
Every local-maximum search runs on the cluster's bounding box only, which gives the same result
as nilearn's whole-volume filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from string import ascii_lowercase
from types import MappingProxyType

import numpy as np

from ..affines import voxel_to_mm
from ..checks import as_finite_real
from ..errors import InvalidInputError

__all__ = ["TABLE_COLUMNS", "CONNECTIVITY", "Cluster", "find_clusters_table", "structure_for", "table_rows"]

#: The columns of nilearn's volume cluster table, in order.
TABLE_COLUMNS = ["Cluster ID", "X", "Y", "Z", "Peak Stat", "Cluster Size (mm3)"]
#: Neighbourhood sizes -> scipy connectivity rank (6 = faces, 18 = + edges, 26 = + corners).
CONNECTIVITY = MappingProxyType({6: 1, 18: 2, 26: 3})
MAX_SUBPEAKS = 3


@dataclass
class Cluster:
    """One cluster of a thresholded map.

    Attributes
    ----------
    id : int
        Cluster ID as in the table (negative-tail IDs continue after the positive rows, as nilearn's).
    sign : int
        +1 (values above the threshold) or -1 (below minus the threshold).
    mask_ijk : numpy.ndarray
        Shape (n, 3): voxel indices of the cluster.
    size_mm3 : int
        Voxel count times voxel volume, truncated to an integer (nilearn's rule).
    peaks_ijk : numpy.ndarray
        Shape (k, 3), k <= 4: peak then sub-peaks, voxel indices (always inside the cluster).
    peaks_xyz : numpy.ndarray
        Shape (k, 3): the same in mm.
    peak_values : numpy.ndarray
        Shape (k,): map values at the peaks (signed).
    """

    id: int
    sign: int
    mask_ijk: np.ndarray
    size_mm3: int
    peaks_ijk: np.ndarray
    peaks_xyz: np.ndarray
    peak_values: np.ndarray
    names: list[str] = field(default_factory=list)


def structure_for(connectivity: int) -> np.ndarray:
    """The 3x3x3 neighbourhood for ``connectivity`` in {6, 18, 26} (voxels sharing a face/edge/corner)."""
    from scipy import ndimage  # heavy: imported at first use, not with atlascope

    if isinstance(connectivity, bool) or connectivity not in CONNECTIVITY:
        raise InvalidInputError(
            f"connectivity must be 6, 18 or 26 (voxels sharing a face, an edge, a corner), got {connectivity!r}."
        )
    return ndimage.generate_binary_structure(3, CONNECTIVITY[connectivity])


def _check_params(stat_threshold: float, cluster_threshold: int, min_distance: float) -> None:
    as_finite_real(stat_threshold, "stat_threshold", minimum=0.0)
    if isinstance(cluster_threshold, bool) or not float(cluster_threshold).is_integer() or cluster_threshold < 0:
        raise InvalidInputError(
            f"cluster_threshold is a number of voxels >= 0, got {cluster_threshold!r} "
            "(nilearn's convention; divide a size in mm3 by the voxel volume)."
        )
    md = as_finite_real(min_distance, "min_distance")
    if md <= 0:
        raise InvalidInputError(f"min_distance must be a positive distance in mm, got {min_distance!r}.")


def _threshold(data: np.ndarray, thr: float, extent: int, two_sided: bool, structure: np.ndarray) -> np.ndarray:
    """Keep ``v >= thr`` (and ``v <= -thr`` two-sided), then drop clusters of fewer than ``extent`` voxels."""
    from scipy import ndimage  # heavy: imported at first use, not with atlascope

    out = data.astype(np.float64, copy=True)
    keep = (out >= thr) | (out <= -thr) if two_sided else out >= thr
    out[~keep] = 0.0
    if extent > 0:
        for sign in (1, -1):
            lab, n = ndimage.label(out * sign > 0, structure)
            if n:
                sizes = np.bincount(lab.ravel(), minlength=n + 1)
                small = sizes < extent
                small[0] = False
                out[small[lab]] = 0.0
    return out


def _local_maxima(data: np.ndarray, affine: np.ndarray, offset: np.ndarray, min_distance: float):
    """nilearn's peak rule on one cluster's masked values ``data`` (a bounding box, zero outside)."""
    from scipy import ndimage  # heavy: imported at first use, not with atlascope

    data_max = ndimage.maximum_filter(data, 3)
    maxima = data == data_max
    nonzero = data != 0
    maxima[~nonzero] = False
    vals_in = data[nonzero]
    if not np.isclose(vals_in.max(), vals_in.min()):
        data_min = ndimage.minimum_filter(data, 3)
        maxima[(data_max - data_min) <= 0] = False
    labeled, n = ndimage.label(maxima)
    index = np.arange(1, n + 1)
    # round in the whole map's indices (np.round halves to even, so the offset matters)
    ijk = np.round(np.array(ndimage.center_of_mass(data, labeled, index)) + offset).astype(int) - offset
    outside = labeled[tuple(ijk.T)] != index
    if outside.any():  # plateau whose centre of mass lies outside it: nearest voxel of the plateau
        where = np.argwhere(labeled > 0)
        owner = labeled[labeled > 0]
        for row in np.flatnonzero(outside):
            cand = where[owner == index[row]]
            ijk[row] = cand[np.argmin(np.linalg.norm(cand - ijk[row], axis=1))]
    vals = data[tuple(ijk.T)]
    order = (-vals).argsort()
    vals, ijk = vals[order], ijk[order] + offset
    xyz = voxel_to_mm(ijk, affine)
    keep = np.ones(len(vals), bool)
    for i in range(len(vals)):
        if keep[i]:
            keep[i + 1 :] = np.linalg.norm(xyz[i + 1 :] - xyz[i], axis=1) > min_distance
    return ijk[keep], vals[keep]


def find_clusters_table(
    data: np.ndarray,
    affine: np.ndarray,
    stat_threshold: float,
    cluster_threshold: int = 0,
    two_sided: bool = False,
    min_distance: float = 8.0,
    connectivity: int = 6,
    voxel_volume: float | None = None,
) -> tuple[list[Cluster], np.ndarray]:
    """Clusters, peaks and sub-peaks of a 3D statistical map.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (X, Y, Z), finite values (non-finite voxels count as 0).
    affine : numpy.ndarray
        Shape (4, 4), voxel -> mm.
    stat_threshold : float
        Cluster-forming threshold (>= 0, in the map's units); clusters are ``v > t``.
    cluster_threshold : int
        Minimum cluster size in voxels (0 = keep all).
    two_sided : bool
        Also report clusters of ``v < -t``.
    min_distance : float
        Minimum distance between sub-peaks, mm.
    connectivity : {6, 18, 26}
        Neighbourhood defining clusters (6 = nilearn's).
    voxel_volume : float, optional
        mm³ per voxel (default: ``|det(affine)|``; nilearn uses the header's zooms).

    Returns
    -------
    clusters : list of Cluster
        In table order.
    label_map : numpy.ndarray
        Shape (X, Y, Z), int32: ``+id`` for positive clusters, ``-id`` for negative ones, 0 elsewhere.
    """
    from scipy import ndimage  # heavy: imported at first use, not with atlascope

    _check_params(stat_threshold, cluster_threshold, min_distance)
    structure = structure_for(connectivity)
    data = np.asarray(data)
    if data.ndim != 3:
        raise InvalidInputError(f"data must be 3D, got shape {data.shape}.")
    arr = np.where(np.isfinite(data), data, 0) if np.issubdtype(data.dtype, np.floating) else data
    thr = float(stat_threshold)
    arr = _threshold(arr, thr, int(cluster_threshold), two_sided, structure)
    vvol = float(abs(np.linalg.det(np.asarray(affine)[:3, :3]))) if voxel_volume is None else float(voxel_volume)
    clusters: list[Cluster] = []
    label_map = np.zeros(arr.shape, np.int32)
    n_rows = 0
    for sign in (1, -1) if two_sided else (1,):
        signed = arr * sign
        lab, n = ndimage.label(signed > thr, structure)
        if not n:
            continue
        ids = np.arange(1, n + 1)
        peak_vals = np.maximum(np.asarray(ndimage.maximum(signed, lab, ids)), 0.0)
        order = ids[(-peak_vals).argsort()]
        offset_id = n_rows
        boxes = ndimage.find_objects(lab)
        for rank, c in enumerate(order):
            cid = rank + offset_id + 1
            box = boxes[c - 1]
            lo = np.array([max(s.start - 1, 0) for s in box])
            hi = np.array([min(s.stop + 1, dim) for s, dim in zip(box, arr.shape, strict=True)])
            region = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
            in_c = lab[region] == c
            masked = np.where(in_c, signed[region], 0.0)
            ijk, vals = _local_maxima(masked, affine, lo, float(min_distance))
            ijk, vals = ijk[: MAX_SUBPEAKS + 1], vals[: MAX_SUBPEAKS + 1] * sign
            mask_ijk = np.argwhere(in_c) + lo
            label_map[tuple(mask_ijk.T)] = sign * cid
            names = [str(cid)] + [f"{cid}{ascii_lowercase[k]}" for k in range(len(vals) - 1)]
            clusters.append(
                Cluster(
                    id=cid,
                    sign=sign,
                    mask_ijk=mask_ijk,
                    size_mm3=int(len(mask_ijk) * vvol),
                    peaks_ijk=ijk,
                    peaks_xyz=voxel_to_mm(ijk, affine),
                    peak_values=vals,
                    names=names,
                )
            )
            n_rows += len(vals)
    return clusters, label_map


def table_rows(clusters: list[Cluster]) -> list[list]:
    """Rows of nilearn's table (``TABLE_COLUMNS``): sub-peaks have IDs "1a".. and an empty size."""
    rows = []
    for c in clusters:
        for k, name in enumerate(c.names):
            x, y, z = (float(v) for v in c.peaks_xyz[k])
            cid = c.id if k == 0 else name
            rows.append([cid, x, y, z, c.peak_values[k], c.size_mm3 if k == 0 else ""])
    return rows

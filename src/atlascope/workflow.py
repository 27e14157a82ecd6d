"""The main job: characterise an activation map (or coordinates) with a probabilistic map.

``characterize`` runs one of two methods and returns every intermediate result in one
:class:`Characterization`: ``statmap`` thresholds a signed statistical map into a cluster table whose
peaks and clusters are labelled in every atlas and assigned to the map's regions; ``sampling`` draws
samples from a non-negative map, clusters them (HDBSCAN), turns each cluster into a kernel-density
map, finds the input's peaks, and assigns peaks and clusters to the map's regions.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd

from .affines import nearest_voxel, voxel_to_mm
from .analysis.peaks import find_peaks
from .commons import logger
from .configuration.package_data import package_file
from .core.registry import REGISTRY
from .errors import InvalidInputError
from .labelling import cluster_table
from .locations.point import PointCloud
from .maps.map import Map
from .volumes.builders import from_nifti, from_pointcloud
from .volumes.validation import validated_image
from .volumes.volume import Volume

__all__ = ["Parameters", "Characterization", "characterize", "choose_method", "example_image_path", "resolve_map"]

DEFAULT_MAP = ("julich fsl", "mni152")


@dataclass
class Parameters:
    """Parameters of a characterisation (defaults follow siibra's 2025 paper, figure 3)."""

    samples: int = 10000
    seed: int | None = 25
    exponent: float = 5.0
    sigma_mm: float = 3.0
    min_fraction: float = 1 / 300
    max_fraction: float = 1 / 2
    peak_mindist: int = 5
    lower_threshold: float = 0.0
    minsize_voxel: int = 1
    min_correlation: float = 0.2

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary."""
        return dict(self.__dict__)


@dataclass
class Characterization:
    """Everything ``characterize`` computed.

    Attributes
    ----------
    input : Volume
        The validated input.
    map : Map
        The statistical (probabilistic) map whose regions the peaks and clusters are assigned to.
    samples : PointCloud or None
        Drawn samples with cluster labels (sampling method; None for ``method="statmap"``).
    peaks : PointCloud
        Peaks of the input, strongest first (statmap: the cluster table's peaks and sub-peaks).
    peak_assignments : pandas.DataFrame
        Assignment of the peaks to ``map``.
    clusters : pandas.DataFrame
        One row per cluster: cluster, samples (sampling) or voxels (statmap), centroid x/y/z (mm),
        peak value of the input.
    cluster_maps : dict of int to Volume
        Kernel-density map (sampling, on the map's grid) or masked input (statmap) of each cluster.
    cluster_assignments : pandas.DataFrame
        Assignment of every cluster map to ``map``, with a ``cluster`` column (all rows).
    parameters : Parameters
        What was used.
    timings : dict of str to float
        Seconds per step.
    method : {"statmap", "sampling"}
        The method that ran.
    cluster_table : pandas.DataFrame or None
        Wide cluster table: "Cluster ID", "X", "Y", "Z", "Peak Stat", "Cluster Size (mm3)", then one
        column per atlas (display name). None for the sampling method.
    labels : pandas.DataFrame or None
        Long label table: cluster, peak, atlas, label, value, metric.
    label_maps : nibabel.Nifti1Image or None
        Cluster label image on the input grid: +id positive clusters, -id negative ones, 0 elsewhere.
    atlases : list of Map
        The atlases of ``cluster_table`` and ``labels``.
    peak_values : numpy.ndarray or None
        Shape (n_peaks,): the input's value at each peak, as found (not recomputed).
    """

    input: Volume
    map: Map
    samples: PointCloud | None
    peaks: PointCloud
    peak_assignments: pd.DataFrame
    clusters: pd.DataFrame
    cluster_maps: dict[int, Volume]
    cluster_assignments: pd.DataFrame
    parameters: Parameters
    timings: dict[str, float] = field(default_factory=dict)
    method: str = "sampling"
    cluster_table: pd.DataFrame | None = None
    labels: pd.DataFrame | None = None
    label_maps: nib.Nifti1Image | None = None
    atlases: list = field(default_factory=list)
    peak_values: np.ndarray | None = None


def example_image_path() -> str:
    """Path of nilearn's bundled NeuroVault image (image_10426, a 3 mm t-map in MNI152 space)."""
    return str(package_file("nilearn", "datasets", "data", "image_10426.nii.gz"))


def resolve_map(map_: Map | str | tuple | None, space: str | None = None) -> Map:
    """A statistical Map from a Map, a parcellation spec, or None (the default Julich map)."""
    if isinstance(map_, Map):
        return map_
    parc = map_ or DEFAULT_MAP[0]
    return REGISTRY.get_map(parc, space or DEFAULT_MAP[1], maptype="statistical")


METHODS = ("auto", "statmap", "sampling")
DEFAULT_STAT_THRESHOLD = 3.1


def choose_method(data: np.ndarray, method: str = "auto") -> str:
    """``"sampling"`` for non-negative (feature) maps, ``"statmap"`` for signed maps, unless given."""
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {', '.join(METHODS)}, got {method!r}.")
    if method != "auto":
        return method
    return "statmap" if np.any(data < 0) else "sampling"


def characterize(
    image: nib.spatialimages.SpatialImage | str | os.PathLike | Volume,
    space: str = "mni152",
    map: Map | str | None = None,
    parameters: Parameters | None = None,
    name: str = "",
    method: str = "auto",
    threshold: float | None = None,
    extent: int = 0,
    two_sided: bool = False,
    atlases: Any = "all",
) -> Characterization:
    """Characterise an activation map: clusters, peaks and their labels in atlases.

    Parameters
    ----------
    image : path, nibabel image or Volume
        The activation or statistical map (3D, in ``space``; NaN/±inf are background).
    space : str
        Space of the image, default ``"mni152"``.
    map : Map or str, optional
        Statistical map whose regions the peaks and clusters are assigned to (default: the Juelich
        histological atlas).
    parameters : Parameters, optional
        Sampling, clustering and assignment parameters.
    name : str
        Display name of the input.
    method : {"auto", "statmap", "sampling"}
        ``statmap``: thresholded cluster table (nilearn's rows) labelled in every atlas;
        ``sampling``: samples drawn from the map, clustered with HDBSCAN, one kernel-density map per
        cluster; ``auto``: sampling for
        non-negative maps, statmap for signed ones.
    threshold : float, optional
        Cluster-forming threshold (statmap: default 3.1; sampling: only values above it, and with
        ``two_sided`` below minus it, are sampled, default 0).
    extent : int
        Minimum cluster size in voxels (statmap).
    two_sided : bool
        Also negative clusters (statmap) / sample the negative part separately (sampling).
    atlases : "all", names, Maps or None
        Atlases of the cluster table.

    Returns
    -------
    Characterization
    """
    p = parameters or Parameters()
    timings: dict[str, float] = {}

    def tick(step: str, t0: float) -> float:
        return tick_into(timings, step, t0)

    t = time.perf_counter()
    vol = image if isinstance(image, Volume) else from_nifti(image, space, name=name)
    img = validated_image(vol.fetch(), what=vol.name or "input image")
    arr = np.asanyarray(img.dataobj)
    chosen = choose_method(arr, method)
    pmap = resolve_map(map, space)
    pmap.load_index()
    t = tick("load input and map", t)
    if chosen == "statmap" and threshold is None:
        threshold = DEFAULT_STAT_THRESHOLD
        logger.info("No threshold given: clusters are formed at |value| > %s.", threshold)
    table = None  # the cluster table belongs to the stat-map method (sampling reports its own clusters)
    if chosen == "statmap":
        table = cluster_table(img, threshold, extent, two_sided, atlases=atlases, space=space)
        t = tick("cluster table and labels", t)
    if chosen == "statmap":
        result = _statmap(vol, img, arr, pmap, p, table, timings, t)
    else:
        result = _sampling(vol, img, arr, pmap, p, threshold, two_sided, timings, t)
    if table is not None:
        result.cluster_table, result.labels = table.wide, table.long
        result.label_maps, result.atlases = table.label_map, table.atlases
    return result


def _statmap(vol, img, arr, pmap, p, table, timings, t) -> Characterization:
    """Peaks = the cluster table's peaks; clusters = its clusters, assigned to ``pmap``."""
    clusters = table.clusters
    xyz = np.concatenate([c.peaks_xyz for c in clusters]) if clusters else np.zeros((0, 3))
    values = np.concatenate([c.peak_values for c in clusters]) if clusters else np.zeros(0)
    peaks = PointCloud(xyz, vol.space, sigma_mm=0.0, labels=np.arange(len(xyz)))
    peak_df = pmap.assign(peaks, lower_threshold=p.lower_threshold) if len(xyz) else pd.DataFrame()
    rows, cluster_maps, assigned = [], {}, []
    for c in clusters:
        masked = np.zeros(arr.shape, np.float32)
        masked[tuple(c.mask_ijk.T)] = np.abs(arr[tuple(c.mask_ijk.T)])
        cimg = nib.Nifti1Image(masked, img.affine)
        cmap = from_nifti(cimg, vol.space, name=f"cluster {c.sign * c.id}")
        cluster_maps[c.sign * c.id] = cmap
        centroid = voxel_to_mm(c.mask_ijk.mean(0), img.affine)
        rows.append(
            {"cluster": c.sign * c.id, "samples": len(c.mask_ijk), "x": centroid[0], "y": centroid[1],
             "z": centroid[2], "peak value": float(c.peak_values[0])}
        )
        df = pmap.assign(cimg, minsize_voxel=p.minsize_voxel, lower_threshold=p.lower_threshold,
                         split_components=False)
        df.insert(0, "cluster", c.sign * c.id)
        assigned.append(df)
    t = tick_into(timings, "cluster assignment", t)
    return Characterization(
        vol, pmap, None, peaks, peak_df,
        pd.DataFrame(rows, columns=["cluster", "samples", "x", "y", "z", "peak value"]),
        cluster_maps, pd.concat(assigned, ignore_index=True) if assigned else pd.DataFrame(), p, timings,
        method="statmap", peak_values=values,
    )


def tick_into(timings: dict[str, float], step: str, t0: float) -> float:
    """Record the seconds since ``t0`` under ``step``; return the new start time."""
    timings[step] = time.perf_counter() - t0
    logger.debug("%s: %.3f s", step, timings[step])
    return time.perf_counter()


def _sampling(vol, img, arr, pmap, p, threshold, two_sided, timings, t) -> Characterization:
    """Sample, cluster and assign the positive part (and, two-sided, the negative part separately)."""
    thr = 0.0 if threshold is None else float(threshold)
    signed = bool(np.any(arr < 0))
    parts = [(1, np.where(arr > thr, arr, 0))]
    if signed and two_sided:
        parts.append((-1, np.where(arr < -thr, -arr, 0)))
    if not any(np.any(part > 0) for _sign, part in parts):
        raise InvalidInputError(
            f"{vol.name or 'The input'} has no voxel beyond {thr}: nothing to sample. Lower the threshold"
            + ("." if two_sided or not signed else ", or pass two_sided=True to sample the negative part.")
        )
    rng = np.random.default_rng(p.seed) if p.seed is not None else None
    grid_shape, grid_affine = pmap.grid
    target = nib.Nifti1Image(np.zeros(grid_shape, np.uint8), grid_affine)
    all_coords, all_labels, rows, cluster_maps, assigned = [], [], [], {}, []
    peak_xyz, peak_vals = [], []
    for sign, part in parts:
        if not np.any(part > 0):
            logger.info("No voxel %s %s: that part is not sampled.", "above" if sign > 0 else "below", sign * thr)
            continue
        pvol = from_nifti(nib.Nifti1Image(part.astype(np.float32), img.affine), vol.space, name=vol.name)
        samples = pvol.draw_samples(p.samples, e=p.exponent, sigma_mm=p.sigma_mm, rng=rng)
        samples.find_clusters(min_fraction=p.min_fraction, max_fraction=p.max_fraction)
        ijk, vals = find_peaks(part, mindist=p.peak_mindist, threshold=0.0)
        if len(ijk):
            peak_xyz.append(voxel_to_mm(ijk, img.affine))
            peak_vals.append(sign * np.asarray(vals, float))
        offset = len(rows)  # negative clusters continue the numbering (-1 stays "noise")
        for lab in sorted(set(samples.labels.tolist()) - {-1}):
            sel = samples.labels == lab
            pts = samples.coordinates[sel]
            vijk = nearest_voxel(pts, img.affine)
            ok = np.all((vijk >= 0) & (vijk < np.asarray(arr.shape)), axis=1)
            peak_val = float(sign * part[tuple(vijk[ok].T)].max()) if ok.any() else float("nan")
            cid = lab + offset
            c = pts.mean(0)
            rows.append({"cluster": cid, "samples": int(sel.sum()), "x": c[0], "y": c[1], "z": c[2],
                         "peak value": peak_val})
            cmap = from_pointcloud(samples, label=lab, target=target)  # densities on the map's grid
            cluster_maps[cid] = cmap
            df = pmap.assign(cmap, minsize_voxel=p.minsize_voxel, lower_threshold=p.lower_threshold)
            df.insert(0, "cluster", cid)
            assigned.append(df)
        labels = np.where(samples.labels >= 0, samples.labels + offset, -1)
        all_coords.append(samples.coordinates)
        all_labels.append(labels)
    t = tick_into(timings, "samples, clusters and densities", t)
    samples = PointCloud(np.concatenate(all_coords), vol.space, sigma_mm=p.sigma_mm,
                         labels=np.concatenate(all_labels))
    xyz = np.concatenate(peak_xyz) if peak_xyz else np.zeros((0, 3))
    values = np.concatenate(peak_vals) if peak_vals else np.zeros(0)
    order = np.argsort(-np.abs(values), kind="stable")
    xyz, values = xyz[order], values[order]
    peaks = PointCloud(xyz, vol.space, sigma_mm=0.0, labels=np.arange(len(xyz)))
    peak_df = pmap.assign(peaks, lower_threshold=p.lower_threshold) if len(xyz) else pd.DataFrame()
    tick_into(timings, "peaks", t)
    clusters = pd.DataFrame(rows, columns=["cluster", "samples", "x", "y", "z", "peak value"])
    cluster_df = pd.concat(assigned, ignore_index=True) if assigned else pd.DataFrame()
    return Characterization(
        vol, pmap, samples, peaks, peak_df, clusters, cluster_maps, cluster_df, p, timings,
        method="sampling", peak_values=values,
    )

"""The main job: characterise an activation map (or coordinates) with a probabilistic map.

``characterize`` runs SPEC sections 3-4 in order — sample the input, cluster the samples, turn
each cluster into a kernel-density map, find the input's peaks, and assign peaks and clusters to
the map's regions — and returns every intermediate result in one :class:`Characterization`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd

from .analysis._grid import nearest_voxel
from .commons import logger
from .core.registry import REGISTRY
from .locations.point import PointCloud
from .maps.map import Map
from .volumes.builders import from_nifti, from_pointcloud
from .volumes.volume import Volume

__all__ = ["Parameters", "Characterization", "characterize", "example_image_path", "resolve_map"]

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
        The statistical map used.
    samples : PointCloud
        Drawn samples with cluster labels.
    peaks : PointCloud
        Peaks of the input, strongest first.
    peak_assignments : pandas.DataFrame
        Assignment of the peaks.
    clusters : pandas.DataFrame
        One row per cluster: label, number of samples, centroid (mm), peak value of the input.
    cluster_maps : dict of int to Volume
        Kernel-density map of each cluster.
    cluster_assignments : pandas.DataFrame
        Assignment of every cluster's density map, with a ``cluster`` column.
    parameters : Parameters
        What was used.
    timings : dict of str to float
        Seconds per step.
    """

    input: Volume
    map: Map
    samples: PointCloud
    peaks: PointCloud
    peak_assignments: pd.DataFrame
    clusters: pd.DataFrame
    cluster_maps: dict[int, Volume]
    cluster_assignments: pd.DataFrame
    parameters: Parameters
    timings: dict[str, float] = field(default_factory=dict)

    def top_regions(self, n: int = 5) -> pd.DataFrame:
        """The best-correlated region of each cluster, then the next best, up to ``n`` rows."""
        df = self.cluster_assignments
        if not len(df) or "correlation" not in df:
            return df.head(0)
        return df.sort_values("correlation", ascending=False).head(n)


def example_image_path() -> str:
    """Path of nilearn's bundled NeuroVault image (image_10426, a 3 mm t-map in MNI152 space)."""
    from .configuration.package_data import package_file

    return str(package_file("nilearn", "datasets", "data", "image_10426.nii.gz"))


def resolve_map(map_: Map | str | tuple | None, space: str | None = None) -> Map:
    """A statistical Map from a Map, a parcellation spec, or None (the default Julich map)."""
    if isinstance(map_, Map):
        return map_
    parc = map_ or DEFAULT_MAP[0]
    return REGISTRY.get_map(parc, space or DEFAULT_MAP[1], maptype="statistical")


def characterize(
    image: nib.spatialimages.SpatialImage | str | os.PathLike | Volume,
    space: str = "mni152",
    map: Map | str | None = None,
    parameters: Parameters | None = None,
    name: str = "",
) -> Characterization:
    """Characterise an activation map: clusters, peaks and their assignment to a map's regions.

    Parameters
    ----------
    image : path, nibabel image or Volume
        The activation map (3D, in ``space``).
    space : str
        Space of the image, default ``"mni152"``.
    map : Map or str, optional
        Statistical map or parcellation spec (default: the Juelich histological atlas).
    parameters : Parameters, optional
        Sampling, clustering and assignment parameters.
    name : str
        Display name of the input.

    Returns
    -------
    Characterization
    """
    p = parameters or Parameters()
    timings: dict[str, float] = {}

    def tick(step: str, t0: float) -> float:
        timings[step] = time.perf_counter() - t0
        logger.debug("%s: %.3f s", step, timings[step])
        return time.perf_counter()

    t = time.perf_counter()
    vol = image if isinstance(image, Volume) else from_nifti(image, space, name=name)
    img = vol.fetch()
    arr = np.asanyarray(img.dataobj)
    if not np.any(arr > 0):
        logger.warning(
            "%s has no positive voxels: samples follow the relative order of its values and no cluster "
            "map can overlap a region positively. Pass the negated map to characterise deactivations.",
            vol.name or "The input",
        )
    pmap = resolve_map(map, space)
    t = tick("load input and map", t)
    _ = pmap.sparse_index
    t = tick("sparse index", t)
    rng = np.random.default_rng(p.seed) if p.seed is not None else None
    samples = vol.draw_samples(p.samples, e=p.exponent, sigma_mm=p.sigma_mm, rng=rng)
    t = tick("draw samples", t)
    samples.find_clusters(min_fraction=p.min_fraction, max_fraction=p.max_fraction)
    t = tick("find clusters", t)
    peaks = vol.find_peaks(mindist=p.peak_mindist, sigma_mm=0, threshold=0.0)
    peak_df = pmap.assign(peaks, lower_threshold=p.lower_threshold)
    t = tick("peaks", t)
    affine = img.affine
    rows, cluster_maps, assigned = [], {}, []
    labels = sorted(set(samples.labels.tolist()) - {-1})
    for lab in labels:
        sel = samples.labels == lab
        pts = samples.coordinates[sel]
        ijk = nearest_voxel(pts, affine)
        ok = np.all((ijk >= 0) & (ijk < np.asarray(arr.shape)), axis=1)
        peak_val = float(arr[tuple(ijk[ok].T)].max()) if ok.any() else float("nan")
        c = pts.mean(0)
        rows.append(
            {
                "cluster": lab,
                "samples": int(sel.sum()),
                "x": c[0],
                "y": c[1],
                "z": c[2],
                "peak value": peak_val,
            }
        )
        cmap = from_pointcloud(samples, label=lab, target=vol)
        cluster_maps[lab] = cmap
        df = pmap.assign(cmap, minsize_voxel=p.minsize_voxel, lower_threshold=p.lower_threshold)
        df.insert(0, "cluster", lab)
        assigned.append(df)
    t = tick("cluster maps and assignment", t)
    clusters = pd.DataFrame(rows, columns=["cluster", "samples", "x", "y", "z", "peak value"])
    cluster_df = pd.concat(assigned, ignore_index=True) if assigned else pd.DataFrame()
    return Characterization(
        vol, pmap, samples, peaks, peak_df, clusters, cluster_maps, cluster_df, p, timings
    )

"""Label peaks, clusters and coordinates in many atlases at once.

Labelled maps give the label under each peak and, per cluster, the share of the cluster's voxels
in each label (top 3, %). Statistical (probabilistic) maps give the most probable region under the
peak with its probability and, per cluster, the assignment metrics of the best regions (via
:meth:`Map.assign`). A peak or cluster that no region of an atlas covers says so ("outside the
<atlas> coverage"); a label whose hemisphere contradicts the sign of x by more than 2 mm is flagged.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import nibabel as nib
import numpy as np

from .affines import nearest_voxel, voxel_to_mm
from .analysis.assignment import read_voxels
from .analysis.cluster_table import TABLE_COLUMNS, Cluster, find_clusters_table, table_rows
from .commons import logger
from .core.registry import REGISTRY
from .errors import InvalidInputError, NotFoundError
from .maps.map import Map
from .volumes.validation import analysis_dtype, validated_image

if TYPE_CHECKING:  # pandas is imported where a table is built: `atlascope assign` starts without it
    import pandas as pd

__all__ = [
    "LONG_COLUMNS",
    "ClusterTable",
    "atlas_name",
    "get_clusters_table",
    "label_clusters",
    "coordinate_rows",
    "label_coordinates",
    "resolve_atlases",
]

#: Columns of the long-form label table.
LONG_COLUMNS = ["cluster", "peak", "atlas", "label", "value", "metric"]
#: Per-cluster metrics of statistical maps reported in the long table (columns of ``Map.assign``).
CLUSTER_METRICS = ("correlation", "map containedness", "input containedness", "map weighted mean", "input weighted mean")
TOP = 3
HEMISPHERE_TOLERANCE_MM = 2.0


def atlas_name(m: Map) -> str:
    """Display name of an atlas: its parcellation's short name (the map name if it has none)."""
    return getattr(m.parcellation, "shortname", "") or m.parcellation.name or m.name


def outside(m: Map) -> str:
    """The cell text for a location no region of ``m`` covers."""
    return f"outside the {atlas_name(m)} coverage"


def resolve_atlases(atlases: str | Map | Iterable[str | Map] = "all", space: str = "mni152") -> list[Map]:
    """The maps to label with.

    Parameters
    ----------
    atlases : "all", str, Map or list of them
        ``"all"``: one map per parcellation available in ``space`` (offline pack and loaded
        configurations), the probabilistic one where a parcellation has both. Names are parcellation
        specs as for :func:`atlascope.get_map`.
    space : str
        Reference space of the input.

    Returns
    -------
    list of Map
    """
    if isinstance(atlases, Map):
        return [atlases]
    if isinstance(atlases, str):
        atlases = [atlases]
    atlases = list(atlases)
    if not atlases:
        raise InvalidInputError('atlases is empty: pass "all" or at least one atlas name.')
    out: list[Map] = []
    for a in atlases:
        if isinstance(a, Map):
            found = [a]
        elif isinstance(a, str) and a.strip().lower() == "all":
            found = _all_maps(space)
        elif isinstance(a, str):
            try:
                found = [REGISTRY.get_map(a, space, maptype="statistical")]
            except NotFoundError:
                found = [REGISTRY.get_map(a, space, maptype="labelled")]
        else:
            raise InvalidInputError(f"atlases: expected names or Map objects, got {type(a).__name__}.")
        out.extend(m for m in found if all(m is not o for o in out))
    return out


def _all_maps(space: str) -> list[Map]:
    spaces = REGISTRY.find_spaces(space) or [REGISTRY.get_space(space)]
    chosen: dict[str, Map] = {}
    for m in sorted((m for m in REGISTRY.maps if m.space in spaces), key=lambda m: spaces.index(m.space)):
        key = m.parcellation.id
        if key not in chosen or (m.maptype == "statistical" and chosen[key].maptype != "statistical"):
            chosen[key] = m
    if not chosen:
        raise NotFoundError(f"No atlas has a map in space {space!r}; load a configuration that provides one.")
    return list(chosen.values())


def hemisphere_conflict(region: str, x_mm: float) -> bool:
    """True when ``region`` names a hemisphere that the sign of ``x_mm`` contradicts by > 2 mm."""
    words = region.lower().replace("-", " ").replace("_", " ").split()
    if "left" in words or "lh" in words:
        return x_mm > HEMISPHERE_TOLERANCE_MM
    if "right" in words or "rh" in words:
        return x_mm < -HEMISPHERE_TOLERANCE_MM
    return False


def _flagged(region: str, x_mm: float) -> str:
    return f"{region} (hemisphere contradicts x = {x_mm:+.0f} mm)" if hemisphere_conflict(region, x_mm) else region


def _voxels_of(m: Map, xyz: np.ndarray) -> np.ndarray:
    """Flat voxel indices of mm coordinates (N, 3) in the map's grid, -1 outside it."""
    idx = m.load_index()
    ijk = nearest_voxel(np.asarray(xyz, float).reshape(-1, 3), idx.affine)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(idx.shape)), axis=1)
    flat = np.full(len(ijk), -1, np.int64)
    flat[inside] = np.ravel_multi_index(tuple(ijk[inside].T), idx.shape)
    return flat


def _at_points(m: Map, xyz: np.ndarray) -> list[tuple[str, float] | None]:
    """Per point: (best region, value) — label id for labelled maps, probability otherwise — or None."""
    pts, cols, vals = read_voxels(m.load_index(), _voxels_of(m, xyz), 0.0)
    best: list[tuple[str, float] | None] = [None] * len(xyz)
    order = np.lexsort((-vals, pts))
    for p, c, v in zip(pts[order], cols[order], vals[order], strict=True):
        if best[p] is None:
            name, entry = m.columns[c]
            best[p] = (name, float(entry.label) if m.is_labelled and entry.label is not None else float(v))
    return best


def _cell(m: Map, hit: tuple[str, float] | None, x_mm: float) -> str:
    if hit is None:
        return outside(m)
    label = _flagged(hit[0], x_mm)
    return label if m.is_labelled else f"{label} ({hit[1]:.2f})"


def _cluster_shares(m: Map, c: Cluster, affine: np.ndarray) -> list[list]:
    xyz = voxel_to_mm(c.mask_ijk, affine)
    pts, cols, _v = read_voxels(m.load_index(), _voxels_of(m, xyz), 0.0)
    names = np.array([m.columns[k][0] for k in cols], dtype=object)
    if not len(names):
        return [[c.id, "", atlas_name(m), outside(m), 100.0, "share (%)"]]
    import pandas as pd

    uniq, first = np.unique(pts, return_index=True)
    share = pd.Series(names[first]).value_counts() * 100.0 / len(xyz)
    rows = [[c.id, "", atlas_name(m), n, float(v), "share (%)"] for n, v in share.head(TOP).items()]
    uncovered = 100.0 * (len(xyz) - len(uniq)) / len(xyz)
    if uncovered >= share.iloc[0]:
        rows.append([c.id, "", atlas_name(m), outside(m), uncovered, "share (%)"])
    return rows


def _cluster_metrics(m: Map, c: Cluster, data: np.ndarray, affine: np.ndarray) -> list[list]:
    import pandas as pd

    arr = np.zeros(data.shape, np.float32)
    arr[tuple(c.mask_ijk.T)] = np.abs(data[tuple(c.mask_ijk.T)])
    df = m.assign(nib.Nifti1Image(arr, affine), split_components=False)
    if not len(df) or "correlation" not in df:
        return [[c.id, "", atlas_name(m), outside(m), np.nan, "correlation"]]
    df = df.sort_values("correlation", ascending=False, kind="stable").head(TOP)
    rows = []
    for _, r in df.iterrows():
        name = str(getattr(r["region"], "name", r["region"]))
        rows.extend(
            [c.id, "", atlas_name(m), name, float(r[k]), k] for k in CLUSTER_METRICS if k in df and pd.notna(r[k])
        )
    return rows


def label_clusters(
    clusters: Sequence[Cluster], data: np.ndarray, affine: np.ndarray, maps: Sequence[Map]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wide and long label tables of a cluster table.

    Parameters
    ----------
    clusters : list of Cluster
        From :func:`atlascope.analysis.cluster_table.find_clusters_table`.
    data : numpy.ndarray
        Shape (X, Y, Z): the (finite) statistical map the clusters come from.
    affine : numpy.ndarray
        Shape (4, 4), its voxel -> mm matrix (same space as the maps).
    maps : list of Map
        The atlases.

    Returns
    -------
    wide : pandas.DataFrame
        nilearn's columns, then one column per atlas (display name).
    long : pandas.DataFrame
        Columns :data:`LONG_COLUMNS`: per peak the label/probability at the peak, per cluster
        (``peak`` empty) the top 3 label shares (%) or the best regions' assignment metrics.
    """
    import pandas as pd

    wide = pd.DataFrame(table_rows(list(clusters)), columns=TABLE_COLUMNS)
    long_rows: list[list] = []
    xyz = np.concatenate([c.peaks_xyz for c in clusters]) if clusters else np.zeros((0, 3))
    peak_ids = [(c.id, name) for c in clusters for name in c.names]
    for m in maps:
        hits = _at_points(m, xyz)
        cells = [_cell(m, h, x[0]) for h, x in zip(hits, xyz, strict=True)]
        wide[atlas_name(m)] = cells
        metric = "label at peak" if m.is_labelled else "probability at peak"
        for (cid, name), h, cell in zip(peak_ids, hits, cells, strict=True):
            value = np.nan if h is None else h[1]
            long_rows.append([cid, name, atlas_name(m), cell if m.is_labelled else _cell_label(cell), value, metric])
        for c in clusters:
            rows = _cluster_shares(m, c, affine) if m.is_labelled else _cluster_metrics(m, c, data, affine)
            long_rows.extend(rows)
        m.load_index().release_pages()  # one atlas's index pages resident at a time
    long = pd.DataFrame(long_rows, columns=LONG_COLUMNS)
    return wide, long


def _cell_label(cell: str) -> str:
    """A statistical cell without its trailing probability."""
    return cell.rsplit(" (", 1)[0] if cell.endswith(")") and not cell.endswith("mm)") else cell


@dataclass
class ClusterTable:
    """Everything :func:`cluster_table` computed: both tables, the clusters and the label image."""

    wide: pd.DataFrame
    long: pd.DataFrame
    clusters: list[Cluster]
    label_map: nib.Nifti1Image
    atlases: list[Map]


def cluster_table(
    stat_img: nib.spatialimages.SpatialImage | str | os.PathLike | np.ndarray,
    stat_threshold: float,
    cluster_threshold: int = 0,
    two_sided: bool = False,
    min_distance: float = 8.0,
    atlases: str | Map | Iterable[str | Map] | None = "all",
    connectivity: int = 6,
    space: str = "mni152",
    affine: np.ndarray | None = None,
) -> ClusterTable:
    """:func:`get_clusters_table` with every by-product (see there); ``atlases=None`` labels nothing."""
    maps = [] if atlases is None else resolve_atlases(atlases, space)
    if isinstance(stat_img, np.ndarray):
        if affine is None:
            raise InvalidInputError("An array input needs its affine: pass affine=<4x4 voxel-to-mm matrix>.")
        arr = analysis_dtype(stat_img, "stat_img")
        stat_img = nib.Nifti1Image(arr, np.asarray(affine, float), dtype=arr.dtype)
    img = validated_image(stat_img, what="stat_img", allow_zero=True)
    data = np.asanyarray(img.dataobj)
    clusters, label_map = find_clusters_table(
        data,
        img.affine,
        stat_threshold,
        cluster_threshold,
        two_sided,
        min_distance,
        connectivity,
        voxel_volume=float(np.prod(img.header.get_zooms()[:3])),
    )
    if not clusters:
        logger.info("No cluster above %s (two-sided: %s).", stat_threshold, two_sided)
    wide, long = label_clusters(clusters, data, img.affine, maps)
    return ClusterTable(wide, long, clusters, nib.Nifti1Image(label_map, img.affine), maps)


def get_clusters_table(
    stat_img: nib.spatialimages.SpatialImage | str | os.PathLike,
    stat_threshold: float,
    cluster_threshold: int = 0,
    two_sided: bool = False,
    min_distance: float = 8.0,
    atlases: str | Map | Iterable[str | Map] | None = "all",
    connectivity: int = 6,
) -> pd.DataFrame:
    """nilearn's cluster table, labelled in every atlas.

    Parameters
    ----------
    stat_img : nibabel image or path
        3D statistical map in MNI152 space (t, z, -log p ...; NaN/±inf are background).
    stat_threshold : float
        Cluster-forming threshold (>= 0), in the map's units.
    cluster_threshold : int
        Minimum cluster size, voxels.
    two_sided : bool
        Also report negative clusters (values below ``-stat_threshold``).
    min_distance : float
        Minimum distance between sub-peaks, mm.
    atlases : "all", name, Map or list, or None
        The atlases to label with (None: nilearn's table only).
    connectivity : {6, 18, 26}
        Cluster neighbourhood (6 = nilearn's default).

    Returns
    -------
    pandas.DataFrame
        "Cluster ID", "X", "Y", "Z", "Peak Stat", "Cluster Size (mm3)" (nilearn's rows and values),
        then one column per atlas. The long form and the cluster label image: :func:`cluster_table`.
    """
    return cluster_table(
        stat_img, stat_threshold, cluster_threshold, two_sided, min_distance, atlases, connectivity
    ).wide


#: Columns of :func:`label_coordinates` (x, y, z in mm).
COORDINATE_COLUMNS = ("x", "y", "z", "atlas", "label", "value", "metric")


def coordinate_rows(coords: np.ndarray, maps: Sequence[Map]) -> list[list]:
    """The rows of :func:`label_coordinates` as plain lists, in ``COORDINATE_COLUMNS`` order.

    Needs no pandas, so that ``atlascope assign`` answers without importing it.

    Parameters
    ----------
    coords : numpy.ndarray
        Shape (N, 3), mm in the maps' space.
    maps : list of Map

    Returns
    -------
    list of list
        N × len(maps) rows: x, y, z (mm), atlas, label, value (label id or probability; NaN outside
        the atlas's coverage), metric.
    """
    xyz = np.asarray(coords, float).reshape(-1, 3)
    hits = {id(m): _at_points(m, xyz) for m in maps}
    rows = []
    for i, p in enumerate(xyz):
        for m in maps:
            h = hits[id(m)][i]
            label = outside(m) if h is None else _flagged(h[0], p[0])
            metric = "label" if m.is_labelled else "probability"
            rows.append([float(p[0]), float(p[1]), float(p[2]), atlas_name(m), label, np.nan if h is None else h[1], metric])
    return rows


def label_coordinates(coords: np.ndarray, maps: Sequence[Map]) -> pd.DataFrame:
    """One row per (coordinate, atlas): x, y, z (mm), atlas, label, value, metric.

    Parameters
    ----------
    coords : numpy.ndarray
        Shape (N, 3), mm in the maps' space.
    maps : list of Map

    Returns
    -------
    pandas.DataFrame
        ``value`` is the label id (labelled maps) or the probability (statistical maps), NaN outside.
    """
    import pandas as pd

    return pd.DataFrame(coordinate_rows(coords, maps), columns=COORDINATE_COLUMNS)

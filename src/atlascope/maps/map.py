"""Maps: a parcellation's regions in one space, labelled (one label per voxel) or statistical
(one probability map per region)."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import TYPE_CHECKING, Any

import nibabel as nib
import numpy as np

from ..affines import nearest_voxel, voxel_sizes, voxel_to_mm
from ..analysis.assignment import assign_structures, gaussian_kernel_structures, image_structures, read_voxels
from ..analysis.sparse import SparseIndex
from ..checks import as_finite_real
from ..commons import logger
from ..core.names import matches_words, words
from ..core.parcellation import Parcellation
from ..core.provenance import Provenance
from ..core.region import Region
from ..core.registry import normalize_maptype
from ..core.space import Space
from ..errors import AmbiguousNameError, InvalidInputError, NotFoundError
from ..locations.point import Point, PointCloud
from ..locations.spaces import check_compatible
from ..volumes.builders import from_nifti as volume_from_nifti
from ..volumes.resampling import crop_resample, resample_to_grid
from ..volumes.spatial import spatial_props
from ..volumes.validation import validated_image
from ..volumes.volume import Volume, volume_from_image
from .sparse_index import load_or_build

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Map", "MapIndex", "ASSIGNMENT_COLUMNS", "METRIC_COLUMNS"]


def _all_missing(column: Any) -> bool:
    """Whether every cell of a table column (array or list) is None or NaN (pandas' ``isna``)."""
    import pandas as pd

    arr = column if isinstance(column, np.ndarray) else np.asarray(column, dtype=object)
    return bool(pd.isna(arr).all())


def _tuples(coords: np.ndarray, rows: np.ndarray) -> list[tuple[float, ...]]:
    """Rows of an (N, 3) array as a list of (x, y, z) tuples."""
    return list(map(tuple, coords[rows].tolist()))


#: Column order of assignment tables (siibra's); all-empty columns are dropped.
ASSIGNMENT_COLUMNS = (
    "input structure",
    "centroid",
    "volume",
    "fragment",
    "region",
    "correlation",
    "intersection over union",
    "map value",
    "map weighted mean",
    "map containedness",
    "input weighted mean",
    "input containedness",
)

#: The metric columns of assignment tables (after ``region``).
METRIC_COLUMNS = ASSIGNMENT_COLUMNS[ASSIGNMENT_COLUMNS.index("correlation") :]

#: Points whose sigma is at least this many voxels are assigned as Gaussian kernels.
KERNEL_SIGMA_VOXELS = 3.0
#: Kernels assigned per pass (bounds memory for thousands of uncertain points).
KERNEL_CHUNK = 500


@dataclass(frozen=True)
class MapIndex:
    """Where a region lives in a map: volume number, label (labelled maps), z (4D files), fragment."""

    volume: int = 0
    label: int | None = None
    z: int | None = None
    fragment: str | None = None


class Map:
    """The regions of a parcellation in one space.

    Parameters
    ----------
    id : str
        Stable identifier.
    name : str
        Display name.
    space : Space
        Reference space of every volume.
    parcellation : Parcellation
        The region tree the names refer to.
    maptype : {"labelled", "statistical"}
        Labelled: integer labels; statistical: one probability (0..1) map per region.
    volumes : list of Volume
        The images (all on one voxel grid, or resampled to the first one's grid when indexed).
    indices : dict of str to list of MapIndex
        Region name -> where the region is (several entries = fragments).
    provenance : Provenance
        Origin of the data.
    """

    def __init__(
        self,
        id: str,
        name: str,
        space: Space,
        parcellation: Parcellation,
        maptype: str,
        volumes: list[Volume],
        indices: dict[str, list[MapIndex]],
        provenance: Provenance | None = None,
        description: str = "",
    ) -> None:
        self.id = id
        self.name = name
        self.space = space
        self.parcellation = parcellation
        self.maptype = normalize_maptype(maptype)
        self.volumes = list(volumes)
        self.indices = {str(k): list(v) for k, v in indices.items()}
        self.provenance = provenance or Provenance()
        self.description = description
        self._index = None
        self._grid: tuple | None = None
        self._regions: dict[str, Region] | None = None
        self._coltab: dict[str, np.ndarray] | None = None
        self.columns: list[tuple[str, MapIndex]] = [(n, e) for n, es in self.indices.items() for e in es]

    # ------------------------------------------------------------- metadata
    @property
    def key(self) -> str:
        """Short identifier (the last part of the id, without a ``siibra-map-v0.0.1_`` prefix)."""
        return self.id.split("/")[-1].removeprefix("siibra-map-v0.0.1_")

    @property
    def regions(self) -> list[str]:
        """Names of the regions mapped here (in map order)."""
        return list(self.indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __contains__(self, region: str | Region) -> bool:
        name = region.name if isinstance(region, Region) else str(region)
        return name in self.indices

    def matches(self, spec: str) -> bool:
        """Whether ``spec`` designates this map: its words match words of the name, id or description,
        or each appears in them (so ``"175"`` finds ``...jba30_175regions-continuous``)."""
        if matches_words(spec, [self.name, self.id, self.description]):
            return True
        haystack = " ".join([self.name, self.id, self.description]).lower()
        return all(w in haystack for w in words(spec))

    @property
    def is_labelled(self) -> bool:
        """Whether the map is labelled."""
        return self.maptype == "labelled"

    def __repr__(self) -> str:
        return f"<Map {self.name!r} ({self.maptype}, {len(self)} regions, {self.space.shortname})>"

    # ------------------------------------------------------------- regions
    def _region_objects(self) -> dict[str, Region]:
        if self._regions is None:
            by_name = {r.name: r for r in self.parcellation.regions}
            out = {}
            for name in self.indices:
                r = by_name.get(name)
                if r is None:
                    try:
                        r = self.parcellation.get_region(name)
                    except (NotFoundError, AmbiguousNameError) as exc:
                        logger.warning(
                            "Map %r names region %r, which its parcellation does not resolve (%s); "
                            "it is reported under that name.",
                            self.name,
                            name,
                            exc,
                        )
                        r = Region(name)
                        r.parent = self.parcellation.root
                out[name] = r
            self._regions = out
        return self._regions

    def get_region(self, spec: str | Region) -> Region:
        """The Region object for ``spec`` in this map's parcellation."""
        return self.parcellation.get_region(spec)

    def _columns_for(self, region: str | Region) -> list[int]:
        """Columns holding ``region``: its own entries, else those of its mapped descendants."""
        reg = self.get_region(region) if not isinstance(region, Region) else region
        names = {r.name for r in reg}
        cols = [c for c, (n, _e) in enumerate(self.columns) if n == reg.name]
        if not cols:
            cols = [c for c, (n, _e) in enumerate(self.columns) if n in names]
        if not cols:
            raise NotFoundError(
                f"Region {reg.name!r} has no map in {self.name!r}. Mapped regions include: "
                + ", ".join(repr(n) for n in list(self.indices)[:8])
                + " ..."
            )
        return cols

    # ---------------------------------------------------------------- grid
    @property
    def grid(self) -> tuple[tuple[int, int, int], np.ndarray]:
        """(shape, affine) of the voxel grid (the first volume's)."""
        if self._grid is None:
            if self._index is not None:
                self._grid = (self._index.shape, self._index.affine)
            else:
                self._grid = self.volumes[0].provider.grid(self.columns[0][1].z if self.columns else None)
        return self._grid

    def load_index(self) -> SparseIndex:
        """Load (or build once, then cache on disk) the map's SparseIndex and return it.

        The explicit way to warm a map before timing or batch work; ``sparse_index`` calls it.
        """
        return self.sparse_index

    @property
    def sparse_index(self) -> SparseIndex:
        """The SparseIndex (built once per map, then loaded from the disk cache)."""
        if self._index is None:
            self._index = load_or_build(self)
            self._grid = (self._index.shape, self._index.affine)
        return self._index

    # ---------------------------------------------------------------- fetch
    def fetch(
        self,
        region: str | Region | None = None,
        index: int | MapIndex | None = None,
        fragment: str | None = None,
        **kwargs: Any,
    ) -> nib.Nifti1Image:
        """An image of the map, of one of its volumes, or of one region.

        Parameters
        ----------
        region : str or Region, optional
            Statistical maps: the region's probability map; a parent without a map of its own
            gives the voxel-wise maximum of its children. Labelled maps: a 0/1 mask of the region
            (the union of its children for a parent).
        index : int or MapIndex, optional
            A MapIndex (from :meth:`get_index`) stands for its region. An int, without ``region``:
            volume number ``index`` — for a labelled map its whole labelled
            volume (default 0), for a statistical map the one probability map of that number (the
            ``volume`` column of assignment tables; see :meth:`get_index`).
        fragment : str, optional
            Only the entries of that fragment (e.g. ``"left"``), for maps that store hemispheres
            as separate fragments; with a labelled map and no region, the voxels of that fragment.
        **kwargs
            Passed to ``Volume.fetch`` (``voi=``, ``resolution_mm=``) for whole labelled volumes.

        Returns
        -------
        nibabel.Nifti1Image

        Raises
        ------
        InvalidInputError
            A statistical map without region or index, an index out of range, an unknown fragment.
        """
        if isinstance(index, MapIndex):  # one entry (get_index): its map, or its 0/1 mask when labelled
            if not 0 <= index.volume < len(self.columns):
                raise InvalidInputError(f"{index} is not an entry of {self.name!r}; use get_index(region).")
            region = self.columns[index.volume][0] if region is None else region
            index = None
        if index is not None and (isinstance(index, bool) or not isinstance(index, Integral)):
            raise InvalidInputError(f"index must be a whole volume number, got {index!r}.")
        if region is None and index is None and fragment is None:
            if self.maptype == "statistical":
                raise InvalidInputError(
                    f"{self.name!r} is statistical: pass region=... or index=... (one probability map "
                    "per region)."
                )
            return self.volumes[0].fetch(**kwargs)
        if region is None and fragment is None and self.is_labelled:
            if not 0 <= index < len(self.volumes):
                raise InvalidInputError(
                    f"{self.name!r} has {len(self.volumes)} labelled volume(s); index {index} is out of range."
                )
            return self.volumes[index].fetch(**kwargs)
        if kwargs:
            raise InvalidInputError(
                f"fetch(region=/index=/fragment=) of a map does not take {sorted(kwargs)}; fetch the image "
                "and crop it, or use get_volume(...).fetch(voi=...)."
            )
        if region is not None:
            cols = self._columns_for(region)
        elif index is not None:
            if not 0 <= index < len(self.columns):
                raise InvalidInputError(
                    f"{self.name!r} has {len(self.columns)} maps (indices 0..{len(self.columns) - 1}); "
                    f"index {index} is out of range."
                )
            cols = [int(index)]
        else:
            cols = list(range(len(self.columns)))
        if fragment is not None:
            want = str(fragment).lower()
            cols = [c for c in cols if (self.columns[c][1].fragment or "").lower() == want]
            if not cols:
                known = sorted({e.fragment for _n, e in self.columns if e.fragment}) or ["none"]
                raise InvalidInputError(
                    f"No entry of fragment {fragment!r} in {self.name!r}; its fragments: {', '.join(known)}."
                )
        shape, affine = self.grid
        idx = self.sparse_index
        if region is None and index is None and self.is_labelled:
            arr = np.zeros(shape, np.int32)
            for c in cols:
                arr[idx.column_array(c) > 0] = int(self.columns[c][1].label or 0)
        else:
            arr = idx.column_array(cols[0]) if len(cols) == 1 else idx.columns_max_array(cols)
            if self.maptype == "labelled":
                arr = (arr > 0).astype(np.uint8)
        img = nib.Nifti1Image(arr, affine)
        img.header.set_xyzt_units("mm")
        return img

    # ---------------------------------------------------- siibra's helpers
    @property
    def affine(self) -> np.ndarray:
        """Voxel-to-mm matrix of the map's grid, shape (4, 4)."""
        return np.asarray(self.grid[1], float)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Voxel grid shape (X, Y, Z)."""
        return tuple(int(v) for v in self.grid[0])

    @property
    def labels(self) -> list[int]:
        """The labels of a labelled map (sorted); for a statistical map the volume numbers."""
        if self.is_labelled:
            return sorted({int(e.label) for _n, e in self.columns if e.label is not None})
        return list(range(len(self.columns)))

    def find_indices(self, region: str | Region) -> dict[MapIndex, str]:
        """Where ``region`` (or, for a parent without its own entry, its mapped descendants) is:
        ``{MapIndex(volume=column, label, fragment): region name}``."""
        out = {}
        for c in self._columns_for(region):
            name, e = self.columns[c]
            out[MapIndex(volume=c, label=e.label, z=e.z, fragment=e.fragment)] = name
        return out

    def get_index(self, region: str | Region) -> MapIndex:
        """The one MapIndex of ``region`` (``volume`` is what ``fetch(index=...)`` takes).

        Raises
        ------
        AmbiguousNameError
            The region has several entries (fragments, or a parent of several mapped regions);
            use :meth:`find_indices`.
        """
        found = self.find_indices(region)
        if len(found) != 1:
            raise AmbiguousNameError(
                f"{region!s} has {len(found)} entries in {self.name!r} ("
                + ", ".join(sorted(set(found.values()))[:6])
                + "); use find_indices(...) or name a single mapped region."
            )
        return next(iter(found))

    def fetch_iter(self, **kwargs: Any):
        """Yield ``fetch(index=i)`` for every volume number (each region of a statistical map, each
        labelled volume of a labelled map)."""
        n = len(self.volumes) if self.is_labelled else len(self.columns)
        for i in range(n):
            yield self.fetch(index=i, **kwargs)

    def get_volume(self, region: str | Region | None = None, index: int | None = None, fragment: str | None = None) -> Volume:
        """The image of :meth:`fetch` (same arguments) as a Volume in the map's space."""
        img = self.fetch(region=region, index=index, fragment=fragment)
        label = region if region is not None else (f"#{index}" if index is not None else fragment or "")
        return volume_from_image(img, self.space, f"{self.name} {label}".strip())

    def compute_centroids(self, split_components: bool = True) -> dict[str, PointCloud]:
        """Per region, centroids (mm) lying in the region's voxels: one per connected component
        (18-connectivity), or one for the whole region without ``split_components``."""
        idx = self.sparse_index
        shape, affine = self.grid
        out: dict[str, list] = {}
        for c, (name, _e) in enumerate(self.columns):
            mask = idx.column_array(c) > 0
            if not mask.any():
                continue
            out.setdefault(name, []).extend(p.centroid for p in spatial_props(mask, affine, split_components))
        return {n: PointCloud(cs, self.space) for n, cs in out.items()}

    def colorize(self, values: dict, background: float = 0.0) -> Volume:
        """Paint a value per region into an image of the map's grid (show a table on the brain).

        Parameters
        ----------
        values : dict of (str or Region) to float
            Region spec -> value; a parent paints all its mapped descendants.
        background : float
            Value of the voxels of no given region.

        Returns
        -------
        Volume
            float32 image; statistical maps paint each voxel with the value of the given region of
            highest probability there (voxels where all given regions are 0 keep ``background``).

        Raises
        ------
        InvalidInputError
            A value is not a finite number. (Unknown regions raise NotFoundError.)
        """
        shape, affine = self.grid
        idx = self.sparse_index
        out = np.full(shape, float(background), np.float32)
        best = np.zeros(shape, np.float32)
        for spec, value in dict(values).items():
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise InvalidInputError(f"colorize values must be numbers; {spec!s} has {value!r}.") from None
            if not np.isfinite(v):
                raise InvalidInputError(f"colorize values must be finite; {spec!s} has {value!r}.")
            for c in self._columns_for(spec):
                arr = idx.column_array(c)
                take = arr > best if not self.is_labelled else arr > 0
                out[take] = v
                if not self.is_labelled:
                    best[take] = arr[take]
        img = nib.Nifti1Image(out, affine)
        img.header.set_xyzt_units("mm")
        return volume_from_image(img, self.space, f"{self.name} colorized")

    def get_colormap(self, region_specs: list | None = None):
        """A matplotlib ``ListedColormap`` whose entry ``label`` is that region's colour (labelled maps;
        statistical maps: entry ``volume number``); black where a region has no colour or is not in
        ``region_specs``."""
        from matplotlib.colors import ListedColormap

        keep = None
        if region_specs is not None:
            keep = {c for spec in region_specs for c in self._columns_for(spec)}
        regions = self._column_table()["region"]
        n = (max(self.labels) + 1) if self.is_labelled and self.labels else len(self.columns)
        colors = np.zeros((max(n, 1), 4))
        colors[:, 3] = 1.0
        for c, (_name, e) in enumerate(self.columns):
            if keep is not None and c not in keep:
                continue
            rgb = getattr(regions[c], "rgb", None)
            if rgb is None:
                continue
            pos = int(e.label) if self.is_labelled and e.label is not None else c
            colors[pos, :3] = np.asarray(rgb[:3], float) / 255.0
        return ListedColormap(colors, name=self.key)

    def sample_locations(self, regionspec: str | Region, numpoints: int, rng: Any = None) -> PointCloud:
        """``numpoints`` random points (mm) in a region, drawn with probability proportional to its
        map (uniform over a labelled region's voxels); ``rng`` as for ``draw_samples``."""
        return self.get_volume(region=regionspec).draw_samples(numpoints, e=1.0, rng=rng)

    def get_resampled_template(self) -> Volume:
        """The space's template resampled to the map's voxel grid (linear interpolation)."""
        tpl = self.space.get_template().fetch()
        shape, affine = self.grid
        arr = resample_to_grid(np.asanyarray(tpl.dataobj), tpl.affine, shape, affine, labels=False)
        img = nib.Nifti1Image(arr.astype(np.float32), affine)
        img.header.set_xyzt_units("mm")
        return volume_from_image(img, self.space, f"{self.space.shortname} template on {self.key} grid")

    # --------------------------------------------------------------- assign
    def assign(
        self,
        item: Any,
        minsize_voxel: int = 1,
        lower_threshold: float = 0.0,
        split_components: bool = True,
        strict: bool = False,
    ) -> pd.DataFrame:
        """Assign points, point clouds or volumes to this map's regions (siibra's metrics).

        Parameters
        ----------
        item : Point, PointCloud, Volume or nibabel image
            What to assign. Images are taken to be in this map's space.
        minsize_voxel : int
            Connected components of the input with this many voxels or fewer are dropped.
        lower_threshold : float
            Map values below it count as 0 (it filters map values, not the IoU).
        split_components : bool
            Assign each connected component (18-connectivity) of the input separately.
        strict : bool
            Refuse the identity between different MNI152 variants.

        Returns
        -------
        pandas.DataFrame
            One row per (input structure, region) overlap; columns as :data:`ASSIGNMENT_COLUMNS`,
            all-empty ones dropped. Sorted by input structure, then by correlation or map value.
        """
        lower_threshold = as_finite_real(lower_threshold, "lower_threshold", minimum=0.0)
        if isinstance(minsize_voxel, bool) or not isinstance(minsize_voxel, Integral) or minsize_voxel < 0:
            raise InvalidInputError(
                f"minsize_voxel must be a whole number of voxels >= 0, got {minsize_voxel!r}."
            )
        if isinstance(item, Point):
            item = item.as_pointcloud()
        if isinstance(item, PointCloud):
            check_compatible(item.space, self.space, strict=strict)
            return self._assign_points(item, lower_threshold)
        if isinstance(item, nib.spatialimages.SpatialImage):
            item = volume_from_nifti(item, self.space, "input image")
        if isinstance(item, Volume):
            check_compatible(item.space, self.space, strict=strict)
            img = item.fetch() if item.validated else validated_image(item.fetch(), what=item.name or "input volume")
            return self._assign_image(img, minsize_voxel, lower_threshold, split_components)
        raise InvalidInputError(
            f"Cannot assign a {type(item).__name__}: pass a Point, PointCloud, Volume or nibabel image."
        )

    def _column_table(self) -> dict[str, np.ndarray]:
        """Per-column arrays (region object, fragment, label), built once per map."""
        if getattr(self, "_coltab", None) is None:
            regions = self._region_objects()
            n = len(self.columns)
            reg = np.empty(n, dtype=object)
            frag = np.empty(n, dtype=object)
            reg[:] = [regions[name] for name, _e in self.columns]
            frag[:] = [e.fragment for _n, e in self.columns]
            label = np.array([np.nan if e.label is None else e.label for _n, e in self.columns], float)
            self._coltab = {"region": reg, "fragment": frag, "label": label}
        return self._coltab

    def _column_meta(self, cols: np.ndarray) -> dict[str, np.ndarray]:
        """Volume number, fragment, Region and label of each column in ``cols`` (vectorised gather)."""
        tab = self._column_table()
        cols = np.asarray(cols, np.int64)
        return {
            "volume": cols,
            "fragment": tab["fragment"][cols],
            "region": tab["region"][cols],
            "label": tab["label"][cols],
        }

    def _frame(self, data: dict[str, Any] | pd.DataFrame) -> pd.DataFrame:
        """Columns in :data:`ASSIGNMENT_COLUMNS` order, all-empty ones dropped, index reset.

        A dict of equal-length columns is checked column by column before one DataFrame is built.
        """
        import pandas as pd

        if not isinstance(data, pd.DataFrame):
            cols = {k: data[k] for k in ASSIGNMENT_COLUMNS if k in data}
            if cols and len(next(iter(cols.values()))):
                return pd.DataFrame({k: v for k, v in cols.items() if not _all_missing(v)})
            data = pd.DataFrame(data)
        df = data[[k for k in ASSIGNMENT_COLUMNS if k in data.columns]]
        empty = (
            [c for c in df.columns if df[c].isna().all()]
            if len(df)
            else [
                c
                for c in df.columns
                if c not in ("input structure", "centroid", "volume", "region", "map value")
            ]
        )
        return df.drop(columns=empty).reset_index(drop=True)

    def _pairs_columns(self, pm: Any, structure: np.ndarray, centroids: list) -> dict[str, Any]:
        """The columns of the assignment table of (structure, column) pair metrics (labelled maps:
        map value = label)."""
        meta = self._column_meta(pm.column)
        return {
            "input structure": structure,
            "centroid": centroids,
            "volume": meta["volume"],
            "fragment": meta["fragment"],
            "region": meta["region"],
            "correlation": pm.correlation,
            "intersection over union": pm.iou,
            "map value": meta["label"] if self.is_labelled else pm.map_value,
            "map weighted mean": pm.map_weighted_mean,
            "map containedness": pm.map_containedness,
            "input weighted mean": pm.input_weighted_mean,
            "input containedness": pm.input_containedness,
        }

    def _pairs_frame(self, pm: Any, structure: np.ndarray, centroids: list) -> pd.DataFrame:
        """The assignment table of (structure, column) pair metrics (labelled maps: map value = label)."""
        import pandas as pd

        return pd.DataFrame(self._pairs_columns(pm, structure, centroids))

    def _assign_points(self, points: PointCloud, lower_threshold: float) -> pd.DataFrame:
        import pandas as pd

        idx = self.sparse_index
        shape, affine = idx.shape, idx.affine
        ijk = nearest_voxel(points.coordinates, affine)
        inside = np.all((ijk >= 0) & (ijk < np.asarray(shape)), axis=1)
        voxsize = float(np.mean(voxel_sizes(affine)))
        sigma_vox = points.sigma_mm / voxsize
        kernel = sigma_vox >= KERNEL_SIGMA_VOXELS
        if (~inside).any():
            logger.info(
                "%d of %d points lie outside the map's grid and get no assignment.",
                int((~inside).sum()),
                len(points),
            )
        parts = []
        small = np.flatnonzero(~kernel)
        if len(small):
            flat = np.full(len(small), -1, np.int64)
            ok = inside[small]
            flat[ok] = np.ravel_multi_index(tuple(ijk[small][ok].T), shape)
            p, c, v = read_voxels(idx, flat, lower_threshold)
            pts = small[p]
            meta = self._column_meta(c)
            mv = meta["label"] if self.is_labelled else v
            parts.append(
                pd.DataFrame(
                    {
                        "input structure": pts,
                        "centroid": _tuples(points.coordinates, pts),
                        "volume": meta["volume"],
                        "fragment": meta["fragment"],
                        "region": meta["region"],
                        "map value": mv,
                    }
                )
            )
        big_all = np.flatnonzero(kernel & inside)
        for start in range(0, len(big_all), KERNEL_CHUNK):
            big = big_all[start : start + KERNEL_CHUNK]
            structs = gaussian_kernel_structures(ijk[big], sigma_vox[big], shape)
            pm = assign_structures(idx, structs, shape, lower_threshold)
            pts = big[pm.structure]
            parts.append(self._pairs_frame(pm, pts, _tuples(points.coordinates, pts)))
        parts = [p for p in parts if len(p)]
        if not parts:
            return self._frame({k: [] for k in ASSIGNMENT_COLUMNS})
        df = pd.concat(parts, ignore_index=True)
        sort_by = (
            "map weighted mean"
            if "map weighted mean" in df.columns and df["map weighted mean"].notna().all()
            else "map value"
        )
        df = df.sort_values(["input structure", sort_by], ascending=[True, False], kind="stable")
        return self._frame(df)

    def _assign_image(
        self, img: nib.Nifti1Image, minsize_voxel: int, lower_threshold: float, split_components: bool
    ) -> pd.DataFrame:
        idx = self.sparse_index
        shape, affine = idx.shape, idx.affine
        data = np.asanyarray(img.dataobj)
        sub, offset = crop_resample(data, img.affine, shape, affine, positive=True)
        if sub.size == 0 or not np.any(sub > 0):
            logger.info("The input has no positive voxels inside the map's grid; nothing to assign.")
            return self._frame({k: [] for k in ASSIGNMENT_COLUMNS})
        # minsize_voxel applies to split components only
        made = image_structures(sub, offset, shape, split_components, minsize_voxel)
        if made is None:
            logger.info(
                "Every component of the input has %d voxels or fewer (minsize_voxel); nothing to assign.",
                minsize_voxel,
            )
            return self._frame({k: [] for k in ASSIGNMENT_COLUMNS})
        structs, centroid_vox = made
        pm = assign_structures(idx, structs, shape, lower_threshold)
        centroid_mm = voxel_to_mm(centroid_vox, affine)
        # by structure, then by correlation (highest first, NaN last); ties keep the pair order
        neg = np.where(np.isnan(pm.correlation), np.inf, -pm.correlation)
        order = np.lexsort((neg, pm.structure))
        cols = self._pairs_columns(pm, pm.structure + 1, _tuples(np.round(centroid_mm, 2), pm.structure))
        return self._frame(
            {k: [v[i] for i in order] if isinstance(v, list) else np.asarray(v)[order] for k, v in cols.items()}
        )

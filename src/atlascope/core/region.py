"""Region trees: a parcellation's areas, their groups and their hemisphere children."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from ..errors import AmbiguousNameError, NotFoundError
from ..locations.point import Point, PointCloud
from .names import closest, key_of, matches_words, name_key, normalize_hemisphere, words

__all__ = ["Region", "RegionOwner", "MapLookup"]


class MapLookup(Protocol):
    """What a region asks of the registry holding its parcellation (``core.registry.Registry``)."""

    def region_maps(self, region: Region, space: Any = None, maptype: str | None = None) -> list[Any]:
        """Maps of the region's parcellation that hold ``region`` or a descendant."""
        ...

    def get_map(self, parcellation: Any, space: Any = None, maptype: str = "labelled", spec: str = "") -> Any:
        """The map of ``parcellation`` in ``space``."""
        ...


class RegionOwner(Protocol):
    """The parcellation at the root of a region tree (``core.parcellation.Parcellation``), as its
    regions see it: names for messages, and the registry it was added to (None: none yet)."""

    id: str
    name: str
    shortname: str
    registry: MapLookup | None


class Region:
    """A node of a parcellation's region tree.

    Parameters
    ----------
    name : str
        Display name. Suffixes like ``" - left hemisphere"`` are stored as ``" left"``.
    children : list of Region, optional
        Sub-regions; their ``parent`` is set to this region.
    aliases : list of str, optional
        Other names that find this region (e.g. the modern Julich-Brain name of an FSL area).
    rgb : tuple of int, optional
        Display colour (0..255).
    attrs : dict, optional
        Further metadata (ontology ids, descriptions...).
    """

    def __init__(
        self,
        name: str,
        children: list[Region] | None = None,
        aliases: list[str] | None = None,
        rgb: tuple[int, int, int] | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        self.name = normalize_hemisphere(name)
        self.parent: Region | None = None
        self.children: list[Region] = []
        self.aliases = [normalize_hemisphere(a) for a in (aliases or [])]
        self.rgb = rgb
        self.attrs = dict(attrs or {})
        self._parcellation: RegionOwner | None = None
        for c in children or []:
            self.add_child(c)

    # ------------------------------------------------------------------ tree
    def add_child(self, child: Region) -> Region:
        """Append ``child`` below this region and return it."""
        child.parent = self
        self.children.append(child)
        return child

    @property
    def parcellation(self) -> RegionOwner | None:
        """The parcellation this region belongs to (inherited from the root)."""
        node: Region | None = self
        while node is not None:
            if node._parcellation is not None:
                return node._parcellation
            node = node.parent
        return None

    @property
    def key(self) -> str:
        """Identifier-like key of the name (``"AREA_HOC1_V1_17_CALCS_LEFT"``)."""
        return key_of(self.name)

    @property
    def is_leaf(self) -> bool:
        """Whether the region has no children."""
        return not self.children

    @property
    def root(self) -> Region:
        """The top of the tree."""
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    @property
    def hemisphere(self) -> str | None:
        """``"left"``, ``"right"`` or ``None``, from the last word of the name."""
        w = words(self.name)
        if w and w[-1] in ("left", "right"):
            return w[-1]
        return None

    def __iter__(self) -> Iterator[Region]:
        """Depth-first iteration over this region and all its descendants."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    @property
    def descendants(self) -> list[Region]:
        """All regions below this one (not including itself)."""
        return list(self)[1:]

    @property
    def leaves(self) -> list[Region]:
        """The leaves of the subtree (the region itself if it is a leaf)."""
        return [r for r in self if r.is_leaf]

    @property
    def ancestors(self) -> list[Region]:
        """Parents up to the root, nearest first."""
        out, node = [], self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out

    def has_ancestor(self, other: Region) -> bool:
        """Whether ``other`` is a (strict) ancestor of this region."""
        return any(a is other for a in self.ancestors)

    @property
    def names(self) -> list[str]:
        """The name and the aliases."""
        return [self.name, *self.aliases]

    def matches(self, spec: str | Region) -> bool:
        """Whether ``spec`` (a string or a Region) designates this region.

        A string designates it when it is the region's key or ``id`` attribute, or matches the name
        or an alias by the word rule of :func:`~atlascope.core.names.matches_words` (hemisphere
        suffixes normalised first).
        """
        if isinstance(spec, Region):
            return spec is self or (spec.name == self.name and spec.parcellation is self.parcellation)
        spec = str(spec)
        if spec == self.key or spec == self.attrs.get("id"):
            return True
        return matches_words(normalize_hemisphere(spec), self.names)

    # ---------------------------------------------------------------- lookup
    def find(self, spec: str | Region) -> list[Region]:
        """All regions of the subtree matching ``spec``, in tree order."""
        return [r for r in self if r.matches(spec)]

    def get_region(self, spec: str | Region) -> Region:
        """The one region of the subtree designated by ``spec``.

        When several regions match and one of them contains all the others (e.g. "hOc1" matches an
        area and its two hemisphere children), that one is returned; an exact name match wins over
        word matches.

        Raises
        ------
        NotFoundError
            Nothing matches; the message suggests the closest names.
        AmbiguousNameError
            Several unrelated regions match; the message lists them.
        """
        if isinstance(spec, Region):
            for r in self:
                if r is spec:
                    return r
            spec = spec.name
        found = self.find(spec)
        if not found:
            hints = closest(str(spec), [n for r in self for n in r.names])
            where = self.parcellation.name if self.parcellation else self.name
            raise NotFoundError(
                f"No region matches {spec!r} in {where}. "
                + (f"Did you mean one of: {', '.join(repr(h) for h in hints)}? " if hints else "")
                + "Region names are matched word by word, case-insensitively; use /regex/ for patterns."
            )
        return _pick(spec, found)

    # --------------------------------------------------------------- display
    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        p = self.parcellation
        return f"<Region {self.name!r}" + (f" of {p.shortname!r}>" if p else ">")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Region):
            return self is other or (self.name == other.name and self.parcellation is other.parcellation)
        if isinstance(other, str):
            return self.name == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def includes(self, region: Region) -> bool:
        """Whether ``region`` is this region or lies below it."""
        return region is self or (isinstance(region, Region) and region.has_ancestor(self))

    def __contains__(self, other: Any) -> bool:
        """``other in region``: a Region (or name) in the subtree, or a location inside the region's mask.

        Locations (Point, PointCloud) are tested against the region's labelled (else statistical,
        > 0) mask in their own space; a PointCloud is in the region when all its points are.
        """
        if isinstance(other, Region):
            return self.includes(other)
        if isinstance(other, str):
            return bool(self.find(other))
        coords = getattr(other, "coordinates", None)
        if coords is None:
            return False
        mask = self.get_regional_mask(other.space, maptype=self._default_maptype(other.space))
        points = other if isinstance(other, Point | PointCloud) else PointCloud(coords, other.space)
        return bool(np.all(mask.evaluate_points(points) != 0))

    # -------------------------------------------------------------- in space
    def _maps_in(self, space: Any, maptype: str | None = None) -> list[Any]:
        """Maps in ``space`` (of ``maptype``) that hold this region or a descendant, found in the
        registry its parcellation was added to (none for a detached tree)."""
        parc = self.parcellation
        if parc is None or parc.registry is None:
            return []
        return parc.registry.region_maps(self, space, maptype)

    def _default_maptype(self, space: Any) -> str:
        return "labelled" if self._maps_in(space, "labelled") else "statistical"

    def mapped_in_space(self, space: Any, recurse: bool = True) -> bool:
        """Whether a map of ``space`` holds this region (``recurse``: or, for a parent, its children)."""
        if recurse:
            return bool(self._maps_in(space))
        return any(self.name in m.indices for m in self._maps_in(space))

    @property
    def supported_spaces(self) -> list[Any]:
        """The spaces in which this region (or its children) is mapped."""
        out: list[Any] = []
        for m in self._maps_in(None):
            if m.space not in out:
                out.append(m.space)
        return out

    def _map(self, space: Any, maptype: str) -> Any:
        found = self._maps_in(space, maptype)
        if not found:
            have = ", ".join(f"{m.maptype} in {m.space.shortname}" for m in self._maps_in(None)) or "none"
            raise NotFoundError(
                f"Region {self.name!r} has no {maptype} map in space {space!s}. Its maps: {have}. "
                "Pass one of those spaces or map types."
            )
        return found[0]

    def get_regional_map(self, space: Any = "mni152", maptype: str = "labelled") -> Any:
        """The region's map in ``space`` as a Volume.

        Parameters
        ----------
        space : str or Space
            Reference space.
        maptype : {"labelled", "statistical"}
            Labelled: a 0/1 mask; statistical: the probability map (0..1; a parent without a map of its
            own gives the voxel-wise maximum of its children's).

        Raises
        ------
        NotFoundError
            No map of that type holds the region in that space.
        """
        from ..volumes.volume import volume_from_image  # loads nibabel: not at `import atlascope` (start-up)

        m = self._map(space, maptype)
        return volume_from_image(m.fetch(region=self), m.space, f"{self.name} ({m.maptype})")

    def get_regional_mask(self, space: Any = "mni152", maptype: str = "labelled", threshold: float = 0.0) -> Any:
        """A 0/1 Volume of the voxels where the regional map is above ``threshold`` (statistical maps)."""
        import nibabel as nib

        from ..volumes.volume import volume_from_image  # loads nibabel: not at `import atlascope` (start-up)

        vol = self.get_regional_map(space, maptype)
        img = vol.fetch()
        mask = (np.asanyarray(img.dataobj) > threshold).astype(np.uint8)
        out = nib.Nifti1Image(mask, img.affine)
        out.header.set_xyzt_units("mm")
        return volume_from_image(out, vol.space, f"{self.name} mask")

    def spatial_props(self, space: Any = "mni152", maptype: str = "labelled", threshold: float = 0.0) -> list:
        """Connected components of the regional mask, largest first: centroid (a Point inside the
        component), volume in mm³ and voxel count (``Volume.compute_spatial_props``)."""
        return self.get_regional_mask(space, maptype, threshold).compute_spatial_props()

    def compute_centroids(self, space: Any = "mni152", maptype: str = "labelled", threshold: float = 0.0) -> Any:
        """One centroid per connected component of the regional mask, as a PointCloud in mm.

        Each centroid lies inside its component: the centre of mass, or, where that falls outside
        (a curved area), the component's voxel nearest to it.
        """
        props = self.spatial_props(space, maptype, threshold)
        m = self._map(space, maptype)
        return PointCloud([p.centroid.coordinate for p in props], m.space)

    def get_boundingbox(self, space: Any = "mni152", maptype: str = "labelled", threshold: float = 0.0) -> Any:
        """The mm box of the regional mask in ``space``."""
        return self.get_regional_mask(space, maptype, threshold).get_boundingbox()

    def tree2str(self) -> str:
        """The subtree drawn with box characters, one region per line."""
        lines = [self.name]

        def walk(node: Region, prefix: str) -> None:
            for i, c in enumerate(node.children):
                last = i == len(node.children) - 1
                lines.append(prefix + ("└── " if last else "├── ") + c.name)
                walk(c, prefix + ("    " if last else "│   "))

        walk(self, "")
        return "\n".join(lines)

    def render_tree(self) -> None:
        """Write :meth:`tree2str` to standard output (siibra's console helper)."""
        sys.stdout.write(self.tree2str() + "\n")

    def tree(self, max_depth: int | None = None) -> str:
        """An indented text rendering of the subtree."""
        lines: list[str] = []

        def walk(node: Region, depth: int) -> None:
            lines.append("  " * depth + node.name)
            if max_depth is None or depth < max_depth:
                for c in node.children:
                    walk(c, depth + 1)

        walk(self, 0)
        return "\n".join(lines)

    # -------------------------------------------------------------- relations
    def assign(self, other: Any, **assign_kwargs: Any) -> Any:
        """Qualification of this region relative to ``other`` (a Region or a location).

        A Region gives ``"exact"`` (same area, also across versions of one parcellation when the
        names agree), ``"contains"`` (``other`` lies below this region), ``"contained"`` (this
        region lies below ``other``) or ``None`` when the two are unrelated.

        A Point, PointCloud, Volume or nibabel image is assigned (``Map.assign``, keywords passed
        on) to this parcellation's statistical map in the location's space (else the labelled one),
        and the table is cut to the rows of this region and its descendants (``pandas.DataFrame``,
        empty when the location does not reach the region).
        """
        if not isinstance(other, Region):
            return self._assign_location(other, assign_kwargs)
        if self is other or self.matches(other):
            return "exact"
        if other.has_ancestor(self):
            return "contains"
        if self.has_ancestor(other):
            return "contained"
        if name_key(self.name) == name_key(other.name):
            return "exact"
        mine = {name_key(n) for n in self.names}
        theirs = {name_key(n) for n in other.names}
        for d in self.descendants:
            if {name_key(n) for n in d.names} & theirs:
                return "contains"
        for d in other.descendants:
            if {name_key(n) for n in d.names} & mine:
                return "contained"
        return None

    def _assign_location(self, location: Any, assign_kwargs: dict[str, Any]) -> Any:
        space = getattr(location, "space", None)
        if space is None:
            raise NotFoundError(
                f"Cannot assign a {type(location).__name__} to {self.name!r}: give it a space "
                "(Point(..., space='mni152'), volumes.from_nifti(img, space=...))."
            )
        maps = self._maps_in(space, "statistical") or self._maps_in(space, "labelled")
        if not maps:
            self._map(space, "statistical")  # raises the NotFoundError listing the region's maps
        df = maps[0].assign(location, **assign_kwargs)
        if not len(df):
            return df
        keep = [isinstance(r, Region) and self.includes(r) for r in df["region"]]
        return df[keep].reset_index(drop=True)


def _pick(spec: Any, found: list[Region]) -> Region:
    """Choose among several matches: exact name first, then a common ancestor of all matches."""
    if len(found) == 1:
        return found[0]
    s = str(spec).strip().lower()
    exact = [r for r in found if any(n.lower() == s for n in r.names)]
    if len(exact) == 1:
        return exact[0]
    tops = [r for r in found if not any(r.has_ancestor(o) for o in found if o is not r)]
    if len(tops) == 1:
        return tops[0]
    # prefer regions whose own words are all covered by the spec's words (closest fit)
    sw = set(words(str(spec)))
    tight = [r for r in tops if any(set(words(n)) <= sw for n in r.names)]
    if len(tight) == 1:
        return tight[0]
    listing = ", ".join(repr(r.name) for r in tops[:12]) + (" ..." if len(tops) > 12 else "")
    raise AmbiguousNameError(
        f"{spec!r} matches {len(tops)} unrelated regions: {listing}. "
        "Add words to the name (e.g. 'left'/'right' or the area code) or use a /regex/."
    )

"""Region trees: a parcellation's areas, their groups and their hemisphere children."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import AmbiguousNameError, NotFoundError
from .names import closest, key_of, matches_words, normalize_hemisphere, words

if TYPE_CHECKING:  # pragma: no cover
    from .parcellation import Parcellation

__all__ = ["Region"]


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
        self._parcellation: Parcellation | None = None
        for c in children or []:
            self.add_child(c)

    # ------------------------------------------------------------------ tree
    def add_child(self, child: Region) -> Region:
        """Append ``child`` below this region and return it."""
        child.parent = self
        self.children.append(child)
        return child

    @property
    def parcellation(self) -> Parcellation | None:
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
        """Whether ``spec`` (a string or a Region) designates this region (SPEC section 1)."""
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
    def assign(self, other: Region) -> str | None:
        """Qualification of this region relative to ``other``.

        Returns ``"exact"`` (same area, also across versions of one parcellation when the names
        agree), ``"contains"`` (``other`` lies below this region), ``"contained"`` (this region lies
        below ``other``) or ``None`` when the two are unrelated.
        """
        if self is other or self.matches(other):
            return "exact"
        if other.has_ancestor(self):
            return "contains"
        if self.has_ancestor(other):
            return "contained"
        if _same_area_name(self.name, other.name):
            return "exact"
        mine = {_core_words(n) for n in self.names}
        theirs = {_core_words(n) for n in other.names}
        for d in self.descendants:
            if {_core_words(n) for n in d.names} & theirs:
                return "contains"
        for d in other.descendants:
            if {_core_words(n) for n in d.names} & mine:
                return "contained"
        return None


def _core_words(name: str) -> tuple[str, ...]:
    return tuple(w for w in words(normalize_hemisphere(name)))


def _same_area_name(a: str, b: str) -> bool:
    return _core_words(a) == _core_words(b)


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

"""Building region trees from flat lists of names (areas with hemisphere children)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .names import normalize_hemisphere, words
from .region import Region

__all__ = ["regions_from_names", "split_hemisphere"]


def split_hemisphere(name: str) -> tuple[str, str | None]:
    """``"Area 44 left"`` -> ``("Area 44", "left")``; names without a hemisphere give ``(name, None)``."""
    name = normalize_hemisphere(name)
    w = words(name)
    if w and w[-1] in ("left", "right"):
        cut = name.lower().rfind(w[-1])
        return name[:cut].rstrip(" _-,"), w[-1]
    return name, None


def regions_from_names(
    names: Iterable[str],
    aliases: Mapping[str, list[str]] | None = None,
    colors: Mapping[str, tuple[int, int, int]] | None = None,
) -> list[Region]:
    """Top-level regions for ``names``: every ``"X left"``/``"X right"`` pair goes below an area ``"X"``.

    Parameters
    ----------
    names : iterable of str
        Leaf names as they appear in a map (hemisphere suffixes normalised to " left"/" right").
    aliases : mapping, optional
        Area name -> other names of the area; hemisphere children get ``alias + " left"`` etc.
    colors : mapping, optional
        Area or leaf name -> RGB.
    """
    aliases = dict(aliases or {})
    colors = dict(colors or {})
    areas: dict[str, Region] = {}
    out: list[Region] = []
    for raw in names:
        name = normalize_hemisphere(raw)
        area, hemi = split_hemisphere(name)
        al = aliases.get(area, [])
        if hemi is None:
            if area in areas:
                continue
            reg = Region(area, aliases=list(al), rgb=colors.get(area))
            areas[area] = reg
            out.append(reg)
            continue
        parent = areas.get(area)
        if parent is None:
            parent = Region(area, aliases=list(al), rgb=colors.get(area))
            areas[area] = parent
            out.append(parent)
        parent.add_child(
            Region(name, aliases=[f"{a} {hemi}" for a in al], rgb=colors.get(name, colors.get(area)))
        )
    return out

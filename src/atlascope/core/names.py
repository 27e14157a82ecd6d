"""Name matching for spaces, parcellations and regions.

A *spec* is what a user types: ``"hOc1 left"``, ``"julich 3.0.3"``, ``"mni152"`` or a regular
expression written as ``"/pattern/flags"``. Matching forgives case, spacing and punctuation such as
parentheses and commas: a spec matches a name when every word of the spec equals a word of the name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = [
    "words",
    "normalize_hemisphere",
    "key_of",
    "name_key",
    "is_regex",
    "compile_regex",
    "matches_words",
    "matches_loosely",
    "closest",
    "version_key",
]

_WORD_SPLIT = re.compile(r"[^A-Za-z0-9.\-]+")
_HEMISPHERE_SUFFIX = re.compile(r"\s*-\s*(left|right)\s+hemisphere\s*$", re.IGNORECASE)
_REGEX_SPEC = re.compile(r"^/(.+)/([imsx]*)$", re.DOTALL)


def words(text: str) -> tuple[str, ...]:
    """Lower-case words of ``text``, split on every character outside ``[A-Za-z0-9.-]``.

    Trailing dots and hyphens are stripped from each word ("17," -> "17", "area." -> "area").
    """
    out = []
    for w in _WORD_SPLIT.split(text.lower()):
        w = w.strip(".-")
        if w:
            out.append(w)
    return tuple(out)


def normalize_hemisphere(name: str) -> str:
    """Turn ``"Area 44 (IFG) - left hemisphere"`` into ``"Area 44 (IFG) left"``."""
    return _HEMISPHERE_SUFFIX.sub(lambda m: " " + m.group(1).lower(), name).strip()


def key_of(name: str) -> str:
    """An identifier-like key: ``"Area hOc1 (V1, 17, CalcS)"`` -> ``"AREA_HOC1_V1_17_CALCS"``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()


def name_key(name: str) -> tuple[str, ...]:
    """Words of a region name as a comparable key, the hemisphere suffix normalised first.

    Two region names designate the same area when their keys are equal, also across versions of
    one parcellation: ``"Area hOc1 (V1, 17, CalcS) - left hemisphere"`` and
    ``"Area hOc1 (V1, 17, CalcS) left"`` both give ``("area", "hoc1", "v1", "17", "calcs", "left")``.
    """
    return words(normalize_hemisphere(name))


def is_regex(spec: str) -> bool:
    """Whether ``spec`` is written as a regular expression ``/pattern/flags``."""
    return bool(_REGEX_SPEC.match(spec.strip()))


def compile_regex(spec: str) -> re.Pattern[str]:
    """Compile a ``/pattern/flags`` spec (flags: i, m, s, x)."""
    m = _REGEX_SPEC.match(spec.strip())
    if not m:
        raise ValueError(f"not a /regex/ spec: {spec!r}")
    flags = 0
    for f in m.group(2):
        flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}[f]
    return re.compile(m.group(1), flags)


def matches_words(spec: str, names: Iterable[str]) -> bool:
    """Whether ``spec`` matches any of ``names`` by the word rule.

    A spec matches a name when it equals the name (case-insensitively), when it is a ``/regex/`` that
    searches successfully in the name, or when every word of the spec equals a word of the name.
    """
    spec = spec.strip()
    if not spec:
        return False
    if is_regex(spec):
        pattern = compile_regex(spec)
        return any(pattern.search(n) for n in names)
    spec_l = spec.lower()
    spec_words = words(spec)
    for n in names:
        if n.lower() == spec_l:
            return True
        if spec_words and set(spec_words) <= set(words(n)):
            return True
    return False


def matches_loosely(spec: str, short_name: str, name: str, extra: Iterable[str] = ()) -> bool:
    """Space/parcellation rule: every spec word appears in the short name or the space-less name.

    "mni152" finds "MNI 152 ICBM 2009c Nonlinear Asymmetric" because it is a substring of
    "mni152icbm2009cnonlinearasymmetric". ``extra`` are further aliases tested the same way.
    """
    spec = spec.strip()
    if not spec:
        return False
    candidates = [short_name, name, *extra]
    if is_regex(spec):
        pattern = compile_regex(spec)
        return any(pattern.search(c) for c in candidates if c)
    haystacks = []
    for c in candidates:
        if c:
            haystacks.append(c.lower())
            haystacks.append(re.sub(r"\s+", "", c.lower()))
    return all(any(w in h for h in haystacks) for w in words(spec))


def closest(spec: str, names: Iterable[str], n: int = 5) -> list[str]:
    """Up to ``n`` names that look most like ``spec`` (for "did you mean" messages).

    Names sharing more words with the spec come first (a word also counts half when one contains
    the other, "hoc1" in "hoc1-left"), then names that are most similar as strings (difflib).
    """
    names = list(dict.fromkeys(names))
    sw = set(words(spec))
    low = spec.lower()

    def score(x: str) -> tuple[float, float]:
        xw = set(words(x))
        overlap = len(sw & xw) + 0.5 * sum(1 for w in sw - xw if any(w in y or y in w for y in xw))
        return overlap, difflib.SequenceMatcher(None, low, x.lower()).ratio()

    scored = sorted(((score(x), x) for x in names), key=lambda t: t[0], reverse=True)
    return [x for (overlap, ratio), x in scored if overlap > 0 or ratio >= 0.6][:n]


def version_key(version: str | None) -> tuple:
    """Sortable key of a version string: ``"3.0.3"`` > ``"2.9"``; missing versions sort first."""
    if not version:
        return (0,)
    parts = []
    for p in re.split(r"[.\-_ ]", str(version).lstrip("vV")):
        parts.append((1, int(p), "") if p.isdigit() else (0, 0, p))
    return (1, *parts)

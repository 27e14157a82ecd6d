"""Atlas object model: spaces, parcellations, region trees, name matching and the registry."""

from .names import key_of, matches_words, normalize_hemisphere, words
from .parcellation import Parcellation
from .provenance import Provenance
from .region import Region
from .registry import REGISTRY, Registry, normalize_maptype
from .space import Space

__all__ = [
    "Space",
    "Parcellation",
    "Region",
    "Provenance",
    "Registry",
    "REGISTRY",
    "normalize_maptype",
    "words",
    "key_of",
    "matches_words",
    "normalize_hemisphere",
]

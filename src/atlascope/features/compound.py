"""Compound features: one feature standing for a group of elements (siibra's ``CompoundFeature``).

siibra answers a connectivity query with one compound feature per cohort, modality and
parcellation version: ``fts[0]`` is the group, ``fts[0][0]`` its first element (subject 000),
``fts[0].data`` the average over the elements. :class:`CompoundFeature` gives the same shape::

    conn = siibra.features.get(region, "StreamlineCounts")[0]
    conn.indexing_attributes        # ("subject",)
    conn[0].subject, len(conn)      # "000", 200
    conn[0].get_profile(region).data   # subject 000's connections of the region, > 0, strongest first
    conn.get_profile(region).data      # the same for the average
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import NotFoundError
from .base import Feature

__all__ = ["CompoundFeature"]


class CompoundFeature(Feature):
    """A group of features of one kind, indexable by position or by its indexing attribute.

    Parameters
    ----------
    base : Feature
        The feature whose ``data`` is the group's average (e.g. a RegionalConnectivity over all
        subjects); attributes not defined here (``get_profile``, ``plot``, ``cohort`` ...) are
        the base's.
    keys : list of str
        The value of the indexing attribute of each element, in order (e.g. subject ids).
    element : callable
        ``element(key)`` builds the element feature of ``key``.
    indexing_attribute : str
        Name of the attribute the elements differ by (``"subject"``).
    """

    def __init__(self, base: Feature, keys: list[str], element: Any, indexing_attribute: str = "subject") -> None:
        super().__init__(base.anchor, base.modality, base.description, base.datasets, base.id)
        self._base = base
        self._keys = [str(k) for k in keys]
        self._element = element
        self._elements: dict[str, Feature] = {}
        self.indexing_attributes = (indexing_attribute,)

    @property
    def base(self) -> Feature:
        """The feature of the whole group (whose ``data`` is the average)."""
        return self._base

    # ------------------------------------------------------------ elements
    def _get(self, key: str) -> Feature:
        with self._lock:
            if key not in self._elements:
                self._elements[key] = self._element(key)
            return self._elements[key]

    @property
    def elements(self) -> list[Feature]:
        """The element features, in order (built on first access, then kept)."""
        return [self._get(k) for k in self._keys]

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[Feature]:
        return (self._get(k) for k in self._keys)

    def __getitem__(self, index: int | str) -> Feature:
        """The element at position ``index`` (int, negative counts from the end) or with that key (str).

        Raises
        ------
        NotFoundError
            No such position or key; the message gives the number of elements and some keys.
        """
        if isinstance(index, str):
            if index in self._keys:
                return self._get(index)
        else:
            try:
                return self._get(self._keys[int(index)])
            except IndexError:
                pass
        raise NotFoundError(
            f"{self.name} has no element {index!r}: it has {len(self._keys)} elements "
            f"({self.indexing_attributes[0]} {', '.join(self._keys[:5])}{' ...' if len(self._keys) > 5 else ''})."
        )

    # ---------------------------------------------------------------- data
    @property
    def name(self) -> str:
        return f"{self._base.name} ({len(self)} {self.indexing_attributes[0]}s)"

    @property
    def data(self) -> Any:
        """The average over the elements (the base feature's ``data``)."""
        return self._base.data

    def plot(self, *args: Any, **kwargs: Any) -> Any:
        """The base feature's plot (of the average); same arguments."""
        return self._base.plot(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self._base, attr)

    def __repr__(self) -> str:
        return f"<CompoundFeature of {len(self)} {type(self._base).__name__} ({self.modality!r}) of {self.anchor}>"

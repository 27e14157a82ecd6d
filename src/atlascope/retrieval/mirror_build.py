"""Building and verifying mirror folders: every URL fetched once and copied to its mirror path.

Where a URL's file lives in a mirror, and what ``manifest.json`` holds, is :mod:`atlascope.retrieval.mirror`;
this module downloads (through :func:`~atlascope.retrieval.fetching.fetch`) and writes, every file
whole or not at all (:func:`atlascope.files.atomic_write`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from ..commons import logger
from ..commons import progress as progress_bar
from ..errors import InvalidInputError, RetrievalError
from ..files import atomic_write, copy_atomic
from .fetching import fetch
from .mirror import MANIFEST, mirror_file, mirror_path, read_manifest
from .validate import sha256_of

__all__ = ["build_mirror", "verify_mirror"]


def _write_manifest(root: Path, manifest: dict) -> None:
    with atomic_write(root / MANIFEST) as temp:
        temp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")


def build_mirror(urls: Iterable[str], out_dir: str | os.PathLike, *, progress: bool = True) -> Path:
    """Download every URL (through :func:`~atlascope.retrieval.fetch`) into a mirror folder.

    Each file is copied atomically to ``out_dir/<host>/<path>`` and recorded in
    ``out_dir/manifest.json`` as ``{url: {"path", "size", "sha256"}}``. Idempotent: a URL already in
    the manifest whose file is present with the recorded size is skipped, so an interrupted build
    resumes. The manifest is written even when some URLs fail.

    Parameters
    ----------
    urls : iterable of str
        http(s) URLs (duplicates are fetched once).
    out_dir : path-like
        Mirror folder, created if needed.
    progress : bool
        Show a progress bar over the URLs (when progress bars are enabled).

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    RetrievalError
        After trying all URLs, when some could not be fetched; the message lists them.
    InvalidInputError
        ``out_dir`` holds a ``manifest.json`` that atlascope did not write (nothing is written).
        URLs whose path would leave the folder (``..``, a symbolic link leading outside) are
        refused and listed among the failures.
    """
    root = Path(out_dir).expanduser().absolute()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"Cannot create the mirror folder {root}: {exc.strerror or exc}.") from exc
    manifest = read_manifest(root)
    todo = list(dict.fromkeys(str(u) for u in urls))
    items = progress_bar(todo, desc="mirror", total=len(todo), unit="file") if progress else todo
    failures: list[tuple[str, str]] = []
    try:
        for url in items:
            try:
                dest = mirror_file(url, root)
                entry = manifest.get(url)
                if entry and dest.is_file() and dest.stat().st_size == entry.get("size"):
                    continue
                source = fetch(url)
                if not (dest.exists() and os.path.samefile(source, dest)):
                    copy_atomic(source, dest)
                manifest[url] = {
                    "path": dest.relative_to(root).as_posix(),
                    "size": dest.stat().st_size,
                    "sha256": sha256_of(dest),
                }
            except (RetrievalError, InvalidInputError, OSError) as exc:
                logger.warning("Mirror: could not get %s: %s", url, exc)
                failures.append((url, str(exc)))
    finally:
        _write_manifest(root, manifest)
    if failures:
        listed = "\n".join(f"  {u}: {why}" for u, why in failures[:10])
        more = f"\n  ... and {len(failures) - 10} more" if len(failures) > 10 else ""
        raise RetrievalError(
            f"{len(failures)} of {len(todo)} files could not be mirrored into {root}:\n{listed}{more}\n"
            "Run build_mirror again to retry them (files already mirrored are kept)."
        )
    logger.info("Mirror %s holds %d files", root, len(manifest))
    return root


def verify_mirror(out_dir: str | os.PathLike) -> dict[str, str]:
    """Re-check every file listed in a mirror's manifest against its recorded size and SHA-256.

    Parameters
    ----------
    out_dir : path-like
        A folder built by :func:`build_mirror`.

    Returns
    -------
    dict
        ``{url: problem}`` for every missing, resized or altered file; empty when all is well.

    Raises
    ------
    InvalidInputError
        The folder has no readable ``manifest.json``.
    """
    root = Path(out_dir).expanduser().absolute()
    if not (root / MANIFEST).is_file():
        raise InvalidInputError(
            f"{root} is not a mirror: it has no {MANIFEST}. Build one with build_mirror or `atlascope mirror`."
        )
    problems: dict[str, str] = {}
    for url, entry in read_manifest(root).items():
        try:
            if not isinstance(entry["path"], str):
                raise TypeError(f"the path {entry['path']!r} is not a string")
            path = mirror_path(root, entry["path"])
        except (InvalidInputError, KeyError, TypeError) as exc:
            problems[url] = f"invalid manifest entry ({exc})"
            continue
        if not path.is_file():
            problems[url] = f"missing file {path}"
        elif path.stat().st_size != entry.get("size"):
            problems[url] = f"{path} has {path.stat().st_size} bytes, manifest says {entry.get('size')}"
        elif sha256_of(path) != entry.get("sha256"):
            problems[url] = f"{path} has a different SHA-256 than the manifest records"
    for url, why in problems.items():
        logger.warning("Mirror %s: %s: %s", root, url, why)
    return problems

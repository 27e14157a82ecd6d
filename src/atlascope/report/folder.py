"""The folder contract of a report: file names, slugs, the check of ``--out`` and the whole-folder write.

Every other report module names files through the constants here, so a file name changes in one place.
A report folder is written as a whole: :func:`staged_folder` fills a temporary sibling and moves it
into place at the end, so a run killed mid-way never leaves old and new files side by side.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

from ..commons import logger
from ..errors import InvalidInputError

__all__ = [
    "TABLE_FILES",
    "INPUT_PNG",
    "CLUSTERS_PNG",
    "CLUSTERS_NII",
    "VIEWER_HTML",
    "METADATA_JSON",
    "INDEX_HTML",
    "slug",
    "region_anchor",
    "cluster_png",
    "check_output_dir",
    "staged_folder",
    "inside",
]

#: Table files of a report folder, by key.
TABLE_FILES: Mapping[str, str] = MappingProxyType({
    "clusters": "clusters.tsv",
    "labels": "labels.tsv",
    "peaks": "peaks.tsv",
    "peak_assignments": "peak_assignments.tsv",
    "cluster_assignments": "cluster_assignments.tsv",
    "samples": "samples.tsv",
})

INPUT_PNG = "input_glass_brain.png"
CLUSTERS_PNG = "clusters_glass_brain.png"
CLUSTERS_NII = "clusters.nii.gz"
VIEWER_HTML = "viewer.html"
METADATA_JSON = "report.json"
INDEX_HTML = "index.html"

#: Files whose presence marks a folder as an atlascope report (it may then be replaced as a whole).
_MARKERS = (METADATA_JSON, INDEX_HTML, "clusters.tsv")


def slug(text: str) -> str:
    """An HTML-id-safe version of ``text`` (lower case, runs of other characters become ``-``)."""
    s = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return s or "x"


def region_anchor(name: str) -> str:
    """The HTML id of a region's details card."""
    return "region-" + slug(name)


def cluster_png(cluster: object) -> str:
    """File name of a cluster's orthogonal-slices figure."""
    return f"cluster_{slug(str(cluster))}.png"


def _staging_prefix(out: Path) -> str:
    return f".{out.name}.part-"


def check_output_dir(path: str | os.PathLike) -> Path:
    """Check, before any work, that a report can be written to ``path``; return it as an absolute path.

    Parameters
    ----------
    path : path
        The ``--out`` folder. It may not exist yet; its nearest existing ancestor must be a writable
        folder (the report is staged in a sibling of ``path`` and moved in at the end).

    Returns
    -------
    pathlib.Path
        The absolute output folder.

    Raises
    ------
    InvalidInputError
        ``path`` or one of its ancestors is a file, the folder cannot be written, or ``path`` is a
        non-empty folder that is not an atlascope report (it would be replaced as a whole).
    """
    out = Path(os.path.abspath(Path(path).expanduser()))
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--out {str(out)!r} is a file, not a folder; give a folder path.")
    if out.is_dir() and any(out.iterdir()) and not any((out / m).is_file() for m in _MARKERS):
        raise InvalidInputError(
            f"--out {str(out)!r} is a folder with other files and no atlascope report in it; it would be "
            "replaced as a whole. Give a new or empty folder."
        )
    for ancestor in out.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise InvalidInputError(
                    f"--out {str(out)!r} lies under {str(ancestor)!r}, which is a file; give a folder path "
                    "outside it."
                )
            _probe_writable(ancestor, out)
            break
    return out


def _probe_writable(folder: Path, out: Path) -> None:
    """Create and remove a file in ``folder`` (``os.access`` is wrong for root and some file systems)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".atlascope-probe-", dir=folder)
    except OSError as exc:
        raise InvalidInputError(
            f"--out {str(out)!r} cannot be written: {str(folder)!r} is not writable ({exc.strerror}). "
            "Choose a folder you may write to."
        ) from None
    os.close(fd)
    os.unlink(name)


@contextlib.contextmanager
def staged_folder(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Fill a temporary sibling of ``out_dir``; on success it replaces ``out_dir`` as a whole.

    If the block raises (or the process is killed) ``out_dir`` keeps its old contents; the temporary
    sibling is removed (a killed run's leftover is removed by the next run into the same folder).

    Yields
    ------
    pathlib.Path
        The staging folder to write into.
    """
    out = check_output_dir(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(_staging_prefix(out) + "*"):
        if stale.is_dir() and not stale.is_symlink():
            logger.debug("Removing the leftover of an interrupted run: %s", stale)
            shutil.rmtree(stale, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=_staging_prefix(out), dir=out.parent))
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    os.chmod(stage, 0o777 & ~_umask())
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=_staging_prefix(out) + "old-", dir=out.parent))
        os.rename(out, old / "previous")
    os.rename(stage, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def inside(folder: str | os.PathLike, name: str) -> Path:
    """The path of file ``name`` inside ``folder``; refuse names that leave it.

    Raises
    ------
    InvalidInputError
        ``name`` is absolute, climbs out with ``..`` or resolves (through a link) outside ``folder``.
    """
    base = Path(folder).resolve()
    text = str(name)
    candidate = (base / text).resolve()
    if Path(text).is_absolute() or ".." in Path(text).parts or not candidate.is_relative_to(base):
        raise InvalidInputError(
            f"report.json names the file {text!r}, which lies outside the report folder {str(base)!r}; "
            "a report may only show files inside its folder. Remove the entry or rerun "
            "'atlascope characterize'."
        )
    return candidate

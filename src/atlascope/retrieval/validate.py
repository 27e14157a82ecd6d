"""Content validation of a downloaded file before it may enter the cache.

:func:`validate_file` checks, in this order: the expected size, the expected SHA-256, that a
NIfTI/JSON/zip/gzip/text file is not an HTML page (a login or error page served with 200), and
that the content decodes as its kind says:

========  ==================================================================================
kind      check
========  ==================================================================================
nifti     NIfTI-1/2 header parses (nibabel), and the (decompressed) file holds at least
          ``vox_offset + prod(shape) * itemsize`` bytes; ``.nii.gz`` is decompressed fully
gzip      the gzip stream decodes to its end (CRC and length checked)
json      ``json.load`` succeeds (UTF-8)
zip       ``zipfile.ZipFile(...).testzip()`` is ``None`` (every member's CRC matches)
text      not HTML; decodes as UTF-8 (a BOM allowed), holds no NUL byte, and tab- or
          comma-separated text parses with :mod:`csv` in strict mode (balanced quotes)
bytes     size and hash only
========  ==================================================================================

A failure raises :class:`ValidationFailed` with the reason; the caller turns it into an
:class:`~atlascope.errors.IntegrityError` naming the URL.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import zipfile
import zlib
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import InvalidInputError

__all__ = ["KINDS", "ValidationFailed", "guess_kind", "check_kind", "sha256_of", "validate_file"]

#: Content kinds understood by :func:`validate_file`.
KINDS = ("nifti", "json", "zip", "gzip", "text", "bytes")

_TEXT_SUFFIXES = (".txt", ".tsv", ".csv")
_READ = 1024 * 1024


class ValidationFailed(Exception):
    """A downloaded file is not what was expected; ``str(exc)`` says what failed."""


def guess_kind(url: str) -> str:
    """Content kind from the URL's path suffix (query and case ignored).

    ``.nii``/``.nii.gz`` → ``"nifti"``, ``.json`` → ``"json"``, ``.zip`` → ``"zip"``, other ``.gz``
    → ``"gzip"``, ``.txt``/``.tsv``/``.csv`` → ``"text"``, anything else → ``"bytes"``.
    """
    path = urlsplit(str(url)).path.lower()
    if path.endswith((".nii", ".nii.gz")):
        return "nifti"
    if path.endswith(".json"):
        return "json"
    if path.endswith(".zip"):
        return "zip"
    if path.endswith(".gz"):
        return "gzip"
    if path.endswith(_TEXT_SUFFIXES):
        return "text"
    return "bytes"


def check_kind(kind: str | None, url: str) -> str:
    """``kind`` itself if valid, the guess from ``url`` if ``None``.

    Raises
    ------
    InvalidInputError
        ``kind`` is not one of :data:`KINDS`.
    """
    if kind is None:
        return guess_kind(url)
    if kind not in KINDS:
        raise InvalidInputError(f"kind={kind!r} is not known; use one of {', '.join(KINDS)} or None (guess).")
    return kind


def sha256_of(path: Path) -> str:
    """Hex SHA-256 digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_READ):
            h.update(block)
    return h.hexdigest()


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        start.startswith(b"<") and b"<html" in start[:1024]
    )


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _check_gzip(path: Path) -> None:
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(_READ):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise ValidationFailed(f"the gzip stream does not decode ({exc})") from exc


def _check_json(path: Path) -> None:
    try:
        with open(path, encoding="utf-8") as fh:
            json.load(fh)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ValidationFailed(f"the file is not valid JSON ({exc})") from exc


def _check_text(path: Path) -> None:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"the text is not UTF-8 ({exc}) — probably corrupted in transit") from exc
    if "\x00" in text:
        raise ValidationFailed("the text holds NUL bytes — probably corrupted in transit")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else "," if "," in first else None
    if delimiter is None:
        return
    try:
        for _row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        raise ValidationFailed(f"the table does not parse ({exc})") from exc


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        raise ValidationFailed(f"the file is not a readable zip archive ({exc})") from exc
    if bad is not None:
        raise ValidationFailed(f"the zip member {bad!r} is corrupt (CRC mismatch)")


def _check_nifti(path: Path) -> None:
    import nibabel as nib
    from nibabel.imageglobals import LoggingOutputSuppressor
    from nibabel.spatialimages import HeaderDataError

    compressed = _is_gzip(path)
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(544)
            total = len(head)
            while block := fh.read(_READ):
                total += len(block)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValidationFailed(f"the gzip stream of the NIfTI file does not decode ({exc})") from exc
    if len(head) < 348:
        raise ValidationFailed(f"the file holds {len(head)} bytes, too few for a NIfTI header (348)")
    sizes = {int.from_bytes(head[:4], "little"), int.from_bytes(head[:4], "big")}
    if 348 in sizes:
        header_class, header_size = nib.Nifti1Header, 348
    elif 540 in sizes:
        header_class, header_size = nib.Nifti2Header, 540
    else:
        raise ValidationFailed("the file does not start with a NIfTI-1 or NIfTI-2 header (sizeof_hdr)")
    try:
        with LoggingOutputSuppressor():
            header = header_class.from_fileobj(io.BytesIO(head[:header_size]), check=True)
    except (HeaderDataError, ValueError, TypeError) as exc:
        raise ValidationFailed(f"the NIfTI header does not parse ({exc})") from exc
    magic = bytes(header["magic"]).rstrip(b"\x00")
    if magic not in (b"n+1", b"n+2"):
        raise ValidationFailed(f"the NIfTI header's magic is {magic!r}, not that of a single .nii file")
    try:
        expected = int(header.get_data_offset()) + math.prod(header.get_data_shape()) * (
            header.get_data_dtype().itemsize
        )
    except (HeaderDataError, ValueError, TypeError) as exc:
        raise ValidationFailed(f"the NIfTI header describes no readable data ({exc})") from exc
    if total < expected:
        raise ValidationFailed(
            f"the NIfTI data is incomplete: {total} bytes{' after decompression' if compressed else ''}, "
            f"the header promises {expected}"
        )


def validate_file(
    path: Path,
    *,
    kind: str,
    size: int | None = None,
    sha256: str | None = None,
    content_type: str = "",
) -> None:
    """Check a downloaded file against what was expected of it.

    Parameters
    ----------
    path : pathlib.Path
        The (temporary) file.
    kind : str
        One of :data:`KINDS`.
    size : int, optional
        Expected size in bytes.
    sha256 : str, optional
        Expected hex SHA-256 digest (case-insensitive).
    content_type : str
        The server's ``Content-Type``, quoted in the message when an HTML page arrived.

    Raises
    ------
    ValidationFailed
        With the reason.
    """
    actual = path.stat().st_size
    if size is not None and actual != size:
        raise ValidationFailed(f"size is {actual} bytes, expected {size}")
    if sha256 is not None:
        digest = sha256_of(path)
        if digest != sha256.strip().lower():
            raise ValidationFailed(f"SHA-256 is {digest}, expected {sha256.strip().lower()}")
    if kind == "bytes":
        return
    with open(path, "rb") as fh:
        head = fh.read(2048)
    if _looks_like_html(head):
        what = {"nifti": "a NIfTI image", "json": "JSON", "zip": "a zip archive"}.get(kind, f"a {kind} file")
        ctype = f" (Content-Type {content_type})" if content_type else ""
        raise ValidationFailed(
            f"the server sent an HTML page{ctype} instead of {what} — probably an error or login page"
        )
    if kind == "nifti":
        _check_nifti(path)
    elif kind == "gzip":
        _check_gzip(path)
    elif kind == "json":
        _check_json(path)
    elif kind == "zip":
        _check_zip(path)
    elif kind == "text":
        _check_text(path)

"""Numeric settings from ``ATLASCOPE_*`` environment variables, and sizes in bytes read and written.

Bottom-level module: it imports only the standard library and :mod:`atlascope.errors`. Every
variable is read at call time (never at import), so tests and applications may change it at run
time. One unit convention for sizes, in both directions: ``KB MB GB TB PB`` are powers of 1000
(``"2GB"`` is 2·10⁹ bytes and is written back as ``"2.0 GB"``), ``KiB MiB GiB TiB PiB`` and the
bare letters ``K M G T P`` are powers of 1024.
"""

from __future__ import annotations

import math
import os
import re
from types import MappingProxyType

from .errors import InvalidInputError

__all__ = ["env_seconds", "env_bytes", "env_flag", "parse_size", "format_size"]

#: Bytes per unit understood by :func:`parse_size` (lower-case unit names).
UNITS = MappingProxyType(
    {
        "": 1,
        "b": 1,
        "kb": 10**3,
        "mb": 10**6,
        "gb": 10**9,
        "tb": 10**12,
        "pb": 10**15,
        "kib": 2**10,
        "mib": 2**20,
        "gib": 2**30,
        "tib": 2**40,
        "pib": 2**50,
        "k": 2**10,
        "m": 2**20,
        "g": 2**30,
        "t": 2**40,
        "p": 2**50,
    }
)
#: Units written by :func:`format_size`, each 1000 times the previous one.
_DECIMAL = ("B", "KB", "MB", "GB", "TB", "PB")
#: Largest size accepted (bytes): 8 EiB.
MAX_SIZE = 2**63
#: Values of a yes/no variable that mean yes (lower-case).
_YES = frozenset({"1", "true", "yes", "on"})


def _raw(name: str) -> str:
    return os.environ.get(name, "").strip()


def env_seconds(name: str, default: float) -> float:
    """A positive, finite number of seconds from the environment variable ``name``, else ``default``.

    Parameters
    ----------
    name : str
        The variable, e.g. ``"ATLASCOPE_DEADLINE"``.
    default : float
        Seconds used when the variable is unset or empty.

    Raises
    ------
    InvalidInputError
        The variable is set but is not a positive finite number.
    """
    env = _raw(name)
    if not env:
        return default
    try:
        value = float(env)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise InvalidInputError(
            f"{name}={env!r} is not a positive number of seconds; set it to e.g. 600 or unset it."
        )
    return value


def env_bytes(name: str, default: int) -> int:
    """A positive number of bytes from the environment variable ``name``, else ``default``.

    The value is read by :func:`parse_size`: a number of bytes (``"4294967296"``, ``"4e9"``) or a
    size with a unit (``"4GiB"``).

    Parameters
    ----------
    name : str
        The variable, e.g. ``"ATLASCOPE_MAX_IMAGE_BYTES"``.
    default : int
        Bytes used when the variable is unset or empty.

    Raises
    ------
    InvalidInputError
        The variable is set but is not a positive size.
    """
    env = _raw(name)
    if not env:
        return default
    try:
        value = parse_size(env)
    except InvalidInputError:
        value = 0
    if value <= 0:
        raise InvalidInputError(
            f"{name}={env!r} is not a positive number of bytes; set it to e.g. {default} "
            f"({format_size(default)}) or unset it."
        )
    return value


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` says yes (``1``, ``true``, ``yes``, ``on``; any case)."""
    return _raw(name).lower() in _YES


def parse_size(text: int | str) -> int:
    """Number of bytes in a size such as ``"2GB"``, ``"1.5 GiB"``, ``"500MB"`` or ``"1024"``.

    Units (case-insensitive): ``B``; decimal SI ``KB MB GB TB PB`` (powers of 1000); binary IEC
    ``KiB MiB GiB TiB PiB`` (powers of 1024); the bare letters ``K M G T P`` are binary, as in ``du``
    and ``docker``. A number without unit is bytes.

    Parameters
    ----------
    text : int or str
        The size; an ``int`` is returned unchanged (if not negative).

    Returns
    -------
    int
        Bytes (fractions rounded to the nearest byte).

    Raises
    ------
    InvalidInputError
        Not a size, an unknown unit, a negative number, or more than 8 EiB.
    """
    if isinstance(text, bool):
        raise InvalidInputError(f"{text!r} is not a size; give bytes or a string like '2GB'.")
    if isinstance(text, int):
        if text > MAX_SIZE:
            raise InvalidInputError(f"{text!r} is too large a size; give at most 8 EiB (e.g. '2TB').")
        value, unit = float(text), ""
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
        if not m or m.group(2).lower() not in UNITS:
            raise InvalidInputError(
                f"{text!r} is not a size; write a number with an optional unit, e.g. '500MB', '2GB', "
                "'1.5GiB' (units: B, KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB)."
            )
        value, unit = float(m.group(1)), m.group(2).lower()
    if value < 0:
        raise InvalidInputError(f"{text!r} is negative; a size must be at least 0 bytes.")
    value *= UNITS[unit]
    if not math.isfinite(value) or value > MAX_SIZE:
        raise InvalidInputError(f"{text!r} is too large a size; give at most 8 EiB (e.g. '2TB').")
    return int(round(value))


def format_size(n: float) -> str:
    """A size in bytes written with the decimal units :func:`parse_size` reads (``2e9`` → ``"2.0 GB"``).

    Parameters
    ----------
    n : float
        Bytes.

    Returns
    -------
    str
        ``"<n> B"`` below 1000 bytes, else one decimal and the largest unit of ``KB MB GB TB PB``
        that keeps the number at least 1; ``parse_size(format_size(n))`` is ``n`` to within 5 %.
    """
    value = float(n)
    if abs(value) < 1000:
        return f"{value:.0f} B"
    for unit in _DECIMAL[1:-1]:
        value /= 1000
        if abs(value) < 1000:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} {_DECIMAL[-1]}"

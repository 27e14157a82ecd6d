"""The one place tests find the real fixtures in ``../shared`` (never copied into the repository).

``shared_path("julich-brain-2.4")`` returns the folder, or skips the calling test with the reason when
``../shared/fixtures`` (or ``ATLASCOPE_SHARED``) is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parent.parent


def shared_root() -> Path | None:
    """The ``shared`` folder beside the repository (or ``$ATLASCOPE_SHARED``), if present."""
    env = os.environ.get("ATLASCOPE_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(_REPO.parent / "shared")
    for c in candidates:
        if (c / "fixtures").is_dir():
            return c
    return None


def shared_path(*parts: str) -> Path:
    """Path below ``shared/fixtures``; skips the test with the reason when it is not there."""
    root = shared_root()
    if root is None:
        pytest.skip(
            "../shared/fixtures is absent (set ATLASCOPE_SHARED to the shared folder to run this test)"
        )
    p = root.joinpath("fixtures", *parts)
    if not p.exists():
        pytest.skip(f"fixture {p} is absent from the shared folder")
    return p

"""Test-wide settings: an isolated cache folder per session, no progress bars, headless matplotlib."""

from __future__ import annotations

import os

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Every test session gets its own atlascope cache unless ATLASCOPE_CACHE is set explicitly."""
    if "ATLASCOPE_TEST_KEEP_CACHE" not in os.environ:
        os.environ["ATLASCOPE_CACHE"] = str(tmp_path_factory.mktemp("atlascope-cache"))
    os.environ.setdefault("ATLASCOPE_PROGRESS", "0")
    yield

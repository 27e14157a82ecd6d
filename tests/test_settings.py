"""atlascope.settings: ATLASCOPE_* seconds and bytes, and sizes read and written in one unit convention."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from atlascope import retrieval
from atlascope.cli import main
from atlascope.errors import InvalidInputError
from atlascope.settings import env_bytes, env_flag, env_seconds, format_size, parse_size


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 KB"),
        (123_456, "123.5 KB"),
        (2 * 10**9, "2.0 GB"),
        (1.5e12, "1.5 TB"),
        (4 * 1024**3, "4.3 GB"),
        (5e18, "5000.0 PB"),
    ],
)
def test_format_size_uses_the_decimal_units_parse_size_reads(n, text):
    assert format_size(n) == text


@given(st.integers(min_value=1000, max_value=10**18))
def test_format_size_round_trips_within_five_percent(n):
    assert abs(parse_size(format_size(n).replace(" ", "")) - n) <= 0.05 * n


def test_env_seconds(monkeypatch):
    monkeypatch.delenv("ATLASCOPE_TEST_SECONDS", raising=False)
    assert env_seconds("ATLASCOPE_TEST_SECONDS", 7.0) == 7.0
    monkeypatch.setenv("ATLASCOPE_TEST_SECONDS", " 2.5 ")
    assert env_seconds("ATLASCOPE_TEST_SECONDS", 7.0) == 2.5
    for bad in ("0", "-1", "inf", "nan", "soon"):
        monkeypatch.setenv("ATLASCOPE_TEST_SECONDS", bad)
        with pytest.raises(InvalidInputError, match="ATLASCOPE_TEST_SECONDS=.*positive number of seconds"):
            env_seconds("ATLASCOPE_TEST_SECONDS", 7.0)


def test_env_bytes(monkeypatch):
    monkeypatch.delenv("ATLASCOPE_TEST_BYTES", raising=False)
    assert env_bytes("ATLASCOPE_TEST_BYTES", 1024) == 1024
    for text, expected in (("4096", 4096), ("1e9", 10**9), ("2GiB", 2 * 1024**3), ("1.5 GB", 1_500_000_000)):
        monkeypatch.setenv("ATLASCOPE_TEST_BYTES", text)
        assert env_bytes("ATLASCOPE_TEST_BYTES", 1024) == expected
    for bad in ("0", "-5", "inf", "nan", "lots", "3 parsecs"):
        monkeypatch.setenv("ATLASCOPE_TEST_BYTES", bad)
        with pytest.raises(InvalidInputError, match="ATLASCOPE_TEST_BYTES=.*is not a positive number of bytes"):
            env_bytes("ATLASCOPE_TEST_BYTES", 1024)


def test_env_flag(monkeypatch):
    for text, expected in (("1", True), ("TRUE", True), (" yes ", True), ("on", True), ("0", False), ("", False)):
        monkeypatch.setenv("ATLASCOPE_TEST_FLAG", text)
        assert env_flag("ATLASCOPE_TEST_FLAG") is expected
    monkeypatch.delenv("ATLASCOPE_TEST_FLAG")
    assert env_flag("ATLASCOPE_TEST_FLAG") is False


def test_parse_size_is_reexported_by_retrieval():
    assert retrieval.parse_size is parse_size


def test_cli_prune_echoes_the_limit_it_read(tmp_path, monkeypatch):
    monkeypatch.setenv("ATLASCOPE_CACHE", str(tmp_path / "cache"))
    res = CliRunner().invoke(main, ["cache", "prune", "--max-size", "2GB"])
    assert res.exit_code == 0, res.output
    assert "limit 2.0 GB." in res.output
    res = CliRunner().invoke(main, ["cache", "prune", "--max-size", "1.5GiB"])
    assert res.exit_code == 0, res.output
    assert "limit 1.6 GB." in res.output

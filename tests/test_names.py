"""The word rule of name matching, /regex/ specs, hemisphere suffixes, versions."""

from __future__ import annotations

import pytest

from atlascope.core.names import (
    closest,
    compile_regex,
    is_regex,
    matches_loosely,
    matches_words,
    normalize_hemisphere,
    version_key,
    words,
)

NAME = "Area hOc1 (V1, 17, CalcS) left"


@pytest.mark.parametrize(
    "spec",
    [
        "hOc1 left",
        "HOC1 LEFT",
        "  hoc1    left ",
        "left hOc1",  # word order does not matter
        "(V1) left",
        "v1, 17",
        "calcs",
        "Area hOc1 (V1, 17, CalcS) left",
        "area   hoc1 (v1,17,calcs)   left",
    ],
)
def test_word_rule_forgives_case_spacing_and_punctuation(spec):
    assert matches_words(spec, [NAME])


@pytest.mark.parametrize("spec", ["hOc1 right", "hOc", "V", "hOc1 left x", "Oc1", "17 CalcS right"])
def test_every_spec_word_must_equal_a_whole_word(spec):
    assert not matches_words(spec, [NAME])


def test_words_split_outside_alnum_dot_hyphen():
    assert words("Area TE 1.0 (HESCHL)") == ("area", "te", "1.0", "heschl")
    assert words("GM_Visual-cortex/V1") == ("gm", "visual-cortex", "v1")
    # trailing dots/hyphens are not part of the word
    assert words("17, area.") == ("17", "area")
    assert words("") == ()


def test_dotted_and_hyphenated_words_stay_whole():
    assert matches_words("TE 1.0", ["Area TE 1.0 (HESCHL) left"])
    assert not matches_words("TE 1", ["Area TE 1.0 (HESCHL) left"])
    assert matches_words("hippocampal-amygdaloid", ["GM Hippocampus hippocampal-amygdaloid transition area"])


def test_exact_name_matches_even_with_only_separators():
    assert matches_words("Broca's area BA44", ["GM Broca's area BA44"])
    assert not matches_words("", [NAME])
    assert not matches_words("   ", [NAME])


def test_regex_spec():
    assert is_regex("/hOc[12]/")
    assert is_regex("/hoc1/i")
    assert not is_regex("hOc1")
    assert not is_regex("/")
    assert matches_words("/hOc[12] .*left/", [NAME])
    assert not matches_words("/hoc1/", [NAME])  # case-sensitive without the i flag
    assert matches_words("/hoc1/i", [NAME])
    assert not matches_words("/^left/", [NAME])
    assert compile_regex("/a.b/s").flags & __import__("re").DOTALL
    with pytest.raises(ValueError):
        compile_regex("not a regex")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Area 44 (IFG) - left hemisphere", "Area 44 (IFG) left"),
        ("Area 44 (IFG) - Right Hemisphere", "Area 44 (IFG) right"),
        ("Area 44 (IFG)-left hemisphere", "Area 44 (IFG) left"),
        ("Area 44 (IFG)   -   right   hemisphere  ", "Area 44 (IFG) right"),
        ("Area 44 (IFG) left", "Area 44 (IFG) left"),
        ("left hemisphere", "left hemisphere"),  # no dash: not a suffix
    ],
)
def test_hemisphere_suffix_normalisation(raw, expected):
    assert normalize_hemisphere(raw) == expected


def test_loose_rule_for_spaces_and_parcellations():
    name = "MNI 152 ICBM 2009c Nonlinear Asymmetric"
    assert matches_loosely("mni152", "ICBM 2009c nonl asym", name)
    assert matches_loosely("MNI152 2009c", "ICBM 2009c nonl asym", name)
    assert matches_loosely("icbm asym", "ICBM 2009c nonl asym", name)
    assert not matches_loosely("colin", "ICBM 2009c nonl asym", name)
    assert not matches_loosely("mni152 2009a", "ICBM 2009c nonl asym", name)
    assert matches_loosely("colin27", "MNI Colin 27", "MNI Colin 27")
    assert matches_loosely("julich fsl", "Julich-Brain FSL histological", "x", ["Julich FSL"])
    assert not matches_loosely("", "a", "b")


def test_closest_suggests_similar_names():
    names = ["GM Visual cortex V1 BA17 left", "GM Visual cortex V2 BA18 left", "GM Broca's area BA44 left"]
    hints = closest("Visual cortex V1 BA71 left", names)
    assert hints and hints[0] == "GM Visual cortex V1 BA17 left"
    assert "GM Broca's area BA44 left" in closest("broca", names)
    assert closest("zzzzqqq", names) == []
    assert len(closest("left", names, n=2)) <= 2


@pytest.mark.parametrize(
    "older, newer",
    [
        ("2.9", "3.0.3"),
        ("3.0", "3.0.3"),
        ("1.18", "2.4"),
        ("v2.9", "v3.1"),
        (None, "1.0"),
        ("3.0.2", "3.0.10"),
    ],
)
def test_version_key_orders_numerically(older, newer):
    assert version_key(older) < version_key(newer)

# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""schema_nodes.cast: the one caster every module and filter uses for survey-style values."""

import pytest

from ansible_collections.embedserve.vllm.plugins.module_utils.schema_nodes import cast


class Refused(ValueError):
    pass


@pytest.mark.parametrize("value, kind, expected", [
    ("2", int, 2), (2.0, int, 2), (" 7 ", int, 7), (3, int, 3),
    ("0.5", float, 0.5), (1, float, 1.0),
    ("true", bool, True), ("no", bool, False), (1, bool, True), (True, bool, True),
    (12, str, "12"), ("x", str, "x"),
    ({"a": 1}, dict, {"a": 1}), ([1], list, [1]),
])
def test_survey_values_are_cast(value, kind, expected):
    result = cast(value, kind, "field")
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("value, kind, message", [
    ("lots", int, "replicas must be an integer, got 'lots'"),
    (2.5, int, "replicas must be an integer, got 2.5"),
    (True, int, "replicas must be an integer, got True"),
    ("nan", float, "replicas must be a number, got 'nan'"),
    ("inf", float, "replicas must be a number, got 'inf'"),
    ("maybe", bool, "replicas must be a boolean, got 'maybe'"),
    (2.5, bool, "replicas must be a boolean, got 2.5"),
    (True, str, "replicas must be a string, got True"),
    ("a\nb", str, "replicas must be a string"),
    ("x", dict, "replicas must be a mapping, got 'x'"),
    ({}, list, "replicas must be a list, got {}"),
])
def test_wrong_types_are_refused_with_the_callers_error(value, kind, message):
    with pytest.raises(Refused) as caught:
        cast(value, kind, "replicas", error=Refused)
    assert str(caught.value).startswith(message)


def test_bounds_are_part_of_the_message():
    assert cast("4", int, "concurrency", minimum=1, maximum=256) == 4
    with pytest.raises(ValueError, match="concurrency must be an integer between 1 and 256, got 0"):
        cast(0, int, "concurrency", minimum=1, maximum=256)
    with pytest.raises(ValueError, match=r"margin must be a number between 0.0 and 0.9, got '0.95'"):
        cast("0.95", float, "margin", minimum=0.0, maximum=0.9)


def test_a_huge_value_is_shown_bounded():
    with pytest.raises(ValueError) as caught:
        cast("x" * 100000, int, "replicas")
    assert len(str(caught.value)) < 200

"""The request contract, without a model: content types, JSON Lines line rules, labels,
templates and limits, each with a message that names the problem."""

from __future__ import annotations

import json

import pytest
from request_contract import (
    JsonLinesRequest,
    JsonRequest,
    RequestError,
    body_format,
    max_candidate_labels_from_env,
    parse_request,
)

PARAMETERS = {"candidate_labels": ["a", "b"]}


def _parse(body: str | bytes, content_type: str = "application/json") -> object:
    return parse_request(body=body, content_type=content_type, max_candidate_labels=50)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", "json"),
        ("Application/JSON; charset=UTF-8", "json"),
        ("application/jsonlines", "jsonlines"),
        ("application/jsonlines;charset=utf-8", "jsonlines"),
        ("application/x-jsonlines", "jsonlines"),
    ],
)
def test_supported_content_types(content_type: str, expected: str) -> None:
    assert body_format(content_type) == expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/csv", "Content-Type 'text/csv' is not supported"),
        ("application/json; charset=latin-1", "charset 'latin-1' is not supported"),
        ("", "Content-Type header is missing"),
    ],
)
def test_unsupported_content_types(content_type: str, expected: str) -> None:
    with pytest.raises(RequestError, match=expected):
        body_format(content_type)


def test_defaults_and_comma_separated_labels() -> None:
    parsed = _parse(json.dumps({"inputs": "t", "parameters": {"candidate_labels": " x ,y,, z "}}))
    assert isinstance(parsed, JsonRequest)
    [task] = parsed.tasks
    assert task.parameters.candidate_labels == ("x", "y", "z")
    assert task.parameters.multi_label is False
    assert task.parameters.hypothesis_template == "This example is {}."
    assert parsed.inputs_is_list is False


def test_bom_and_bytes_bodies_are_accepted() -> None:
    body = ("\ufeff" + json.dumps({"inputs": ["é"], "parameters": PARAMETERS})).encode()
    parsed = _parse(body, "application/json; charset=utf-8")
    assert isinstance(parsed, JsonRequest)
    assert parsed.inputs_is_list is True
    assert parsed.tasks[0].text == "é"


def test_label_limit_comes_from_the_environment() -> None:
    assert max_candidate_labels_from_env({}) == 50
    assert max_candidate_labels_from_env({"ZSTC_MAX_CANDIDATE_LABELS": "3"}) == 3
    with pytest.raises(ValueError, match=r"ZSTC_MAX_CANDIDATE_LABELS='many' is not allowed"):
        max_candidate_labels_from_env({"ZSTC_MAX_CANDIDATE_LABELS": "many"})
    body = json.dumps({"inputs": "t", "parameters": {"candidate_labels": ["a", "b", "c", "d"]}})
    with pytest.raises(RequestError, match="4 labels, more than the limit of 3"):
        parse_request(body=body, content_type="application/json", max_candidate_labels=3)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["a", 1], r'candidate_labels"\[1\] must be a string'),
        (["a", "  "], r'candidate_labels"\[1\] is empty'),
        ({"a": 1}, "must be a list of strings or a comma-separated string"),
        (["Health", "Career", "Health"], r"duplicate labels \['Health'\]"),
    ],
)
def test_bad_labels(labels: object, expected: str) -> None:
    with pytest.raises(RequestError, match=expected):
        _parse(json.dumps({"inputs": "t", "parameters": {"candidate_labels": labels}}))


@pytest.mark.parametrize("template", ["No slot", "{label}", "{1}", 5])
def test_template_must_take_the_label(template: object) -> None:
    body = json.dumps(
        {"inputs": "t", "parameters": {**PARAMETERS, "hypothesis_template": template}}
    )
    with pytest.raises(RequestError, match="hypothesis_template"):
        _parse(body)


def test_json_lines_keeps_one_record_per_line_and_ignores_only_the_final_newline() -> None:
    good = json.dumps({"id": 1, "inputs": "t", "parameters": PARAMETERS})
    parsed = _parse(f"{good}\n\n  \n{good}\n", "application/jsonlines")
    assert isinstance(parsed, JsonLinesRequest)
    assert [record.error is None for record in parsed.records] == [True, False, False, True]
    assert parsed.records[1].error == "blank line"


def test_json_lines_split_only_at_newlines() -> None:
    # U+2028 is legal unescaped inside a JSON string; it must not split the record.
    line = '{"inputs": "a\u2028b", "parameters": {"candidate_labels": ["x", "y"]}}'
    parsed = _parse(line, "application/jsonlines")
    assert isinstance(parsed, JsonLinesRequest)
    [record] = parsed.records
    assert record.task is not None
    assert record.task.text == "a\u2028b"


def test_json_lines_error_keeps_the_id_when_the_line_is_an_object() -> None:
    line = json.dumps({"id": "r1", "inputs": "t", "parameters": {"candidate_labels": []}})
    parsed = _parse(line, "application/jsonlines")
    assert isinstance(parsed, JsonLinesRequest)
    [record] = parsed.records
    assert record.record_id == "r1"
    assert record.error is not None
    assert "candidate_labels" in record.error


def test_empty_json_lines_body_is_a_request_error() -> None:
    with pytest.raises(RequestError, match="no JSON Lines records"):
        _parse(b"", "application/jsonlines")

"""Local JSONL validation: bad lines by number and reason, refused or fixed as the user chooses."""

from __future__ import annotations

import json

from zstc.batch.jsonl_validation import validate_lines

LABELS = ["Health", "Career"]
GOOD = json.dumps({"id": 1, "inputs": "run a marathon", "parameters": {"candidate_labels": LABELS}})


def _line(**record: object) -> str:
    return json.dumps(record)


def test_valid_file_passes_unchanged_byte_for_byte() -> None:
    # Spacing and key order as the user wrote them: nothing is rewritten without a reason.
    odd_but_valid = '{"inputs":"x",  "parameters":{"candidate_labels":"a, b"}, "id":"k"}'
    result = validate_lines([GOOD, odd_but_valid])
    assert not result.problems and not result.refused
    assert result.lines == [GOOD, odd_but_valid]


def test_each_bad_line_is_reported_with_its_number_and_reason() -> None:
    lines = [
        GOOD,
        "{not json",
        _line(inputs=["a", "b"], parameters={"candidate_labels": LABELS}),
        _line(text="typo for inputs", parameters={"candidate_labels": LABELS}),
        _line(inputs="x", parameters={"candidate_labels": LABELS, "hypothesis_template": "No"}),
        _line(inputs="x", parameters={"candidate_labels": LABELS, "multi_label": "yes"}),
        _line(inputs="x"),
        "[1, 2]",
        _line(inputs="", parameters={"candidate_labels": LABELS}),
        _line(inputs="x", parameters={"candidate_labels": LABELS, "multilabel": True}),
    ]
    result = validate_lines(lines)
    reasons = {problem.line_number: problem.reason for problem in result.problems}
    assert 1 not in reasons
    assert reasons[2].startswith("invalid JSON")
    # Every contract rule is the endpoint's own (request_contract.parse_json_line), message and all.
    assert '"inputs" must be a single string' in reasons[3]
    assert "unknown keys ['text']" in reasons[4]
    assert '"parameters.hypothesis_template"' in reasons[5] and "{}" in reasons[5]
    assert '"parameters.multi_label"' in reasons[6]
    assert "candidate_labels" in reasons[7] and "--labels" in reasons[7]
    assert "JSON object" in reasons[8]
    assert '"inputs" is an empty string' in reasons[9]
    assert "multilabel" in reasons[10]
    assert result.refused and result.lines == []


def test_too_many_labels_is_unfixable() -> None:
    many = [f"label{i}" for i in range(6)]
    line = _line(inputs="x", parameters={"candidate_labels": many})
    result = validate_lines([line], max_labels=5)
    assert result.problems[0].reason.startswith(
        '"parameters.candidate_labels" has 6 labels, more than the limit of 5'
    )
    assert not result.problems[0].fixable


def test_labels_flag_fills_lines_without_labels_and_is_not_a_problem() -> None:
    result = validate_lines([_line(id=7, inputs="save money")], default_labels=LABELS)
    assert not result.problems and not result.refused
    assert json.loads(result.lines[0]) == {
        "id": 7,
        "inputs": "save money",
        "parameters": {"candidate_labels": LABELS},
    }


def test_refuse_rejects_even_fixable_lines_and_fix_repairs_them() -> None:
    lines = [
        GOOD,
        _line(inputs="x", parameters={"candidate_labels": ["Health", "Health", " Career "]}),
        "",
        _line(inputs="y", parameters={"candidate_labels": ["a", "", "b"]}),
    ]
    refused = validate_lines(lines, policy="refuse")
    assert refused.refused and refused.lines == []
    assert [p.line_number for p in refused.problems] == [2, 3, 4]
    assert all(p.fixable for p in refused.problems)

    fixed = validate_lines(lines, policy="fix")
    assert not fixed.refused
    assert fixed.lines[0] == GOOD
    assert json.loads(fixed.lines[1])["parameters"]["candidate_labels"] == ["Health", "Career"]
    assert json.loads(fixed.lines[2])["parameters"]["candidate_labels"] == ["a", "b"]
    # The blank line is removed: one line fewer, nothing else lost.
    assert len(fixed.lines) == 3 and fixed.fixed_lines == 3


def test_fix_still_refuses_when_a_line_is_beyond_repair() -> None:
    result = validate_lines([GOOD, "{oops"], policy="fix")
    assert result.refused and result.lines == []
    assert [p.describe() for p in result.unfixable] == [
        "line 2: invalid JSON: Expecting property name enclosed in double quotes"
    ]


def test_drop_leaves_out_unrepairable_lines_and_keeps_the_order() -> None:
    second = _line(id=2, inputs="b", parameters={"candidate_labels": LABELS})
    result = validate_lines([GOOD, "{oops", second, _line(id=4)], policy="drop")
    assert not result.refused
    assert result.lines == [GOOD, second]
    assert result.dropped_lines == 2


def test_keep_uploads_unrepairable_lines_as_they_are_so_they_get_error_lines() -> None:
    result = validate_lines([GOOD, "{oops", _line(inputs="x")], policy="keep")
    assert not result.refused
    assert result.lines == [GOOD, "{oops", _line(inputs="x")]
    assert result.kept_bad_lines == 2

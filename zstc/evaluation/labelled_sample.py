"""Reads a labelled sample: batch-input JSON Lines plus each text's true label or labels.

Each line is a batch-input record ({"id", "inputs", "parameters"}, see DESIGN.md) with one more
field:
- "label": the one true label (single-label evaluation), or
- "labels": the list of true labels, possibly empty (multi-label evaluation; a file with any
  "labels" line is evaluated as multi-label, and its "label" lines count as one-label sets).

The batch-input part is checked by the same validation `zstc batch submit` runs
(zstc.batch.jsonl_validation), so a file that evaluates is a file that submits once its truth fields
are removed. Problems are reported by line number, all at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zstc.batch.jsonl_validation import DEFAULT_MAX_LABELS, LineProblem, check_line
from zstc.cli_errors import CliError

SINGLE_TRUTH_KEY = "label"
MULTI_TRUTH_KEY = "labels"
TRUTH_KEYS = (SINGLE_TRUTH_KEY, MULTI_TRUTH_KEY)
# The New Year's resolutions with their categories, shipped so `zstc eval` works out of the box.
BUNDLED_SAMPLE = (
    Path(__file__).resolve().parent.parent / "data" / "new_years_resolutions_labelled.jsonl"
)
# The same nine categories in Chinese, with Chinese resolutions: for multilingual models and
# templates (docs/multilingual.md).
BUNDLED_SAMPLE_ZH = BUNDLED_SAMPLE.with_name("new_years_resolutions_labelled_zh.jsonl")
# `zstc eval --sample NAME`: the bundled samples by language.
BUNDLED_SAMPLES = {"en": BUNDLED_SAMPLE, "zh": BUNDLED_SAMPLE_ZH}


@dataclass(frozen=True, kw_only=True)
class LabelledExample:
    line_number: int
    record_id: Any
    text: str
    true_labels: tuple[str, ...]
    # The line's own candidate labels (or the sample's), and its own template when it has one.
    candidate_labels: tuple[str, ...]
    template: str | None


@dataclass(frozen=True, kw_only=True)
class LabelledSample:
    path: Path
    examples: tuple[LabelledExample, ...]
    multi_label: bool
    # Every label the evaluation scores, in the order first seen (or as given with --labels).
    labels: tuple[str, ...]


def _truth(
    record: dict[str, Any], *, line_number: int
) -> tuple[tuple[str, ...] | None, list[LineProblem]]:
    """The true labels of one record, or the problems that make them unusable."""

    def problem(reason: str) -> tuple[None, list[LineProblem]]:
        return None, [LineProblem(line_number=line_number, reason=reason)]

    has_single = SINGLE_TRUTH_KEY in record
    has_multi = MULTI_TRUTH_KEY in record
    if has_single and has_multi:
        return problem("has both 'label' and 'labels'; give one")
    if not has_single and not has_multi:
        return problem(
            "missing field 'label' (the true label; or 'labels', a list, for multi-label)"
        )
    if has_single:
        value = record[SINGLE_TRUTH_KEY]
        if not isinstance(value, str) or not value.strip():
            return problem(f"'label' must be a non-empty string, got {json.dumps(value)}")
        return (value.strip(),), []
    values = record[MULTI_TRUTH_KEY]
    if not isinstance(values, list) or not all(
        isinstance(value, str) and value.strip() for value in values
    ):
        return problem(f"'labels' must be a list of non-empty strings, got {json.dumps(values)}")
    stripped = [value.strip() for value in values]
    if len(set(stripped)) != len(stripped):
        return problem(f"'labels' lists a label more than once: {json.dumps(values)}")
    return tuple(stripped), []


def _first_seen(truths: Sequence[tuple[str, ...] | None]) -> list[str]:
    seen: dict[str, None] = {}
    for truth in truths:
        for label in truth or ():
            seen.setdefault(label, None)
    return list(seen)


def describe_problems(
    problems: Sequence[LineProblem], *, total_lines: int, max_listed: int = 20
) -> str:
    """The problems by line number, then one summary line, as `zstc batch submit` prints them."""
    ordered = sorted(problems, key=lambda problem: problem.line_number)
    rows = [problem.describe() for problem in ordered[:max_listed]]
    if len(ordered) > max_listed:
        rows.append(f"... and {len(ordered) - max_listed} more problems")
    bad_lines = len({problem.line_number for problem in ordered})
    rows.append(f"{total_lines} lines checked, {bad_lines} with problems; nothing evaluated")
    return "\n".join(rows)


def parse_labelled_lines(
    lines: Sequence[str],
    *,
    path: Path,
    labels: Sequence[str] | None = None,
    max_labels: int = DEFAULT_MAX_LABELS,
) -> LabelledSample:
    """Validates every line; raises CliError (exit 2) listing every bad line by number."""
    if not lines:
        raise CliError(f"{path}: the file has no lines", exit_code=2)
    records: list[dict[str, Any] | None] = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        records.append(record if isinstance(record, dict) else None)
    truths: list[tuple[str, ...] | None] = []
    problems: list[LineProblem] = []
    for line_number, record in enumerate(records, start=1):
        truth, truth_problems = (
            (None, []) if record is None else _truth(record, line_number=line_number)
        )
        truths.append(truth)
        problems.extend(truth_problems)
    sample_labels = list(labels) if labels else _first_seen(truths)
    multi_label = any(record is not None and MULTI_TRUTH_KEY in record for record in records)
    examples = []
    for line_number, (line, record, truth) in enumerate(
        zip(lines, records, truths, strict=True), start=1
    ):
        # The batch-input part goes through `zstc batch submit`'s own check; a line that is
        # not an object is checked as written, so the message names what is wrong with it.
        request_line = line
        if record is not None:
            request = {key: value for key, value in record.items() if key not in TRUTH_KEYS}
            request_line = json.dumps(request, ensure_ascii=False)
        checked = check_line(
            request_line,
            line_number=line_number,
            default_labels=sample_labels or None,
            max_labels=max_labels,
        )
        problems.extend(checked.problems)
        if checked.problems or checked.repaired is None or truth is None:
            continue
        parameters = checked.repaired["parameters"]
        candidates = tuple(label.strip() for label in _as_list(parameters["candidate_labels"]))
        missing = [label for label in truth if label not in candidates]
        if missing:
            reason = (
                f"true label(s) {', '.join(repr(label) for label in missing)} not among the "
                f"candidate labels {list(candidates)}, so no model could get it right"
            )
            problems.append(LineProblem(line_number=line_number, reason=reason))
            continue
        examples.append(
            LabelledExample(
                line_number=line_number,
                record_id=checked.repaired.get("id"),
                text=checked.repaired["inputs"],
                true_labels=truth,
                candidate_labels=candidates,
                template=parameters.get("hypothesis_template"),
            )
        )
    if problems:
        raise CliError(
            f"{path}: bad lines\n{describe_problems(problems, total_lines=len(lines))}", exit_code=2
        )
    every_label = dict.fromkeys(sample_labels)
    for example in examples:
        every_label.update(dict.fromkeys(example.candidate_labels))
    return LabelledSample(
        path=path, examples=tuple(examples), multi_label=multi_label, labels=tuple(every_label)
    )


def _as_list(labels: list[str] | str) -> list[str]:
    """candidate_labels as the contract allows them: a list, or one comma-separated string."""
    return labels.split(",") if isinstance(labels, str) else labels


def read_labelled_sample(
    path: Path, *, labels: Sequence[str] | None = None, max_labels: int = DEFAULT_MAX_LABELS
) -> LabelledSample:
    from zstc.local.batch import read_input_lines

    if not path.is_file():
        raise CliError(f"FILE: {path} does not exist or is not a file", exit_code=2)
    return parse_labelled_lines(
        read_input_lines(path), path=path, labels=labels, max_labels=max_labels
    )

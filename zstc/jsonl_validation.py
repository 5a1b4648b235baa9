"""Checks a JSON Lines batch against the request contract before anything is uploaded.

The checks are a small, independent copy of what the inference code enforces (nothing is shared
across the container boundary): a job that would only answer error lines is caught on the
user's machine, with line numbers, before it costs instance time.

What happens to bad lines is the user's choice (--on-bad-lines):
- refuse: upload nothing unless every line is valid as written (the default);
- fix:    repair what can be repaired without guessing (fill labels from --labels, strip and
          de-duplicate labels, remove blank lines); refuse if any line is beyond repair;
- drop:   repair what can be repaired and leave out the lines beyond repair;
- keep:   repair what can be repaired and upload the rest as is; the job answers each of those
          lines with an error line in its position.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

BadLinePolicy = Literal["refuse", "fix", "drop", "keep"]
BAD_LINE_POLICIES: tuple[BadLinePolicy, ...] = ("refuse", "fix", "drop", "keep")
DEFAULT_MAX_LABELS = 50
RECORD_KEYS = ("id", "inputs", "parameters")
PARAMETER_KEYS = ("candidate_labels", "multi_label", "hypothesis_template")


@dataclass(frozen=True, kw_only=True)
class LineProblem:
    line_number: int
    reason: str
    # A fixable problem has a repair that changes no meaning; `repair` says what it does.
    repair: str | None = None

    @property
    def fixable(self) -> bool:
        return self.repair is not None

    def describe(self) -> str:
        suffix = f" (fix: {self.repair})" if self.repair else ""
        return f"line {self.line_number}: {self.reason}{suffix}"


@dataclass(kw_only=True)
class ValidationResult:
    """The lines to upload (without newlines) and every problem found, by line number."""

    policy: BadLinePolicy
    total_lines: int
    lines: list[str] = field(default_factory=list)
    problems: list[LineProblem] = field(default_factory=list)
    fixed_lines: int = 0
    dropped_lines: int = 0
    kept_bad_lines: int = 0
    refused: bool = False

    @property
    def unfixable(self) -> list[LineProblem]:
        return [problem for problem in self.problems if not problem.fixable]


@dataclass
class _Checked:
    problems: list[LineProblem]
    repaired: dict[str, Any] | None


def _check_labels(
    record: dict[str, Any],
    parameters: dict[str, Any],
    *,
    line_number: int,
    default_labels: list[str] | None,
    max_labels: int,
) -> tuple[list[LineProblem], list[str] | None]:
    """Returns the problems with candidate_labels and, when repairable, the repaired labels."""
    problems: list[LineProblem] = []
    raw = parameters.get("candidate_labels")
    if raw is None or raw == [] or (isinstance(raw, str) and not raw.strip()):
        what = "missing" if raw is None else "empty"
        if default_labels is None:
            reason = f"'parameters.candidate_labels' is {what} (add labels, or pass --labels)"
            return [LineProblem(line_number=line_number, reason=reason)], None
        if raw is None:
            # Filling labels the user gave with --labels is the flag's purpose, not a repair.
            return [], list(default_labels)
        reason = "'parameters.candidate_labels' is empty"
        return [LineProblem(line_number=line_number, reason=reason, repair="use --labels")], list(
            default_labels
        )
    if isinstance(raw, str):
        labels: list[Any] = raw.split(",")
    elif isinstance(raw, list):
        labels = raw
    else:
        reason = (
            "'parameters.candidate_labels' must be a list of strings or a comma-separated "
            f"string, got {type(raw).__name__}"
        )
        return [LineProblem(line_number=line_number, reason=reason)], None
    if not all(isinstance(label, str) for label in labels):
        reason = "'parameters.candidate_labels' must hold only strings"
        return [LineProblem(line_number=line_number, reason=reason)], None
    cleaned: list[str] = []
    for label in labels:
        stripped = label.strip()
        if stripped and stripped not in cleaned:
            cleaned.append(stripped)
    if not cleaned:
        reason = "'parameters.candidate_labels' has only empty labels"
        return [LineProblem(line_number=line_number, reason=reason)], None
    stripped_all = [label.strip() for label in labels]
    if any(not label for label in stripped_all):
        problems.append(
            LineProblem(
                line_number=line_number,
                reason="'parameters.candidate_labels' has an empty label",
                repair="remove it",
            )
        )
    duplicates = sorted({lab for lab in stripped_all if lab and stripped_all.count(lab) > 1})
    if duplicates:
        problems.append(
            LineProblem(
                line_number=line_number,
                reason=f"duplicate label(s) {', '.join(repr(d) for d in duplicates)}",
                repair="keep the first of each",
            )
        )
    if len(cleaned) > max_labels:
        reason = f"{len(cleaned)} candidate labels; at most {max_labels} are allowed"
        return [LineProblem(line_number=line_number, reason=reason)], None
    return problems, cleaned


def check_line(
    line: str, *, line_number: int, default_labels: list[str] | None, max_labels: int
) -> _Checked:
    """Checks one line; `repaired` is the record to upload when all problems are fixable."""
    if not line.strip():
        blank = LineProblem(line_number=line_number, reason="blank line", repair="remove it")
        return _Checked([blank], None)
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return _Checked(
            [LineProblem(line_number=line_number, reason=f"invalid JSON: {error.msg}")], None
        )
    if not isinstance(record, dict):
        reason = f"expected a JSON object, got {type(record).__name__}"
        return _Checked([LineProblem(line_number=line_number, reason=reason)], None)
    problems: list[LineProblem] = []
    inputs = record.get("inputs")
    if "inputs" not in record:
        problems.append(LineProblem(line_number=line_number, reason="missing field 'inputs'"))
    elif not isinstance(inputs, str):
        reason = f"'inputs' must be one string per line, got {type(inputs).__name__}"
        problems.append(LineProblem(line_number=line_number, reason=reason))
    elif not inputs:
        problems.append(LineProblem(line_number=line_number, reason="'inputs' is empty"))
    # The endpoint rejects unknown keys, since a typo such as "multilabel" would otherwise
    # silently fall back to the default.
    unknown = sorted(set(record) - set(RECORD_KEYS))
    if unknown:
        reason = f"unknown keys {unknown}; allowed: {', '.join(RECORD_KEYS)}"
        problems.append(LineProblem(line_number=line_number, reason=reason))
    parameters = record.get("parameters", {})
    if not isinstance(parameters, dict):
        reason = f"'parameters' must be an object, got {type(parameters).__name__}"
        problems.append(LineProblem(line_number=line_number, reason=reason))
        return _Checked(problems, None)
    unknown = sorted(set(parameters) - set(PARAMETER_KEYS))
    if unknown:
        reason = f"unknown keys {unknown} in 'parameters'; allowed: {', '.join(PARAMETER_KEYS)}"
        problems.append(LineProblem(line_number=line_number, reason=reason))
    template = parameters.get("hypothesis_template")
    if template is not None and (not isinstance(template, str) or "{}" not in template):
        reason = f"'parameters.hypothesis_template' {template!r} has no '{{}}' for the label"
        problems.append(LineProblem(line_number=line_number, reason=reason))
    multi_label = parameters.get("multi_label")
    if multi_label is not None and not isinstance(multi_label, bool):
        reason = f"'parameters.multi_label' must be true or false, got {multi_label!r}"
        problems.append(LineProblem(line_number=line_number, reason=reason))
    label_problems, labels = _check_labels(
        record,
        parameters,
        line_number=line_number,
        default_labels=default_labels,
        max_labels=max_labels,
    )
    problems.extend(label_problems)
    if labels is None or any(not problem.fixable for problem in problems):
        return _Checked(problems, None)
    if parameters.get("candidate_labels") is None or problems:
        repaired = dict(record)
        repaired["parameters"] = {**parameters, "candidate_labels": labels}
        return _Checked(problems, repaired)
    return _Checked(problems, record)


def validate_lines(
    lines: Iterable[str],
    *,
    policy: BadLinePolicy = "refuse",
    default_labels: list[str] | None = None,
    max_labels: int = DEFAULT_MAX_LABELS,
) -> ValidationResult:
    """Validates every line and applies the bad-line policy; never raises on bad content."""
    if policy not in BAD_LINE_POLICIES:
        raise ValueError(f"policy: {policy!r} is not one of {', '.join(BAD_LINE_POLICIES)}")
    result = ValidationResult(policy=policy, total_lines=0)
    for line_number, raw_line in enumerate(lines, start=1):
        line = raw_line.rstrip("\r\n")
        result.total_lines += 1
        checked = check_line(
            line, line_number=line_number, default_labels=default_labels, max_labels=max_labels
        )
        result.problems.extend(checked.problems)
        if not checked.problems:
            # Valid as written: keep the user's bytes, unless labels were filled from --labels.
            record = checked.repaired
            filled = record is not None and json.loads(line) != record
            result.lines.append(json.dumps(record, ensure_ascii=False) if filled else line)
            continue
        if checked.repaired is not None or not line.strip():
            result.fixed_lines += 1
            if checked.repaired is not None:
                result.lines.append(json.dumps(checked.repaired, ensure_ascii=False))
            continue
        if policy == "keep":
            result.kept_bad_lines += 1
            result.lines.append(line)
        else:
            result.dropped_lines += 1
    if policy == "refuse":
        result.refused = bool(result.problems)
    elif policy == "fix":
        result.refused = bool(result.unfixable)
    if result.refused:
        result.lines = []
    return result


def format_report(result: ValidationResult, *, max_listed: int = 20) -> str:
    """The problems by line number, then one summary line."""
    rows = [problem.describe() for problem in result.problems[:max_listed]]
    if len(result.problems) > max_listed:
        rows.append(f"... and {len(result.problems) - max_listed} more problems")
    bad_lines = len({problem.line_number for problem in result.problems})
    summary = f"{result.total_lines} lines checked, {bad_lines} with problems"
    if result.fixed_lines:
        summary += f", {result.fixed_lines} repaired"
    if result.dropped_lines and not result.refused:
        summary += f", {result.dropped_lines} left out"
    if result.kept_bad_lines:
        summary += f", {result.kept_bad_lines} uploaded as is (they will get error lines)"
    if result.refused:
        summary = f"{result.total_lines} lines checked, {bad_lines} with problems; nothing uploaded"
    rows.append(summary)
    return "\n".join(rows)

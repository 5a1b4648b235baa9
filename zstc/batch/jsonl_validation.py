"""Checks a JSON Lines batch against the request contract before anything is uploaded.

The verdict on each line is the endpoint's own: inference_code/request_contract.py's
`parse_json_line`, loaded from the one copy that also goes into model.tar.gz
(zstc/bundled_code.py). So a line passes here exactly when the endpoint would classify it, and
a job that would only answer error lines is caught on the user's machine, with line numbers,
before it costs instance time. On top of that verdict the client adds what only it can do:
fill labels from --labels, offer repairs that change no meaning, and refuse values the
endpoint cannot echo back as JSON (NaN, Infinity, numbers out of range).

What happens to bad lines is the user's choice (--on-bad-lines):
- refuse: upload nothing unless every line is valid as written (the default);
- fix:    repair what can be repaired without guessing (fill labels from --labels, strip and
          de-duplicate labels, remove blank lines); refuse if any line is beyond repair;
- drop:   repair what can be repaired and leave out the lines beyond repair;
- keep:   repair what can be repaired and upload the rest as is; the job answers each of those
          lines with an error line in its position.
When lines are left out (a removed blank line, a dropped line), every line without an "id" gets
its input line number as id, so each result still maps to its input line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from zstc.bundled_code import request_contract

BadLinePolicy = Literal["refuse", "fix", "drop", "keep"]
BAD_LINE_POLICIES: tuple[BadLinePolicy, ...] = ("refuse", "fix", "drop", "keep")
DEFAULT_MAX_LABELS = 50


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
    ids_added: int = 0
    refused: bool = False

    @property
    def valid_lines(self) -> int:
        """Lines to upload that the endpoint will classify (kept bad lines are not valid)."""
        return len(self.lines) - self.kept_bad_lines

    @property
    def unfixable(self) -> list[LineProblem]:
        return [problem for problem in self.problems if not problem.fixable]


@dataclass
class _Checked:
    problems: list[LineProblem]
    repaired: dict[str, Any] | None
    # True when `repaired` differs from the line as written (labels filled or tidied).
    changed: bool = False


class _NotJson(ValueError):
    """A value that Python's json module accepts but JSON (RFC 8259) and the endpoint do not."""


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number; use a string or a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"the number {text[:40]} is out of range for a 64-bit float")
    return value


def strict_json_loads(line: str) -> Any:
    """json.loads, refusing NaN, Infinity and numbers that overflow (1e999)."""
    return json.loads(line, parse_constant=_reject_constant, parse_float=_finite_float)


def _parse(line: str, *, line_number: int) -> tuple[Any, LineProblem | None]:
    """The line's JSON value, or the problem that stops it from being parsed; never raises."""
    try:
        return strict_json_loads(line), None
    except json.JSONDecodeError as error:
        reason = f"invalid JSON: {error.msg}"
    except _NotJson as error:
        reason = f"invalid JSON: {error}"
    except RecursionError:
        reason = "invalid JSON: nested deeper than a JSON parser can follow"
    except ValueError as error:
        # Python refuses to convert integers of more than sys.get_int_max_str_digits() digits.
        reason = f"invalid JSON: a number is too long ({str(error)[:80]})"
    return None, LineProblem(line_number=line_number, reason=reason)


def _label_repairs(
    labels: Any, *, line_number: int, default_labels: list[str] | None
) -> tuple[list[LineProblem], Any]:
    """Fills or tidies candidate_labels; returns the problems found and the labels to send."""
    missing = labels is None
    empty = labels == [] or (isinstance(labels, str) and not labels.strip())
    if missing or empty:
        if default_labels is None:
            what = "missing" if missing else "empty"
            reason = f"'parameters.candidate_labels' is {what} (add labels, or pass --labels)"
            return [LineProblem(line_number=line_number, reason=reason)], labels
        if missing:
            # Filling labels the user gave with --labels is the flag's purpose, not a repair.
            return [], list(default_labels)
        reason = "'parameters.candidate_labels' is empty"
        return [LineProblem(line_number=line_number, reason=reason, repair="use --labels")], list(
            default_labels
        )
    if not isinstance(labels, list | str):
        return [], labels
    raw = labels.split(",") if isinstance(labels, str) else labels
    if not all(isinstance(label, str) for label in raw):
        return [], labels
    stripped = [label.strip() for label in raw]
    cleaned = list(dict.fromkeys(label for label in stripped if label))
    problems = []
    if any(not label for label in stripped) and cleaned:
        problems.append(
            LineProblem(
                line_number=line_number,
                reason="'parameters.candidate_labels' has an empty label",
                repair="remove it",
            )
        )
    duplicates = sorted({label for label in stripped if label and stripped.count(label) > 1})
    if duplicates:
        problems.append(
            LineProblem(
                line_number=line_number,
                reason=f"duplicate label(s) {', '.join(repr(d) for d in duplicates)}",
                repair="keep the first of each",
            )
        )
    return problems, (cleaned if problems else labels)


def _endpoint_verdict(record: dict[str, Any], *, line_number: int, max_labels: int) -> str | None:
    """The endpoint's own error for this record, or None when it would classify it.

    Besides parsing the line, the hypotheses are built with the endpoint's own code
    (ClassificationParameters.hypotheses), so a template that fails only for some label fails
    here too, not later in the job.
    """
    text = json.dumps(record, ensure_ascii=False)
    try:
        parsed = request_contract().parse_json_line(line=text, max_candidate_labels=max_labels)
        if parsed.task is not None:
            parsed.task.parameters.hypotheses()
    except Exception as error:  # any failure is this line's problem, never a crash
        parameters = record.get("parameters")
        template = parameters.get("hypothesis_template") if isinstance(parameters, dict) else None
        if template is not None:
            return (
                f"'parameters.hypothesis_template' {str(template)[:80]!r} cannot be filled with "
                f"every label ({type(error).__name__}); use {{}} where the label goes"
            )
        return (
            f"the endpoint cannot classify this line ({type(error).__name__}); it would answer "
            "it with an error line"
        )
    error_message: str | None = parsed.error
    return error_message


def check_line(
    line: str, *, line_number: int, default_labels: list[str] | None, max_labels: int
) -> _Checked:
    """Checks one line; `repaired` is the record to upload when all problems are fixable."""
    if not line.strip():
        blank = LineProblem(line_number=line_number, reason="blank line", repair="remove it")
        return _Checked([blank], None)
    record, parse_problem = _parse(line, line_number=line_number)
    if parse_problem is not None:
        return _Checked([parse_problem], None)
    if not isinstance(record, dict):
        reason = f"expected a JSON object, got {type(record).__name__}"
        return _Checked([LineProblem(line_number=line_number, reason=reason)], None)
    problems: list[LineProblem] = []
    repaired = record
    parameters = record.get("parameters")
    if parameters is None or isinstance(parameters, dict):
        parameters = parameters or {}
        label_problems, labels = _label_repairs(
            parameters.get("candidate_labels"),
            line_number=line_number,
            default_labels=default_labels,
        )
        problems.extend(label_problems)
        if labels is not parameters.get("candidate_labels"):
            repaired = {**record, "parameters": {**parameters, "candidate_labels": labels}}
    if any(not problem.fixable for problem in problems):
        return _Checked(problems, None)
    verdict = _endpoint_verdict(repaired, line_number=line_number, max_labels=max_labels)
    if verdict is not None:
        problems.append(LineProblem(line_number=line_number, reason=verdict))
        return _Checked(problems, None)
    return _Checked(problems, repaired, changed=repaired is not record)


def _with_line_number_id(line: str, *, line_number: int) -> str:
    try:
        record = strict_json_loads(line)
    except (ValueError, RecursionError):
        return line  # a bad line kept as is (--on-bad-lines keep) stays as the user wrote it
    if not isinstance(record, dict) or "id" in record:
        return line
    return json.dumps({"id": line_number, **record}, ensure_ascii=False)


def fill_default_labels(lines: Iterable[str], labels: list[str]) -> list[str]:
    """Adds `labels` to every JSON object line without candidate_labels; nothing else changes.

    What `batch submit --labels` does to such lines, for `local batch --labels`; any other line
    (bad ones included) goes through as written, so the endpoint answers it as the job would.
    """
    filled = []
    for line in lines:
        try:
            record = strict_json_loads(line) if line.strip() else None
        except (ValueError, RecursionError):
            record = None
        parameters = record.get("parameters", {}) if isinstance(record, dict) else None
        if isinstance(parameters, dict) and parameters.get("candidate_labels") is None:
            assert isinstance(record, dict)
            record = {**record, "parameters": {**parameters, "candidate_labels": list(labels)}}
            filled.append(json.dumps(record, ensure_ascii=False))
        else:
            filled.append(line)
    return filled


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
    # (input line number, line to upload) for every line that goes up.
    kept: list[tuple[int, str]] = []
    for line_number, raw_line in enumerate(lines, start=1):
        line = raw_line.rstrip("\r\n")
        result.total_lines += 1
        checked = check_line(
            line, line_number=line_number, default_labels=default_labels, max_labels=max_labels
        )
        result.problems.extend(checked.problems)
        if not checked.problems:
            # Valid as written: keep the user's bytes, unless labels were filled from --labels.
            upload = json.dumps(checked.repaired, ensure_ascii=False) if checked.changed else line
            kept.append((line_number, upload))
            continue
        if checked.repaired is not None or not line.strip():
            result.fixed_lines += 1
            if checked.repaired is not None:
                kept.append((line_number, json.dumps(checked.repaired, ensure_ascii=False)))
            continue
        if policy == "keep":
            result.kept_bad_lines += 1
            kept.append((line_number, line))
        else:
            result.dropped_lines += 1
    if policy == "refuse":
        result.refused = bool(result.problems)
    elif policy == "fix":
        result.refused = bool(result.unfixable)
    if result.refused:
        return result
    if len(kept) < result.total_lines:
        # Lines were left out, so positions no longer match the input file: each line without
        # an id gets its input line number, and results still map back to the input.
        result.ids_added = sum(
            1 for number, line in kept if _with_line_number_id(line, line_number=number) != line
        )
        kept = [(number, _with_line_number_id(line, line_number=number)) for number, line in kept]
    result.lines = [line for _, line in kept]
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
    if result.ids_added:
        summary += f", {result.ids_added} given their line number as id"
    if result.refused:
        summary = f"{result.total_lines} lines checked, {bad_lines} with problems; nothing uploaded"
    rows.append(summary)
    return "\n".join(rows)

"""The request contract: parse and validate JSON and JSON Lines bodies into typed requests.

JSON (`application/json`)::

    {"inputs": str | [str, ...],
     "parameters": {"candidate_labels": [str, ...] | "a,b,c",
                    "multi_label": bool,                 # default false
                    "hypothesis_template": str}}         # default "This example is {}."

JSON Lines (`application/jsonlines`): one such object per line, with a single string in
"inputs" and an optional "id" that is copied to the output line. A bad line becomes an error
line; it never fails the other lines. Line rules, chosen for SageMaker batch transform
(SplitType=Line joins records with "\\n"):

- the newline after the last record is a terminator, not an empty record, so "a\\nb\\n" is two
  lines;
- any other blank line is kept as an error line, so the output still has exactly one line per
  input line and stays aligned with the input file;
- a body with no non-blank line at all is a request error (HTTP 400), since there is nothing
  to classify and nothing sensible to return.

Every error message names the field, the bad value and what is allowed, because the toolkit
turns the message into the HTTP 400 body the caller sees.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_HYPOTHESIS_TEMPLATE = "This example is {}."
DEFAULT_MAX_CANDIDATE_LABELS = 50
MAX_CANDIDATE_LABELS_ENV = "ZSTC_MAX_CANDIDATE_LABELS"

JSON_CONTENT_TYPE = "application/json"
JSON_LINES_CONTENT_TYPE = "application/jsonlines"
# Spellings of JSON Lines seen in the wild; all are answered as application/jsonlines.
_JSON_LINES_ALIASES = ("application/jsonlines", "application/x-jsonlines", "application/jsonl")
_ALLOWED_TOP_LEVEL_KEYS = ("inputs", "parameters")
_ALLOWED_PARAMETER_KEYS = ("candidate_labels", "multi_label", "hypothesis_template")
# Longest bad value quoted back in an error message, so messages stay readable.
_QUOTE_LIMIT = 80

BodyFormat = Literal["json", "jsonlines"]


class RequestError(ValueError):
    """The caller's request is invalid; the message is what the caller sees (HTTP 400)."""


@dataclass(frozen=True, kw_only=True)
class ClassificationParameters:
    """How to classify: the candidate labels and the scoring mode."""

    candidate_labels: tuple[str, ...]
    multi_label: bool
    hypothesis_template: str

    def hypotheses(self) -> tuple[str, ...]:
        return tuple(self.hypothesis_template.format(label) for label in self.candidate_labels)


@dataclass(frozen=True, kw_only=True)
class TextTask:
    """One text to classify with its parameters: the unit the classifiers batch over."""

    text: str
    parameters: ClassificationParameters


@dataclass(frozen=True, kw_only=True)
class JsonRequest:
    """A parsed application/json request; `inputs_is_list` decides list vs object response."""

    tasks: tuple[TextTask, ...]
    inputs_is_list: bool


@dataclass(frozen=True, kw_only=True)
class JsonLinesRecord:
    """One JSON Lines input line: either a task or the error that replaces its output."""

    record_id: Any
    task: TextTask | None
    error: str | None


@dataclass(frozen=True, kw_only=True)
class JsonLinesRequest:
    records: tuple[JsonLinesRecord, ...]


ParsedRequest = JsonRequest | JsonLinesRequest


def _quote(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 3] + "..."


def max_candidate_labels_from_env(environ: dict[str, str] | None = None) -> int:
    """The label limit from ZSTC_MAX_CANDIDATE_LABELS (default 50), validated."""
    environ = dict(os.environ) if environ is None else environ
    raw = environ.get(MAX_CANDIDATE_LABELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_CANDIDATE_LABELS
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ValueError(
            f"{MAX_CANDIDATE_LABELS_ENV}={raw!r} is not allowed: use a positive integer "
            f"(default {DEFAULT_MAX_CANDIDATE_LABELS})"
        )
    return limit


def body_format(content_type: str | None) -> BodyFormat:
    """Maps a Content-Type header to the body format; rejects everything else."""
    if not content_type or not content_type.strip():
        raise RequestError(
            "Content-Type header is missing: use application/json or application/jsonlines"
        )
    media_type, _, params = content_type.partition(";")
    media_type = media_type.strip().lower()
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise RequestError(
                f"Content-Type charset {value.strip()!r} is not supported: send UTF-8"
            )
    if media_type == JSON_CONTENT_TYPE:
        return "json"
    if media_type in _JSON_LINES_ALIASES:
        return "jsonlines"
    raise RequestError(
        f"Content-Type {content_type!r} is not supported: use application/json or "
        "application/jsonlines"
    )


def decode_body(body: bytes | bytearray | str) -> str:
    """The body as text; the toolkit hands over str for application/json and bytes otherwise."""
    if isinstance(body, str):
        text = body
    else:
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as error:
            raise RequestError(
                f"request body is not valid UTF-8 (byte {error.start}): send UTF-8 text"
            ) from None
    # A byte order mark is legal UTF-8 but not legal JSON; editors on Windows add it.
    return text.removeprefix("\ufeff")


def parse_request(
    *, body: bytes | bytearray | str, content_type: str | None, max_candidate_labels: int
) -> ParsedRequest:
    """Parses a request body of either supported content type."""
    fmt = body_format(content_type)
    text = decode_body(body)
    if fmt == "json":
        return parse_json_request(text=text, max_candidate_labels=max_candidate_labels)
    return parse_json_lines_request(text=text, max_candidate_labels=max_candidate_labels)


def parse_json_request(*, text: str, max_candidate_labels: int) -> JsonRequest:
    if not text.strip():
        raise RequestError(
            'request body is empty: send a JSON object such as {"inputs": "...", '
            '"parameters": {"candidate_labels": ["a", "b"]}}'
        )
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise RequestError(
            f"request body is not valid JSON: {error.msg} at line {error.lineno} column "
            f"{error.colno}"
        ) from None
    payload_dict = _require_object(payload, what="request body")
    _reject_unknown_keys(payload_dict, allowed=_ALLOWED_TOP_LEVEL_KEYS, where="request body")
    if "inputs" not in payload_dict:
        raise RequestError('"inputs" is missing: give a string or a list of strings to classify')
    inputs = payload_dict["inputs"]
    parameters = parse_parameters(
        payload_dict.get("parameters"), max_candidate_labels=max_candidate_labels
    )
    if isinstance(inputs, str):
        texts = [_require_text(inputs, field="inputs")]
        inputs_is_list = False
    elif isinstance(inputs, list):
        if not inputs:
            raise RequestError('"inputs" is an empty list: give at least one string')
        texts = [_require_text(item, field=f"inputs[{i}]") for i, item in enumerate(inputs)]
        inputs_is_list = True
    else:
        raise RequestError(
            f'"inputs" must be a string or a list of strings, got {type(inputs).__name__} '
            f"{_quote(inputs)}"
        )
    tasks = tuple(TextTask(text=text, parameters=parameters) for text in texts)
    return JsonRequest(tasks=tasks, inputs_is_list=inputs_is_list)


def parse_json_lines_request(*, text: str, max_candidate_labels: int) -> JsonLinesRequest:
    # Split on "\n" only, as SageMaker does: str.splitlines() would also split inside a JSON
    # string at U+2028 and friends, which JSON allows unescaped.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines[-1] == "":
        lines.pop()
    if not any(line.strip() for line in lines):
        raise RequestError(
            "request body has no JSON Lines records: send one JSON object per line, such as "
            '{"id": 1, "inputs": "...", "parameters": {"candidate_labels": ["a", "b"]}}'
        )
    records = tuple(
        parse_json_line(line=line, max_candidate_labels=max_candidate_labels) for line in lines
    )
    return JsonLinesRequest(records=records)


def parse_json_line(*, line: str, max_candidate_labels: int) -> JsonLinesRecord:
    """One JSON Lines record; every problem becomes the record's error, never an exception.

    Messages name no line number: batch transform splits a file into payloads, so a number
    within the payload would not be the line of the file. The error line's position in the
    output, and its id, say which record it is.
    """
    if not line.strip():
        return JsonLinesRecord(
            record_id=None,
            task=None,
            error="blank line: expected one JSON object per line",
        )
    try:
        payload = json.loads(line)
    except json.JSONDecodeError as error:
        return JsonLinesRecord(
            record_id=None,
            task=None,
            error=f"line is not valid JSON: {error.msg} at column {error.colno}",
        )
    if not isinstance(payload, dict):
        return JsonLinesRecord(
            record_id=None,
            task=None,
            error=f"line must be a JSON object, got {type(payload).__name__}",
        )
    record_id = payload.get("id")
    try:
        _reject_unknown_keys(payload, allowed=(*_ALLOWED_TOP_LEVEL_KEYS, "id"), where="the line")
        if "inputs" not in payload:
            raise RequestError('"inputs" is missing: give the string to classify')
        inputs = payload["inputs"]
        if not isinstance(inputs, str):
            raise RequestError(
                f'"inputs" must be a single string in JSON Lines (one text per line), got '
                f"{type(inputs).__name__} {_quote(inputs)}"
            )
        text = _require_text(inputs, field="inputs")
        parameters = parse_parameters(
            payload.get("parameters"), max_candidate_labels=max_candidate_labels
        )
    except RequestError as error:
        return JsonLinesRecord(record_id=record_id, task=None, error=str(error))
    return JsonLinesRecord(
        record_id=record_id, task=TextTask(text=text, parameters=parameters), error=None
    )


def parse_parameters(raw: Any, *, max_candidate_labels: int) -> ClassificationParameters:
    if raw is None:
        raise RequestError(
            '"parameters" is missing: give {"candidate_labels": [...]} with the labels to score'
        )
    parameters = _require_object(raw, what='"parameters"')
    _reject_unknown_keys(parameters, allowed=_ALLOWED_PARAMETER_KEYS, where='"parameters"')
    labels = parse_candidate_labels(
        parameters.get("candidate_labels"), max_candidate_labels=max_candidate_labels
    )
    multi_label = parameters.get("multi_label", False)
    if not isinstance(multi_label, bool):
        raise RequestError(
            f'"parameters.multi_label" must be true or false, got {_quote(multi_label)}'
        )
    template = parameters.get("hypothesis_template", DEFAULT_HYPOTHESIS_TEMPLATE)
    template = parse_hypothesis_template(template, first_label=labels[0])
    return ClassificationParameters(
        candidate_labels=labels, multi_label=multi_label, hypothesis_template=template
    )


def parse_candidate_labels(raw: Any, *, max_candidate_labels: int) -> tuple[str, ...]:
    """Labels as a list, or as one comma-separated string split like the pipeline does."""
    field = '"parameters.candidate_labels"'
    if raw is None:
        raise RequestError(f"{field} is missing: give a list of labels or a string 'a,b,c'")
    if isinstance(raw, str):
        labels = [label.strip() for label in raw.split(",") if label.strip()]
    elif isinstance(raw, list):
        labels = []
        for index, label in enumerate(raw):
            if not isinstance(label, str):
                raise RequestError(
                    f"{field}[{index}] must be a string, got {type(label).__name__} {_quote(label)}"
                )
            if not label.strip():
                raise RequestError(f"{field}[{index}] is empty: every label needs text")
            labels.append(label)
    else:
        raise RequestError(
            f"{field} must be a list of strings or a comma-separated string, got "
            f"{type(raw).__name__} {_quote(raw)}"
        )
    if not labels:
        raise RequestError(f"{field} is empty: give at least one label")
    seen: set[str] = set()
    duplicates: set[str] = set()
    for label in labels:
        if label in seen:
            duplicates.add(label)
        seen.add(label)
    if duplicates:
        raise RequestError(
            f"{field} has duplicate labels {sorted(duplicates)!r}: each label may appear once"
        )
    if len(labels) > max_candidate_labels:
        raise RequestError(
            f"{field} has {len(labels)} labels, more than the limit of {max_candidate_labels} "
            f"(set {MAX_CANDIDATE_LABELS_ENV} on the model to change it)"
        )
    return tuple(labels)


def parse_hypothesis_template(raw: Any, *, first_label: str) -> str:
    field = '"parameters.hypothesis_template"'
    if not isinstance(raw, str):
        raise RequestError(f"{field} must be a string containing {{}}, got {_quote(raw)}")
    try:
        formatted = raw.format(first_label)
    except (IndexError, KeyError, ValueError):
        formatted = raw
    # The pipeline's own test: a template the label cannot be put into is useless.
    if formatted == raw:
        raise RequestError(
            f"{field} {_quote(raw)} has no {{}} where the label goes, e.g. "
            f"{DEFAULT_HYPOTHESIS_TEMPLATE!r}"
        )
    return raw


def _require_object(value: Any, *, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def _require_text(value: Any, *, field: str) -> str:
    if not isinstance(value, str):
        raise RequestError(
            f'"{field}" must be a string, got {type(value).__name__} {_quote(value)}'
        )
    # The pipeline refuses an empty sequence too ("at least one sequence").
    if not value:
        raise RequestError(f'"{field}" is an empty string: give text to classify')
    return value


def _reject_unknown_keys(payload: dict[str, Any], *, allowed: tuple[str, ...], where: str) -> None:
    # A typo such as "multilabel" would otherwise silently fall back to the default.
    unknown = sorted(key for key in payload if key not in allowed)
    if unknown:
        raise RequestError(
            f"{where} has unknown keys {unknown!r}: allowed keys are {list(allowed)!r}"
        )

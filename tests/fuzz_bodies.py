"""Hypothesis strategies for hostile request bodies, and the checks every answer must pass.

Shared by the in-process fuzz test (tests/inference) and the real-server one (tests/serving).
Bodies hold what broke the endpoint before: lone surrogates (as JSON escapes), NaN, Infinity,
1e999, integers of thousands of digits, nesting deeper than the recursion limit, format-spec
templates ({0.x}, {0[a]}, {0[3]}, {} and {}), control and separator characters (U+2028, U+2029,
U+0085, NUL, CR), huge strings, missing and mistyped fields, and lines that are not JSON.

Round two adds what crashed or hogged the worker next: templates that multiply every label
("{0}" thousands of times), bodies whose answer would be oversized (many records, many pairs),
and a line that is not valid UTF-8 among good ones. Error lines must stay compact: at most
MAX_ERROR_LINE_EXPANSION times their input line.

Each generated JSON Lines line comes with the id the answer must carry: the generated id when
the line is valid JSON of a representable value, null when it is not. Which lines classify and
which fail is the request contract's business; the checks here hold for every answer.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

# Raw JSON text that no JSON value of the contract may be: the line must become an error line.
UNREPRESENTABLE_FRAGMENTS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "9" * 4301,
    "[" * 3000 + "]" * 3000,
    '{"a":' * 100 + "1" + "}" * 100,
)
HOSTILE_STRINGS = (
    "\ud800",
    "a\udfffb",
    "\u2028",
    "\u2029",
    "\x85",
    "\r",
    "\x00",
    "\t\x0b\x0c",
    "{0.x}",
    "{0[a]}",
    "{0[3]}",
    "{} and {}",
    "{",
    "}",
    "{label}",
    "{:d}",
    "{!r}",
    "</s>",
    "<s>",
    "[CLS] [SEP] [PAD]",
    "\ufeff",
    "\u202e reversed",
    "\U0001f600",
    "x" * 20_000,
    " ",
    "",
)
MAX_ERROR_CHARS = 500
# An error line, newline included, is at most this many times its input line (the request
# contract's MAX_ERROR_LINE_EXPANSION).
MAX_ERROR_LINE_EXPANSION = 33
# The real-time cap on work per request (pairs, and at least one per JSON Lines record).
MAX_WORK_PER_REQUEST = 200
# Templates that multiply every label before tokenization, and an over-long one.
AMPLIFYING_TEMPLATES = ("{0}" * 5000, "{0} " * 40, "x" * 400 + "{}", "{}" + "\u00e9" * 400)
# Bytes that are never valid UTF-8 where they stand: a lone continuation byte, a start byte
# with no continuation, an overlong encoding, a surrogate encoded as UTF-8, bytes FE and FF.
INVALID_UTF8 = (
    b"\x80",
    b"\xe9",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xfe",
    b"\xff",
    b"\xf4\x90\x80\x80",
)
# Python's wording for failures these bodies used to cause; none may reach a caller.
RAW_EXCEPTION_TEXT = (
    "Traceback",
    "codec can't",
    "has no attribute",
    "string index out of range",
    "string indices must be integers",
    "Exceeds the limit",
    "maximum recursion depth",
    "Replacement index",
    "Out of range float values",
)
SERVER_ERROR_WORDING = "not a problem with the request"

hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3),
    st.sampled_from(HOSTILE_STRINGS),
    st.lists(st.sampled_from(HOSTILE_STRINGS), min_size=2, max_size=4).map("".join),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(hostile_text, children, max_size=3)
    ),
    max_leaves=8,
)


def surrogate_free(text: str) -> bool:
    return not any(0xD800 <= ord(character) <= 0xDFFF for character in text)


# Valid text that is still odd: separators, controls, braces and markup are fine in a text or a
# label; only lone surrogates and empty or blank values are not.
valid_text = st.one_of(
    st.sampled_from(["save more money", "run a marathon", "#newyear :: read b4 bed"]),
    st.sampled_from([text for text in HOSTILE_STRINGS if text.strip() and surrogate_free(text)]),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=60),
).filter(lambda text: bool(text.strip()))
valid_labels = st.lists(valid_text.map(str.strip), min_size=1, max_size=4, unique=True)


def mostly(valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> Any:
    """valid 7 times in 10, hostile otherwise, so that both paths get exercised."""
    return st.integers(min_value=0, max_value=9).flatmap(
        lambda roll: valid if roll < 7 else hostile
    )


label_lists = mostly(
    valid_labels,
    st.one_of(st.lists(hostile_text, max_size=4), hostile_text, json_values),
)
templates = mostly(
    st.sampled_from(["This example is {}.", "{}", "{0}", "{{x}} {}", "\u2028{}\x85"]),
    st.one_of(hostile_text, json_values, st.sampled_from(AMPLIFYING_TEMPLATES)),
)
texts = mostly(valid_text, st.one_of(hostile_text, json_values))


@st.composite
def _field(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> tuple[str, bool]:
    """JSON text for one field's value, and whether it is a representable JSON value."""
    if draw(st.integers(min_value=0, max_value=19)) == 0:
        return draw(st.sampled_from(UNREPRESENTABLE_FRAGMENTS)), False
    return json.dumps(draw(values), ensure_ascii=True), True


@dataclass(frozen=True)
class FuzzLine:
    text: str
    # The id the output line must carry.
    expected_id: Any
    # The line's bytes when they are not text.encode() (a line that is not valid UTF-8).
    raw: bytes | None = None

    @property
    def data(self) -> bytes:
        return self.raw if self.raw is not None else self.text.encode("utf-8")


def json_lines_body(lines: list[FuzzLine]) -> bytes:
    return b"\n".join(line.data for line in lines) + b"\n"


@st.composite
def json_lines_line(draw: st.DrawFn) -> FuzzLine:
    kind = draw(st.integers(min_value=0, max_value=19))
    if kind == 0:
        return FuzzLine(draw(st.sampled_from(["", "   ", "{not json", "[1, 2]", "42"])), None)
    if kind == 1:
        garbage = draw(hostile_text).replace("\n", " ")
        return FuzzLine(garbage.encode("utf-8", "replace").decode("utf-8"), None)
    record_id = draw(st.one_of(st.integers(), json_values))
    fields: list[tuple[str, tuple[str, bool]]] = [("id", draw(_field(st.just(record_id))))]
    if kind > 2:
        fields.append(("inputs", draw(_field(texts))))
    parameters: list[str] = []
    representable = all(ok for _, (_, ok) in fields)
    for name, values, present in (
        ("candidate_labels", label_lists, kind > 3),
        ("hypothesis_template", templates, draw(st.booleans())),
        ("multi_label", mostly(st.booleans(), json_scalars), draw(st.booleans())),
    ):
        if present:
            text, ok = draw(_field(values))
            parameters.append(f'"{name}": {text}')
            representable = representable and ok
    body = ", ".join(f'"{name}": {text}' for name, (text, _) in fields)
    line = "{" + body + ', "parameters": {' + ", ".join(parameters) + "}}"
    return FuzzLine(line, json.loads(json.dumps(record_id)) if representable else None)


json_lines_bodies = st.lists(json_lines_line(), min_size=1, max_size=6)


@st.composite
def bad_byte_line(draw: st.DrawFn) -> FuzzLine:
    """A record with one byte sequence that is not UTF-8 spliced in; its answer is an error."""
    record = json.dumps(
        {
            "id": draw(st.integers()),
            "inputs": draw(valid_text),
            "parameters": {"candidate_labels": ["a", "b"]},
        },
        ensure_ascii=False,
    ).encode()
    at = draw(st.integers(min_value=0, max_value=len(record)))
    return FuzzLine("", None, raw=record[:at] + draw(st.sampled_from(INVALID_UTF8)) + record[at:])


@st.composite
def bodies_with_one_bad_byte_line(draw: st.DrawFn) -> list[FuzzLine]:
    """Good and hostile lines around one line that is not valid UTF-8."""
    lines = draw(st.lists(json_lines_line(), min_size=1, max_size=5))
    lines.insert(draw(st.integers(min_value=0, max_value=len(lines))), draw(bad_byte_line()))
    return lines


@st.composite
def oversized_json_lines_body(draw: st.DrawFn) -> bytes:
    """More work than one real-time request may carry: records past the cap (error lines
    count one each) or pairs past it. Once, such bodies made answers over the model server's
    response limit and killed the worker."""
    kind = draw(st.integers(min_value=0, max_value=2))
    if kind == 0:
        line = draw(st.sampled_from([b"{}", b"", b"x", b"[]", b'{"id": 1}']))
        count = draw(st.integers(min_value=MAX_WORK_PER_REQUEST + 1, max_value=20_000))
        return (line + b"\n") * count
    labels = [f"label {index}" for index in range(draw(st.integers(min_value=5, max_value=50)))]
    record = json.dumps({"inputs": "t", "parameters": {"candidate_labels": labels}}).encode()
    count = MAX_WORK_PER_REQUEST // len(labels) + draw(st.integers(min_value=1, max_value=300))
    return (record + b"\n") * count


@st.composite
def json_body(draw: st.DrawFn) -> str:
    """An application/json request body: mostly shaped like the contract, hostile inside."""
    inputs = draw(_field(mostly(st.one_of(valid_text, st.lists(valid_text, max_size=4)), texts)))
    labels = draw(_field(label_lists))
    template = draw(_field(templates))
    parts = [f'"inputs": {inputs[0]}', f'"parameters": {{"candidate_labels": {labels[0]}']
    if draw(st.booleans()):
        parts[-1] += f', "hypothesis_template": {template[0]}'
    parts[-1] += "}"
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return draw(st.sampled_from(["", "{", "[]", "null", '"text"', "{}"]))
    return "{" + ", ".join(parts) + "}"


def check_error_message(message: str) -> None:
    """A 400's message (or an error line): bounded, clean, and the caller's problem."""
    assert isinstance(message, str) and message
    assert len(message) <= MAX_ERROR_CHARS, f"error of {len(message)} characters"
    for raw in RAW_EXCEPTION_TEXT:
        assert raw not in message, message
    assert SERVER_ERROR_WORDING not in message, f"hostile input caused a server error: {message}"


def check_classification(result: dict[str, Any]) -> None:
    assert set(result) >= {"sequence", "labels", "scores"}, result
    assert isinstance(result["sequence"], str)
    assert len(result["labels"]) == len(result["scores"]) >= 1
    assert len(set(result["labels"])) == len(result["labels"])
    assert result["scores"] == sorted(result["scores"], reverse=True)
    assert all(math.isfinite(score) and 0.0 <= score <= 1.0 for score in result["scores"])


def check_json_lines_answer(lines: list[FuzzLine], response: str) -> list[str]:
    """One output line per input line, in order, ids intact, each a result or an error.

    Returns each line's outcome, "classified" or "error", for the run's tally.
    """
    answer_lines = response.split("\n")
    outputs = [json.loads(line) for line in answer_lines]
    assert len(outputs) == len(lines), "exactly one output line per input line"
    outcomes = []
    for line, output, answer_line in zip(lines, outputs, answer_lines, strict=True):
        assert output["id"] == line.expected_id, (line.text[:200], output)
        if "error" in output:
            assert set(output) == {"id", "error"}
            check_error_message(output["error"])
            out_bytes = len(answer_line.encode("utf-8")) + 1
            assert out_bytes <= MAX_ERROR_LINE_EXPANSION * (len(line.data) + 1), (line.data, output)
            if line.raw is not None:
                assert "not valid UTF-8" in output["error"], output
            outcomes.append("error")
        else:
            check_classification(output)
            outcomes.append("classified")
    return outcomes


def check_json_answer(body: str, response: str) -> None:
    result = json.loads(response)
    inputs = json.loads(body)["inputs"]
    if isinstance(inputs, list):
        assert isinstance(result, list) and len(result) == len(inputs)
        for item, text in zip(result, inputs, strict=True):
            check_classification(item)
            assert item["sequence"] == text
    else:
        check_classification(result)
        assert result["sequence"] == inputs

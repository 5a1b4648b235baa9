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

Limits, each answered with a 400 that names it (docs/limits.md has them all, with reasons):
- candidate labels per text: ZSTC_MAX_CANDIDATE_LABELS (default 50);
- work per real-time request: ZSTC_MAX_PAIRS_PER_REQUEST (default 200) units, counted by one
  rule for both content types (work_units): a (text, label) pair is a unit, and a JSON Lines
  record counts at least one. One worker serves a request alone, and a real-time invocation
  must finish within 60 seconds; docs/sizing.md derives the default. In batch transform
  (SAGEMAKER_BATCH=true) JSON Lines payloads are bounded by MaxPayloadInMB instead;
- the hypothesis template: at most MAX_TEMPLATE_CHARS, exactly one replacement field; each
  hypothesis at most MAX_HYPOTHESIS_CHARS; all checked before anything is tokenized;
- JSON numbers must be finite and integers at most MAX_INTEGER_DIGITS digits long; values nest
  at most MAX_JSON_DEPTH levels deep, so that anything parsed can be encoded again;
- text, labels and template must be valid Unicode (no lone surrogates), since neither the
  tokenizer nor the response encoder can take them; bodies must be UTF-8 (a JSON Lines line
  that is not is that line's error), and labels are compared in NFC form.

Every error message names the field, the bad value and what is allowed, because the toolkit
turns the message into the HTTP 400 body the caller sees. Messages are bounded in length, speak
JSON (null, an object), and never carry raw Python exception text. A JSON Lines error line is
compact: the id and a short message, at most MAX_ERROR_LINE_EXPANSION times its input line.

Lone surrogates: JSON may carry a lone UTF-16 surrogate as an escape ("\\ud800"), and json.loads
turns it into a str that UTF-8 cannot encode. multi-model-server encodes every response body and
error message with str.encode("utf-8") after the handler returned (mms 1.1.11,
mms/protocol/otf_message_handler.py, create_predict_response), outside any error handling, so one
such character kills the worker process. Everything echoed (ids, texts, labels, messages)
therefore goes through escape_lone_surrogates or bounded_message below.

This module imports nothing from its siblings: the zstc client loads it alone, by file path, to
check JSON Lines files with the endpoint's own rules (zstc/bundled_code.py).
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

DEFAULT_HYPOTHESIS_TEMPLATE = "This example is {}."
DEFAULT_MAX_CANDIDATE_LABELS = 50
MAX_CANDIDATE_LABELS_ENV = "ZSTC_MAX_CANDIDATE_LABELS"
# Sized in docs/sizing.md: the longest pairs bart-large-mnli takes, this many per request, fit
# the 60-second real-time invocation limit on an ml.g4dn.xlarge with room to spare.
DEFAULT_MAX_PAIRS_PER_REQUEST = 200
MAX_PAIRS_PER_REQUEST_ENV = "ZSTC_MAX_PAIRS_PER_REQUEST"
# Python refuses to convert integers of more than 4300 digits (sys.get_int_max_str_digits), in
# json.loads and json.dumps alike; ids stay far below it.
MAX_INTEGER_DIGITS = 1000
# Deep enough for any real record, shallow enough that encoding an echoed id never recurses
# near the interpreter's limit.
MAX_JSON_DEPTH = 64

JSON_CONTENT_TYPE = "application/json"
JSON_LINES_CONTENT_TYPE = "application/jsonlines"
# Spellings of JSON Lines seen in the wild; all are answered as application/jsonlines.
_JSON_LINES_ALIASES = ("application/jsonlines", "application/x-jsonlines", "application/jsonl")
_ALLOWED_TOP_LEVEL_KEYS = ("inputs", "parameters")
_ALLOWED_PARAMETER_KEYS = ("candidate_labels", "multi_label", "hypothesis_template")
# Longest bad value quoted back in an error message, so messages stay readable; in a JSON Lines
# error line, which must stay compact, just enough to recognise the value.
_QUOTE_LIMIT = 80
_LINE_QUOTE_LIMIT = 20
_quote_limit: contextvars.ContextVar[int] = contextvars.ContextVar(
    "quote_limit", default=_QUOTE_LIMIT
)

# Longest error message sent to a caller: enough for the field, the bad value (quoted short)
# and what is allowed; a 100 KB label must not make a 100 KB error.
MAX_MESSAGE_CHARS = 500
# Longest message of a JSON Lines error line, and the most an error line may grow over its
# input line (compact_line_error): {"id":null,"error":""} plus the newline is 23 bytes.
MAX_LINE_ERROR_CHARS = 200
MAX_ERROR_LINE_EXPANSION = 33
ERROR_LINE_OVERHEAD_BYTES = 23
# An echoed id is written as Python's json writes the parsed value: a string or an integer
# never grows, a number with an exponent can ("1e15" comes back as "1000000000000000.0").
ID_GROWTH_BYTES = 14
# The hypothesis template and each hypothesis it makes (template with the label in it), in
# characters. Checked before anything is tokenized: the template is formatted once per label
# per text, so its length multiplies the tokenizer's work. 1000 characters is about 200
# English tokens, a fifth of bart-large-mnli's 1024.
MAX_TEMPLATE_CHARS = 300
MAX_HYPOTHESIS_CHARS = 1000
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

BodyFormat = Literal["json", "jsonlines"]


def first_lone_surrogate(text: str) -> int | None:
    """The index of the first lone surrogate in text, or None when text is valid Unicode."""
    match = _LONE_SURROGATE.search(text)
    return None if match is None else match.start()


def escape_lone_surrogates(text: str) -> str:
    """Each lone surrogate as its JSON escape (\\udXXX), which UTF-8 can carry.

    Applied to json.dumps output, a surrogate can only sit inside a string literal, where the
    escape decodes back to the same character: an echoed id stays exactly what was sent.
    """
    return _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def bounded_message(message: str, *, limit: int = MAX_MESSAGE_CHARS) -> str:
    """message, made encodable and cut to at most limit characters."""
    safe = escape_lone_surrogates(message)
    if len(safe) <= limit:
        return safe
    return safe[: limit - 3] + "..."


class RequestError(ValueError):
    """The caller's request is invalid; the message is what the caller sees (HTTP 400).

    The message is made safe here, once for every error: bounded in length, and with lone
    surrogates escaped, since the model server must encode it as UTF-8.
    """

    def __init__(self, message: str) -> None:
        super().__init__(bounded_message(message))


@dataclass(frozen=True, kw_only=True)
class ClassificationParameters:
    """How to classify: the candidate labels and the scoring mode."""

    candidate_labels: tuple[str, ...]
    multi_label: bool
    hypothesis_template: str

    def hypotheses(self) -> tuple[str, ...]:
        # parse_hypothesis_template admits only templates that format every label.
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
    # The input line's length in bytes: an error line's size is bounded by it (compact_line_error).
    source_bytes: int = 0


@dataclass(frozen=True, kw_only=True)
class JsonLinesRequest:
    records: tuple[JsonLinesRecord, ...]


ParsedRequest = JsonRequest | JsonLinesRequest


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages: callers write JSON, not Python."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a value that is not JSON"


def _quote(value: Any) -> str:
    limit = _quote_limit.get()
    if isinstance(value, str):
        text = repr(value[: limit + 1])
    else:
        try:
            text = json.dumps(value, ensure_ascii=True)
        except (ValueError, TypeError, RecursionError):
            text = json_type(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _positive_int_from_env(environ: Mapping[str, str] | None, *, name: str, default: int) -> int:
    environ = os.environ if environ is None else environ
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ValueError(
            f"{name}={raw!r} is not allowed: use a positive integer (default {default})"
        )
    return limit


def max_candidate_labels_from_env(environ: Mapping[str, str] | None = None) -> int:
    """The label limit from ZSTC_MAX_CANDIDATE_LABELS (default 50), validated."""
    return _positive_int_from_env(
        environ, name=MAX_CANDIDATE_LABELS_ENV, default=DEFAULT_MAX_CANDIDATE_LABELS
    )


def max_pairs_per_request_from_env(environ: Mapping[str, str] | None = None) -> int:
    """The pair cap of JSON requests from ZSTC_MAX_PAIRS_PER_REQUEST (default 200), validated."""
    return _positive_int_from_env(
        environ, name=MAX_PAIRS_PER_REQUEST_ENV, default=DEFAULT_MAX_PAIRS_PER_REQUEST
    )


def _reject_constant(name: str) -> NoReturn:
    raise RequestError(f"{name} is not a JSON number: numbers must be finite")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if number in (float("inf"), float("-inf")):
        raise RequestError(
            f"the number {_quote(literal)} is out of range: numbers must be finite "
            "(at most about 1.8e308)"
        )
    return number


def _bounded_int(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise RequestError(
            f"an integer with {digits} digits is too long: at most {MAX_INTEGER_DIGITS} digits"
        )
    return int(literal)


def _depth(value: Any) -> int:
    """How deeply value nests lists and objects (a scalar is 0), without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            level += 1
            deepest = max(deepest, level)
            if level > MAX_JSON_DEPTH:
                break
            pending.extend((child, level) for child in item)
    return deepest


def load_json(text: str, *, what: str) -> Any:
    """json.loads that turns every way JSON text can fail into a RequestError naming `what`.

    Python's json accepts NaN and Infinity, turns 1e999 into inf, raises ValueError for integers
    of more than 4300 digits and RecursionError for deep nesting; none of these may escape as an
    exception, and nothing is accepted that json.dumps(allow_nan=False) could not write back.
    """
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except json.JSONDecodeError as error:
        raise RequestError(
            f"{what} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise RequestError(
            f"{what} nests too deeply: at most {MAX_JSON_DEPTH} levels of lists and objects"
        ) from None
    except RequestError as error:
        raise RequestError(f"{what}: {error}") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise RequestError(
            f"{what} nests too deeply: at most {MAX_JSON_DEPTH} levels of lists and objects"
        )
    return value


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


# Byte patterns of bodies that are not UTF-8 text at all, and what to send instead. gzip: RFC 1952
# section 2.3.1 (ID1 ID2 = 0x1f 0x8b). UTF-32 and UTF-16 byte order marks: the Unicode Standard,
# section 23.8; the UTF-32 ones come first, since FF FE also begins the UTF-32LE mark.
_FOREIGN_ENCODINGS = (
    (b"\x1f\x8b", "gzip-compressed", "send it uncompressed, without Content-Encoding"),
    (b"\x00\x00\xfe\xff", "UTF-32 (byte order mark 00 00 FE FF)", "send UTF-8 text"),
    (b"\xff\xfe\x00\x00", "UTF-32 (byte order mark FF FE 00 00)", "send UTF-8 text"),
    (b"\xfe\xff", "UTF-16 (byte order mark FE FF)", "send UTF-8 text"),
    (b"\xff\xfe", "UTF-16 (byte order mark FF FE)", "send UTF-8 text"),
)
_UTF8_BOM = "\ufeff"


def reject_foreign_encoding(body: bytes) -> None:
    """A RequestError saying what to send when the body is compressed or UTF-16/UTF-32.

    Without a byte order mark, UTF-16 and UTF-32 text of a JSON document still shows as NUL
    bytes among its first four: JSON text starts with an ASCII character (RFC 8259 section 2),
    and UTF-8 text holds no NUL byte outside an escape.
    """
    for magic, what, remedy in _FOREIGN_ENCODINGS:
        if body.startswith(magic):
            raise RequestError(f"request body is {what}: the endpoint takes UTF-8 JSON; {remedy}")
    if b"\x00" in body[:4]:
        raise RequestError(
            "request body has NUL bytes in its first 4 bytes, as UTF-16 or UTF-32 text has: the "
            "endpoint takes UTF-8 JSON; send UTF-8 text"
        )


def utf8_error_message(body: bytes, *, what: str) -> str | None:
    """None when body is valid UTF-8; else a fixed message naming the first bad byte's offset."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        return (
            f"{what} is not valid UTF-8: byte 0x{body[error.start]:02X} at byte offset "
            f"{error.start} is not part of a UTF-8 character; send UTF-8 text"
        )
    return None


def decode_body(body: bytes | bytearray | str) -> str:
    """The body as text, or a RequestError that says what to send.

    The toolkit decodes application/json and text/csv bodies itself before input_fn, with
    Python's own error text (sagemaker-huggingface-inference-toolkit 2.6.0,
    handler_service.py, HuggingFaceHandlerService.handle: `if content_type in
    content_types.UTF8_TYPES: input_data = input_data.decode("utf-8")`); inference.py takes
    that over (toolkit_body_decoding.py), so every body arrives here as bytes.
    """
    if isinstance(body, str):
        return body.removeprefix(_UTF8_BOM)
    raw = bytes(body)
    reject_foreign_encoding(raw)
    message = utf8_error_message(raw, what="request body")
    if message is not None:
        raise RequestError(message)
    # A byte order mark is legal UTF-8 but not legal JSON; editors on Windows add it.
    return raw.decode("utf-8").removeprefix(_UTF8_BOM)


def work_units(pairs_per_record: Iterable[int]) -> int:
    """The sizing rule of one real-time request, the same for both content types.

    A (text, label) pair is one unit of model work. A record that carries no pair (a JSON Lines
    error line) still costs an answer line, so every record counts at least one unit. For JSON,
    each text is a record with one pair per label, so the units are the pairs.
    """
    return sum(max(1, pairs) for pairs in pairs_per_record)


def parse_request(
    *,
    body: bytes | bytearray | str,
    content_type: str | None,
    max_candidate_labels: int,
    max_pairs_per_request: int = DEFAULT_MAX_PAIRS_PER_REQUEST,
    cap_json_lines: bool = True,
) -> ParsedRequest:
    """Parses a request body of either supported content type.

    cap_json_lines: whether max_pairs_per_request also caps JSON Lines bodies. True at the
    real-time endpoint; False in batch transform, whose payloads MaxPayloadInMB bounds.
    """
    fmt = body_format(content_type)
    if fmt == "json":
        return parse_json_request(
            text=decode_body(body),
            max_candidate_labels=max_candidate_labels,
            max_pairs_per_request=max_pairs_per_request,
        )
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    return parse_json_lines_body(
        body=raw,
        max_candidate_labels=max_candidate_labels,
        max_work_units=max_pairs_per_request if cap_json_lines else None,
    )


def parse_json_request(
    *,
    text: str,
    max_candidate_labels: int,
    max_pairs_per_request: int = DEFAULT_MAX_PAIRS_PER_REQUEST,
) -> JsonRequest:
    if not text.strip():
        raise RequestError(
            'request body is empty: send a JSON object such as {"inputs": "...", '
            '"parameters": {"candidate_labels": ["a", "b"]}}'
        )
    try:
        payload = load_json(text, what="request body")
    except RequestError as error:
        raise RequestError(_with_bom_named(str(error), text)) from None
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
            f'"inputs" must be a string or an array of strings, got {json_type(inputs)} '
            f"{_quote(inputs)}"
        )
    pairs = work_units([len(parameters.candidate_labels)] * len(texts))
    if pairs > max_pairs_per_request:
        raise RequestError(
            f"the request has {pairs} (text, label) pairs ({len(texts)} texts x "
            f"{len(parameters.candidate_labels)} labels), more than the limit of "
            f"{max_pairs_per_request} per real-time request ({MAX_PAIRS_PER_REQUEST_ENV}): send "
            "fewer texts per request, or send the texts as JSON Lines to batch transform "
            "(zstc batch submit, or upload the file to the bucket's input/ prefix)"
        )
    tasks = tuple(TextTask(text=text, parameters=parameters) for text in texts)
    return JsonRequest(tasks=tasks, inputs_is_list=inputs_is_list)


def _too_much_work(*, units: int, records: int, pairs: int | None, limit: int) -> RequestError:
    carried = f"{records} JSON Lines records" + (
        f" carrying {pairs} (text, label) pairs" if pairs is not None else ""
    )
    return RequestError(
        f"the request has {carried}: {units} units of work, more than the limit of {limit} "
        f"per real-time request ({MAX_PAIRS_PER_REQUEST_ENV}; each record counts its pairs, "
        "and at least 1): send fewer records per request, or send the file to batch transform "
        "(zstc batch submit, or upload it to the bucket's input/ prefix)"
    )


def parse_json_lines_body(
    *, body: bytes, max_candidate_labels: int, max_work_units: int | None = None
) -> JsonLinesRequest:
    """A JSON Lines body, line by line from bytes: a line that is not UTF-8 is that line's error.

    max_work_units: the real-time cap (work_units); None in batch transform. The number of
    records is checked before any line is parsed, so an oversized body costs no parsing.
    """
    reject_foreign_encoding(body)
    # Split on b"\n" only, as SageMaker does: str.splitlines() would also split inside a JSON
    # string at U+2028 and friends, which JSON allows unescaped. In UTF-8 the byte 0x0A is
    # never part of another character, so splitting bytes splits the same places.
    raw_lines = body.split(b"\n")
    if raw_lines[-1] == b"":
        raw_lines.pop()
    if max_work_units is not None and len(raw_lines) > max_work_units:
        raise _too_much_work(
            units=len(raw_lines), records=len(raw_lines), pairs=None, limit=max_work_units
        )
    if not any(line.strip() for line in raw_lines):
        raise RequestError(
            "request body has no JSON Lines records: send one JSON object per line, such as "
            '{"id": 1, "inputs": "...", "parameters": {"candidate_labels": ["a", "b"]}}'
        )
    records = []
    for index, raw_line in enumerate(raw_lines):
        raw_line = raw_line.removesuffix(b"\r")
        message = utf8_error_message(raw_line, what="line")
        if message is not None:
            records.append(
                JsonLinesRecord(
                    record_id=None, task=None, error=message, source_bytes=len(raw_line)
                )
            )
            continue
        line = raw_line.decode("utf-8")
        if index == 0:
            line = line.removeprefix(_UTF8_BOM)
        records.append(parse_json_line(line=line, max_candidate_labels=max_candidate_labels))
    if max_work_units is not None:
        pairs_per_record = [
            len(record.task.parameters.candidate_labels) if record.task else 0 for record in records
        ]
        units = work_units(pairs_per_record)
        pairs = sum(pairs_per_record)
        if units > max_work_units:
            raise _too_much_work(
                units=units, records=len(records), pairs=pairs, limit=max_work_units
            )
    return JsonLinesRequest(records=tuple(records))


def parse_json_lines_request(*, text: str, max_candidate_labels: int) -> JsonLinesRequest:
    """parse_json_lines_body for text already decoded (no cap: the caller sizes it)."""
    return parse_json_lines_body(
        body=text.encode("utf-8", "surrogatepass"), max_candidate_labels=max_candidate_labels
    )


def _with_bom_named(message: str, text: str) -> str:
    """A JSON error message that names a byte order mark inside the text, if it holds one.

    JSON has no place for U+FEFF outside a string; json.loads reports it as an unexpected
    character, or (at the very start) with Python's "decode using utf-8-sig" hint.
    """
    position = text.find(_UTF8_BOM)
    if position < 0:
        return message
    return (
        f"{message.split(':')[0]}: it holds a byte order mark (U+FEFF) at character {position}; "
        "remove it, or save the file as UTF-8 without BOM"
    )


def compact_line_error(message: str, *, source_bytes: int) -> str:
    """An error line's message, short enough that the error line stays compact.

    An error line is {"id": <the input's id or null>, "error": <message>}; it never echoes the
    input beyond its id. Its size, newline included, is at most MAX_ERROR_LINE_EXPANSION times
    the input line's (source_bytes plus its newline): the id takes at most ID_GROWTH_BYTES more
    than it took in the input (or 4 for null), the rest of the line is
    ERROR_LINE_OVERHEAD_BYTES, and the message gets what is left, at most MAX_LINE_ERROR_CHARS.
    The blank line sets the factor: 1 byte in, {"id":null,"error":"blank line"} and its
    newline, 33 bytes, out.
    """
    budget = min(
        MAX_LINE_ERROR_CHARS,
        MAX_ERROR_LINE_EXPANSION * (source_bytes + 1)
        - ERROR_LINE_OVERHEAD_BYTES
        - source_bytes
        - (ID_GROWTH_BYTES if source_bytes else 0),
    )
    safe = bounded_message(message, limit=MAX_LINE_ERROR_CHARS)
    if _encoded_string_bytes(safe) <= budget:
        return safe
    while safe and _encoded_string_bytes(safe + "...") > budget:
        safe = safe[: max(0, min(len(safe) - 1, budget - 3))]
    return safe + "..." if safe else "invalid"


def _encoded_string_bytes(text: str) -> int:
    """Bytes of text inside a JSON string as the response encoder writes it (no quotes)."""
    return len(escape_lone_surrogates(json.dumps(text, ensure_ascii=False)).encode()) - 2


def parse_json_line(*, line: str, max_candidate_labels: int) -> JsonLinesRecord:
    """One JSON Lines record; every problem becomes the record's error, never an exception.

    Messages name no line number: batch transform splits a file into payloads, so a number
    within the payload would not be the line of the file. The error line's position in the
    output, and its id, say which record it is. Messages are compact (compact_line_error).
    """
    source_bytes = len(line.encode("utf-8", "surrogatepass"))

    def failed(message: str, record_id: Any = None) -> JsonLinesRecord:
        return JsonLinesRecord(
            record_id=record_id,
            task=None,
            error=compact_line_error(message, source_bytes=source_bytes),
            source_bytes=source_bytes,
        )

    if not line.strip():
        return failed("blank line")
    if line.startswith(_UTF8_BOM):
        # A byte order mark inside the body (files joined with cat) is not part of the record.
        line = line.removeprefix(_UTF8_BOM)
    token = _quote_limit.set(_LINE_QUOTE_LIMIT)
    try:
        return _parse_line_payload(
            line,
            failed=failed,
            max_candidate_labels=max_candidate_labels,
            source_bytes=source_bytes,
        )
    finally:
        _quote_limit.reset(token)


def _parse_line_payload(
    line: str,
    *,
    failed: Callable[..., JsonLinesRecord],
    max_candidate_labels: int,
    source_bytes: int,
) -> JsonLinesRecord:
    try:
        payload = load_json(line, what="line")
    except RequestError as error:
        return failed(_with_bom_named(str(error), line))
    if not isinstance(payload, dict):
        return failed(f"line must be a JSON object, got {json_type(payload)}")
    record_id = payload.get("id")
    try:
        _reject_unknown_keys(payload, allowed=(*_ALLOWED_TOP_LEVEL_KEYS, "id"), where="the line")
        if "inputs" not in payload:
            raise RequestError('"inputs" is missing')
        inputs = payload["inputs"]
        if not isinstance(inputs, str):
            raise RequestError(
                f'"inputs" must be a single string in JSON Lines (one text per line), got '
                f"{json_type(inputs)}"
            )
        text = _require_text(inputs, field="inputs")
        parameters = parse_parameters(
            payload.get("parameters"), max_candidate_labels=max_candidate_labels
        )
    except RequestError as error:
        return failed(str(error), record_id)
    return JsonLinesRecord(
        record_id=record_id,
        task=TextTask(text=text, parameters=parameters),
        error=None,
        source_bytes=source_bytes,
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
    template = parse_hypothesis_template(template)
    parsed = ClassificationParameters(
        candidate_labels=labels, multi_label=multi_label, hypothesis_template=template
    )
    check_hypothesis_lengths(parsed)
    return parsed


def parse_candidate_labels(raw: Any, *, max_candidate_labels: int) -> tuple[str, ...]:
    """Labels as a list, or as one comma-separated string split like the pipeline does."""
    field = '"parameters.candidate_labels"'
    if raw is None:
        raise RequestError(f"{field} is missing: give a list of labels or a string 'a,b,c'")
    if isinstance(raw, str):
        _require_valid_unicode(raw, field=field)
        labels = [label.strip() for label in raw.split(",") if label.strip()]
    elif isinstance(raw, list):
        labels = []
        for index, label in enumerate(raw):
            if not isinstance(label, str):
                raise RequestError(
                    f"{field}[{index}] must be a string, got {json_type(label)} {_quote(label)}"
                )
            if not label.strip():
                raise RequestError(f"{field}[{index}] is empty: every label needs text")
            _require_valid_unicode(label, field=f"{field}[{index}]")
            labels.append(label)
    else:
        raise RequestError(
            f"{field} must be a list of strings or a comma-separated string, got "
            f"{json_type(raw)} {_quote(raw)}"
        )
    if not labels:
        raise RequestError(f"{field} is empty: give at least one label")
    # Labels are compared in Unicode normalization form NFC: "café" typed as e + U+0301 (NFD)
    # and as U+00E9 (NFC) is the same label to a reader, and would split its score in two.
    seen: dict[str, str] = {}
    duplicates: list[str] = []
    for label in labels:
        key = unicodedata.normalize("NFC", label)
        if key in seen:
            duplicates.append(label)
        seen.setdefault(key, label)
    if duplicates:
        shown = ", ".join(_quote(label) for label in duplicates[:5])
        raise RequestError(
            f"{field} has duplicate labels [{shown}] (compared in Unicode NFC form, so "
            "composed and decomposed accents are the same label): each label may appear once"
        )
    if len(labels) > max_candidate_labels:
        raise RequestError(
            f"{field} has {len(labels)} labels, more than the limit of {max_candidate_labels} "
            f"(set {MAX_CANDIDATE_LABELS_ENV} on the model to change it)"
        )
    return tuple(labels)


def parse_hypothesis_template(raw: Any) -> str:
    """A template with exactly one replacement field, {} (or {0}), at most MAX_TEMPLATE_CHARS.

    The pipeline calls template.format(label) (transformers 4.51.3, pipelines/
    zero_shot_classification.py, ZeroShotClassificationArgumentHandler.__call__) and documents
    the template as one that "must include a {} or similar syntax for the candidate label to be
    inserted". Any other replacement field fails for some label or for all: {label} and {1}
    have no argument, "{} and {}" needs two, {0.x} and {0[a]} look up attributes and keys a
    string lacks, and a format spec such as {:d} fails for every string. More than one {0}
    formats, but multiplies every label before tokenization ("{0}" x 20,000 turns 10 labels
    into 20 MB of hypotheses), so exactly one field is allowed. Checking the template's fields,
    not formatting it, rejects all of these up front and for every label.
    """
    field = '"parameters.hypothesis_template"'
    example = f"e.g. {DEFAULT_HYPOTHESIS_TEMPLATE!r}"
    if not isinstance(raw, str):
        raise RequestError(f"{field} must be a string containing {{}}, got {_quote(raw)}")
    if len(raw) > MAX_TEMPLATE_CHARS:
        raise RequestError(
            f"{field} is {len(raw)} characters long, more than the limit of "
            f"{MAX_TEMPLATE_CHARS}: use a short sentence with one {{}}, {example}"
        )
    _require_valid_unicode(raw, field=field)
    try:
        fields = [parsed for parsed in string.Formatter().parse(raw) if parsed[1] is not None]
    except ValueError:
        raise RequestError(
            f"{field} {_quote(raw)} has an unmatched {{ or }}: write {{{{ or }}}} for a literal "
            f"brace, and {{}} where the label goes, {example}"
        ) from None
    if not fields:
        raise RequestError(f"{field} {_quote(raw)} has no {{}} where the label goes, {example}")
    for _, name, format_spec, conversion in fields:
        if name not in ("", "0") or format_spec or conversion:
            written = "{" + (name or "") + (f"!{conversion}" if conversion else "")
            written += (f":{format_spec}" if format_spec else "") + "}"
            raise RequestError(
                f"{field} {_quote(raw)} contains {_quote(written)}: the label can only go in a "
                f"plain {{}}, {example}"
            )
    if len(fields) > 1:
        raise RequestError(
            f"{field} {_quote(raw)} has {len(fields)} replacement fields: use exactly one {{}} "
            f"where the label goes, {example}"
        )
    return raw


def check_hypothesis_lengths(parameters: ClassificationParameters) -> None:
    """Each hypothesis (the template with a label in it) is at most MAX_HYPOTHESIS_CHARS."""
    fixed = len(parameters.hypothesis_template.format(""))
    for index, label in enumerate(parameters.candidate_labels):
        length = fixed + len(label)
        if length > MAX_HYPOTHESIS_CHARS:
            raise RequestError(
                f'"parameters.candidate_labels"[{index}] makes a hypothesis of {length} '
                f"characters with the template, more than the limit of {MAX_HYPOTHESIS_CHARS}: "
                "use a shorter label (a few words) or template"
            )


def _require_valid_unicode(value: str, *, field: str) -> None:
    position = first_lone_surrogate(value)
    if position is not None:
        raise RequestError(
            f"{field} is not valid Unicode: a lone UTF-16 surrogate "
            f"(\\u{ord(value[position]):04x}) at character {position}; send well-formed text"
        )


def _require_object(value: Any, *, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestError(f"{what} must be a JSON object, got {json_type(value)}")
    return value


def _require_text(value: Any, *, field: str) -> str:
    if not isinstance(value, str):
        raise RequestError(f'"{field}" must be a string, got {json_type(value)} {_quote(value)}')
    # The pipeline refuses an empty sequence too ("at least one sequence").
    if not value:
        raise RequestError(f'"{field}" is an empty string: give text to classify')
    _require_valid_unicode(value, field=f'"{field}"')
    return value


def _reject_unknown_keys(payload: dict[str, Any], *, allowed: tuple[str, ...], where: str) -> None:
    # A typo such as "multilabel" would otherwise silently fall back to the default.
    unknown = sorted(key for key in payload if key not in allowed)
    if unknown:
        shown = ", ".join(_quote(key) for key in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise RequestError(
            f"{where} has unknown keys [{shown}{more}]: allowed keys are {list(allowed)!r}"
        )

"""Bounded work and answers, bad bytes and the request deadline, through the toolkit's real
handler service in-process (the real local model server runs the same bodies in
tests/serving/test_serving_bounded_requests.py).

Each case once crashed or hogged the worker: error lines 24-67 times their input, templates
that multiply every label, one bad byte failing a whole JSON Lines payload, Python's decoder
text as the message, and a request that kept computing after the model server gave up.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from inference_test_support import FakeMmsContext, handle, toolkit_handler_service
from mms.service import PredictionException
from nli_label_orders import NliModelFactory
from sagemaker_huggingface_inference_toolkit.handler_service import HuggingFaceHandlerService

JSON = "application/json"
JSON_LINES = "application/jsonlines"
LABELS = ["Health", "Career"]
PARAMETERS = {"candidate_labels": LABELS}
PAIR_CAP = 200
# compact_line_error's guarantee: an error line, newline included, is at most 33 times its
# input line, newline included.
EXPANSION = 33

Handler = tuple[HuggingFaceHandlerService, FakeMmsContext]


@pytest.fixture(scope="module")
def handler(
    make_tiny_nli_model: NliModelFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Handler]:
    with toolkit_handler_service(
        weights_dir=make_tiny_nli_model(seed=5),
        target=tmp_path_factory.mktemp("bounded-model"),
        env={"ZSTC_PRECISION": "fp32"},
    ) as service:
        yield service


def _record(record_id: Any = None, inputs: Any = "save more money", **parameters: Any) -> str:
    record: dict[str, Any] = {"inputs": inputs, "parameters": {**PARAMETERS, **parameters}}
    if record_id is not None:
        record = {"id": record_id, **record}
    return json.dumps(record, ensure_ascii=False)


def _answer_lines(handler: Handler, body: bytes) -> list[str]:
    response = handle(handler, body, content_type=JSON_LINES, accept=JSON_LINES)
    return response.split("\n")


def _bad_request(handler: Handler, body: bytes, content_type: str = JSON, **kw: Any) -> str:
    with pytest.raises(PredictionException) as raised:
        handle(handler, body, content_type=content_type, **kw)
    assert raised.value.error_code == 400
    message = str(raised.value.message)
    assert len(message) <= 500
    return message


def test_error_lines_stay_within_33_times_their_input(handler: Handler) -> None:
    inputs = ["", "{}", "x", "1", "null", "[]", '""', "  ", '{"id":1e15}', '{"id": 7}', "{" * 5]
    inputs += ['{"inputs": 1, "parameters": {"candidate_labels": ["a"]}}', "\ufeff{}"]
    body = ("\n".join(inputs) + "\n").encode()

    answers = _answer_lines(handler, body)

    assert len(answers) == len(inputs)
    for source, answer in zip(inputs, answers, strict=True):
        error_line = json.loads(answer)
        assert set(error_line) == {"id", "error"}, answer
        assert len(answer.encode()) + 1 <= EXPANSION * (len(source.encode()) + 1), (source, answer)
    assert json.loads(answers[0])["error"] == "blank line"


def test_an_error_line_does_not_echo_the_input(handler: Handler) -> None:
    huge = "y" * 50_000
    lines = [_record("t", hypothesis_template=huge + "{}"), _record("k", inputs=[huge])]

    answers = [json.loads(line) for line in _answer_lines(handler, "\n".join(lines).encode())]

    for answer in answers:
        assert len(answer["error"]) <= 200 and "y" * 21 not in answer["error"]


def test_one_hundred_thousand_empty_objects_are_refused_before_parsing(handler: Handler) -> None:
    # 300 KB that once made a 7 MB answer and killed the worker.
    body = b"{}\n" * 100_000
    started = time.monotonic()

    message = _bad_request(handler, body, content_type=JSON_LINES, accept=JSON_LINES)

    assert "100000 JSON Lines records" in message and f"limit of {PAIR_CAP}" in message
    assert time.monotonic() - started < 2


def test_an_answer_over_the_model_servers_limit_is_a_400_naming_it(
    handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMS_MAX_RESPONSE_SIZE", "2000")
    body = ("\n".join(_record(index, inputs="z" * 400) for index in range(10)) + "\n").encode()

    message = _bad_request(handler, body, content_type=JSON_LINES, accept=JSON_LINES)

    assert "response limit of 2000 bytes" in message and "MMS_MAX_RESPONSE_SIZE" in message
    monkeypatch.delenv("MMS_MAX_RESPONSE_SIZE")
    assert len(_answer_lines(handler, body)) == 10


def test_an_amplifying_template_is_refused_before_tokenizing(handler: Handler) -> None:
    labels = [f"{index:02d}" + "L" * 98 for index in range(10)]
    body = json.dumps(
        {
            "inputs": "t",
            "parameters": {"candidate_labels": labels, "hypothesis_template": "{0}" * 20_000},
        }
    ).encode()
    started = time.monotonic()

    message = _bad_request(handler, body)

    assert time.monotonic() - started < 1, "refused before any tokenizing"
    assert "hypothesis_template" in message and "limit of 300" in message


@pytest.mark.parametrize("template", ["{0} {0}", "{}{0}", "{0}" * 3])
def test_a_template_has_exactly_one_placeholder(handler: Handler, template: str) -> None:
    body = json.dumps(
        {"inputs": "t", "parameters": {**PARAMETERS, "hypothesis_template": template}}
    )

    message = _bad_request(handler, body.encode())

    assert "use exactly one {}" in message


def test_a_hypothesis_over_its_length_limit_names_the_label(handler: Handler) -> None:
    labels = ["short", "w" * 990]
    body = json.dumps({"inputs": "t", "parameters": {"candidate_labels": labels}}).encode()

    message = _bad_request(handler, body)

    assert 'candidate_labels"[1]' in message and "limit of 1000" in message


def test_a_line_that_is_not_utf8_is_that_lines_error_only(handler: Handler) -> None:
    good = _record("good").encode()
    bad = b'{"id": "bad", "inputs": "caf\xe9", "parameters": {"candidate_labels": ["a"]}}'
    body = b"\n".join([good, bad, good]) + b"\n"

    answers = [json.loads(line) for line in _answer_lines(handler, body)]

    assert [("labels" in answer) for answer in answers] == [True, False, True]
    assert answers[1]["error"].startswith("line is not valid UTF-8: byte 0xE9 at byte offset 28")


@pytest.mark.parametrize("content_type", [JSON, "application/json; charset=utf-8"])
def test_a_json_body_with_a_bad_byte_gets_a_fixed_message_naming_the_offset(
    handler: Handler, content_type: str
) -> None:
    # application/json exactly is the type the toolkit used to decode itself, with Python's
    # "'utf-8' codec can't decode byte" as the message.
    body = b'{"inputs": "caf\xe9", "parameters": {"candidate_labels": ["a"]}}'

    message = _bad_request(handler, body, content_type=content_type)

    assert message == (
        "request body is not valid UTF-8: byte 0xE9 at byte offset 15 is not part of a UTF-8 "
        "character; send UTF-8 text"
    )


@pytest.mark.parametrize(
    ("encode", "named"),
    [
        (gzip.compress, "gzip-compressed"),
        (lambda raw: raw.decode().encode("utf-16"), "UTF-16"),
        (lambda raw: raw.decode().encode("utf-16-le"), "UTF-16 or UTF-32"),
        (lambda raw: raw.decode().encode("utf-32"), "UTF-32"),
    ],
)
@pytest.mark.parametrize("content_type", [JSON, JSON_LINES])
def test_compressed_and_utf16_bodies_are_told_what_to_send(
    handler: Handler, encode: Any, named: str, content_type: str
) -> None:
    body = encode((_record("x") + "\n").encode())

    message = _bad_request(handler, body, content_type=content_type, accept=content_type)

    assert named in message and "send" in message and "codec" not in message


def test_a_csv_body_with_a_bad_byte_gets_the_content_type_message(handler: Handler) -> None:
    message = _bad_request(handler, b"a,b\n\xff\n", content_type="text/csv")

    assert "Content-Type 'text/csv' is not supported" in message


def test_labels_equal_in_nfc_are_duplicates(handler: Handler) -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert unicodedata.normalize("NFC", decomposed) == composed
    body = json.dumps({"inputs": "t", "parameters": {"candidate_labels": [composed, decomposed]}})

    message = _bad_request(handler, body.encode())

    assert "duplicate labels" in message and "NFC" in message


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"inputs": None, "parameters": PARAMETERS}, "got null"),
        ({"inputs": {"a": 1}, "parameters": PARAMETERS}, "got an object"),
        ({"inputs": "t", "parameters": []}, "got an array"),
        ({"inputs": "t", "parameters": {"candidate_labels": [1.5]}}, "got a number"),
        ({"inputs": "t", "parameters": {"candidate_labels": True}}, "got a boolean"),
    ],
)
def test_messages_name_json_types_not_python_ones(
    handler: Handler, payload: dict[str, Any], named: str
) -> None:
    message = _bad_request(handler, json.dumps(payload).encode())

    assert named in message
    for python_name in ("NoneType", "dict", "list", "float", "bool", "str"):
        assert f"got {python_name}" not in message


def test_a_byte_order_mark_starting_a_later_line_is_ignored(handler: Handler) -> None:
    # Two files joined with cat: the second file's BOM starts a line in the middle of the body.
    body = (_record(1) + "\n\ufeff" + _record(2) + "\n").encode()

    answers = [json.loads(line) for line in _answer_lines(handler, body)]

    assert [answer["id"] for answer in answers] == [1, 2]
    assert all("labels" in answer for answer in answers)


def test_a_bom_inside_a_line_is_named_plainly(handler: Handler) -> None:
    body = ('{"id": 1,\ufeff "inputs": "t"}\n' + _record(2) + "\n").encode()

    answers = [json.loads(line) for line in _answer_lines(handler, body)]

    assert (
        "utf-8-sig" not in answers[0]["error"] and "line is not valid JSON" in answers[0]["error"]
    )


def test_work_stops_at_the_deadline_with_a_clear_error(
    handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    deadline_module = sys.modules["request_deadline"]
    nli_module = sys.modules["nli_classifier"]
    ticks = iter(range(0, 10_000, 20))

    def fake_clock() -> float:
        return float(next(ticks))

    def from_env(cls: Any, environ: Any = None) -> Any:
        return cls(timeout_seconds=60.0, clock=fake_clock)

    monkeypatch.setattr(deadline_module.Deadline, "from_env", classmethod(from_env))
    forward_calls: list[int] = []
    original_forward = nli_module.NliClassifier._forward

    def counting_forward(self: Any, encodings: Any) -> Any:
        forward_calls.append(len(encodings))
        return original_forward(self, encodings)

    monkeypatch.setattr(nli_module.NliClassifier, "_forward", counting_forward)
    monkeypatch.setattr(nli_module, "TOKENIZE_CHUNK_PAIRS", 2)
    body = json.dumps({"inputs": ["a b c"] * 50, "parameters": PARAMETERS}).encode()

    message = _bad_request(handler, body)

    # The clock starts at 0 and each check advances it 20 s: the third passes the budget
    # (60 s less a 5 s margin) while the pairs are still being tokenized.
    assert "abandoned after" in message and "timeout of 60 s" in message
    assert forward_calls == [], "no forward pass after the deadline"

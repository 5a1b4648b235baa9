"""Hostile and odd input through the toolkit's real handler service, in-process.

Each case here once failed a whole request or killed the worker:
- a lone UTF-16 surrogate, echoed in an id or an error message, cannot be encoded as UTF-8 by
  multi-model-server after the handler returned, and the worker process exits;
- NaN / Infinity / 1e999 ids, integers of more than 4300 digits, deep nesting and templates such
  as {0.x}, {0[a]} or {0[3]} raised exceptions that failed the whole JSON Lines payload;
- error messages echoed whole values (a 100 KB label gave a 100 KB error) or raw Python
  exception text.
`handle` encodes every response as UTF-8, as the model server does, so a response that would
kill the worker fails the test.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from fuzz_bodies import RAW_EXCEPTION_TEXT
from inference_test_support import FakeMmsContext, handle, toolkit_handler_service
from mms.service import PredictionException
from nli_label_orders import NliModelFactory
from sagemaker_huggingface_inference_toolkit.handler_service import HuggingFaceHandlerService

JSON = "application/json"
JSON_LINES = "application/jsonlines"
LABELS = ["Health", "Career", "Finance"]
PARAMETERS = {"candidate_labels": LABELS}
PAIR_CAP = 12
MARKER = "ZSTC_SERVER_ERROR"

Handler = tuple[HuggingFaceHandlerService, FakeMmsContext]


@pytest.fixture(scope="module")
def handler(
    make_tiny_nli_model: NliModelFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Handler]:
    with toolkit_handler_service(
        weights_dir=make_tiny_nli_model(seed=3),
        target=tmp_path_factory.mktemp("hostile-model"),
        env={"ZSTC_PRECISION": "fp32", "ZSTC_MAX_PAIRS_PER_REQUEST": str(PAIR_CAP)},
    ) as service:
        yield service


def _record(record_id: Any = None, inputs: Any = "save more money", **parameters: Any) -> str:
    record: dict[str, Any] = {"inputs": inputs, "parameters": {**PARAMETERS, **parameters}}
    if record_id is not None:
        record = {"id": record_id, **record}
    return json.dumps(record)


def _json_lines(handler: Handler, lines: list[str]) -> list[dict[str, Any]]:
    body = ("\n".join(lines) + "\n").encode("utf-8")
    response = handle(handler, body, content_type=JSON_LINES, accept=JSON_LINES)
    assert handler[1].response_content_types[0] == JSON_LINES
    outputs = [json.loads(line) for line in response.split("\n")]
    assert len(outputs) == len(lines), "exactly one output line per input line"
    return outputs


def _bad_request(handler: Handler, body: bytes, content_type: str = JSON, **kw: Any) -> str:
    with pytest.raises(PredictionException) as raised:
        handle(handler, body, content_type=content_type, **kw)
    assert raised.value.error_code == 400
    message = str(raised.value.message)
    message.encode("utf-8")
    _assert_clean(message)
    return message


def _assert_clean(message: str) -> None:
    assert len(message) <= 500, f"unbounded error of {len(message)} characters"
    for raw in RAW_EXCEPTION_TEXT:
        assert raw not in message, message


def test_lone_surrogates_in_ids_come_back_intact_and_encodable(handler: Handler) -> None:
    ids = ["\ud800", "a\udfffb", {"k\udc80": ["\ud83d"]}, "\U0001f600 ok", "\udc00\ud800"]
    # json.dumps writes the lone surrogates as \u escapes, as a client would send them.
    lines = [_record(record_id, candidate_labels=LABELS[:2]) for record_id in ids]

    outputs = _json_lines(handler, lines)

    assert [output["id"] for output in outputs] == ids
    assert all("labels" in output for output in outputs)


@pytest.mark.parametrize(
    ("record", "named"),
    [
        (_record(1, inputs="bad \udc00 text"), '"inputs" is not valid Unicode'),
        (_record(1, candidate_labels=["ok", "x\ud800"]), 'candidate_labels"[1] is not valid'),
        (_record(1, candidate_labels="a,\ud800b"), '"parameters.candidate_labels" is not valid'),
        (_record(1, hypothesis_template="It is {} \udfff"), 'hypothesis_template" is not valid'),
        (json.dumps({"id": 1, "inputs": "x", "parameters": PARAMETERS, "\ud800": 1}), "unknown"),
    ],
    ids=["text", "label", "comma-labels", "template", "unknown-key"],
)
def test_lone_surrogates_in_text_labels_and_template_are_that_lines_error(
    handler: Handler, record: str, named: str
) -> None:
    good = _record("good")

    outputs = _json_lines(handler, [good, record, good])

    assert "labels" in outputs[0] and "labels" in outputs[2]
    assert outputs[1]["id"] == 1
    assert named in outputs[1]["error"]
    _assert_clean(outputs[1]["error"])


def test_lone_surrogate_in_a_json_request_is_a_clean_400(handler: Handler) -> None:
    body = json.dumps({"inputs": "x", "parameters": {"candidate_labels": ["\ud800" * 3, "b"]}})

    message = _bad_request(handler, body.encode())

    assert 'candidate_labels"[0] is not valid Unicode' in message
    assert "\\ud800" in message


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ('{"id": NaN, "inputs": "x", "parameters": {"candidate_labels": ["a", "b"]}}', "NaN"),
        ('{"id": Infinity, "inputs": "x", "parameters": {"candidate_labels": ["a"]}}', "Infinity"),
        ('{"id": -Infinity, "inputs": "x", "parameters": {"candidate_labels": ["a"]}}', "Infinity"),
        ('{"id": 1e999, "inputs": "x", "parameters": {"candidate_labels": ["a"]}}', "1e999"),
        ('{"id": ' + "9" * 5000 + ', "inputs": "x"}', "5000 digits"),
        ('{"id": ' + "[" * 100 + "]" * 100 + ', "inputs": "x"}', "nests too deeply"),
        ('{"id": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests too deeply"),
        ('{"id": ' + '{"a":' * 70 + "1" + "}" * 70 + ', "inputs": "x"}', "nests too deeply"),
    ],
    ids=[
        "nan",
        "infinity",
        "minus-infinity",
        "1e999",
        "5000-digits",
        "depth-100",
        "depth-1e5",
        "objects",
    ],
)
def test_unrepresentable_values_are_that_lines_error(
    handler: Handler, line: str, named: str
) -> None:
    outputs = _json_lines(handler, [_record("before"), line, _record("after")])

    assert [outputs[0]["id"], outputs[2]["id"]] == ["before", "after"]
    assert "labels" in outputs[0] and "labels" in outputs[2]
    assert outputs[1]["id"] is None
    assert "line" in outputs[1]["error"] and named in outputs[1]["error"]
    _assert_clean(outputs[1]["error"])


def test_large_but_representable_ids_come_back_intact(handler: Handler) -> None:
    ids = [int("9" * 1000), -(10**999), 1.5e308, [[[[["deep"]]]]], "x" * 100_000]

    lines = [_record(record_id, candidate_labels=LABELS[:2]) for record_id in ids]
    outputs = _json_lines(handler, lines)

    assert [output["id"] for output in outputs] == ids


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("{0.x}", "contains '{0.x}'"),
        ("{0[a]}", "contains '{0[a]}'"),
        ("{0[3]}", "contains '{0[3]}'"),
        ("{label}", "contains '{label}'"),
        ("{1}", "contains '{1}'"),
        ("{:d}", "contains '{:d}'"),
        ("{!r}", "contains '{!r}'"),
        ("{} and {}", "has 2 replacement fields"),
        ("{}{0}", "has 2 replacement fields"),
        ("{0} or not {0}?", "has 2 replacement fields"),
        ("{0}" * 20_000, "more than the limit of 300"),
        ("It is { a label", "unmatched {"),
        ("It is } a label", "unmatched {"),
        ("No slot at all.", "has no {} where the label goes"),
        ("Only {{literal}} braces.", "has no {} where the label goes"),
    ],
)
def test_templates_that_cannot_take_every_label_name_the_problem(
    handler: Handler, template: str, named: str
) -> None:
    outputs = _json_lines(handler, [_record("t", hypothesis_template=template), _record("good")])

    assert outputs[0]["id"] == "t"
    assert "hypothesis_template" in outputs[0]["error"] and named in outputs[0]["error"]
    _assert_clean(outputs[0]["error"])
    assert "labels" in outputs[1]


def test_a_template_is_checked_for_every_label_not_just_the_first(handler: Handler) -> None:
    # "{0[3]}" formats "Health" (its 4th letter) but not "Hi": it used to pass the first-label
    # check, then fail the whole payload at format time.
    record = _record("later", candidate_labels=["Health", "Hi"], hypothesis_template="{0[3]}")

    outputs = _json_lines(handler, [record, _record("good")])

    assert "contains '{0[3]}'" in outputs[0]["error"]
    assert "labels" in outputs[1]


@pytest.mark.parametrize("template", ["This is {}.", "{{literal}} then {}", "{0}"])
def test_templates_that_take_every_label_are_accepted(handler: Handler, template: str) -> None:
    outputs = _json_lines(handler, [_record("ok", hypothesis_template=template)])

    assert sorted(outputs[0]["labels"]) == sorted(LABELS)


def test_errors_are_bounded_even_for_huge_values(handler: Handler) -> None:
    huge = "x" * 100_000
    lines = [
        _record("dup", candidate_labels=[huge, huge]),
        _record("key", **{huge: 1}),
        _record("type", inputs=[huge]),
        _record("template", hypothesis_template=huge),
    ]

    outputs = _json_lines(handler, lines)

    for output in outputs:
        _assert_clean(output["error"])
    message = _bad_request(handler, json.dumps({"inputs": 1, "parameters": {huge: 1}}).encode())
    assert "unknown keys" in message


def test_json_request_with_unrepresentable_numbers_is_a_clean_400(handler: Handler) -> None:
    for body, named in [
        ('{"inputs": NaN, "parameters": {"candidate_labels": ["a"]}}', "NaN"),
        ('{"inputs": "x", "parameters": {"multi_label": ' + "1" * 5000 + "}}", "digits"),
        ('{"inputs": ' + "[" * 50_000 + "]" * 50_000 + "}", "nests too deeply"),
    ]:
        message = _bad_request(handler, body.encode())
        assert "request body" in message and named in message


def test_pairs_above_the_cap_get_400_naming_the_cap_and_batch(handler: Handler) -> None:
    texts = [f"text {index}" for index in range(PAIR_CAP // len(LABELS) + 1)]
    body = json.dumps({"inputs": texts, "parameters": PARAMETERS}).encode()

    message = _bad_request(handler, body)

    assert f"{len(texts) * len(LABELS)} (text, label) pairs" in message
    assert f"limit of {PAIR_CAP}" in message and "ZSTC_MAX_PAIRS_PER_REQUEST" in message
    assert "JSON Lines" in message and "batch" in message


def test_pairs_at_the_cap_are_classified(handler: Handler) -> None:
    texts = [f"text {index}" for index in range(PAIR_CAP // len(LABELS))]
    body = json.dumps({"inputs": texts, "parameters": PARAMETERS}).encode()

    results = json.loads(handle(handler, body, content_type=JSON))

    assert [result["sequence"] for result in results] == texts


def test_json_lines_at_the_endpoint_are_capped_like_json(handler: Handler) -> None:
    # 12 pairs fit; 13 records of one label, or 5 records of 3 labels, do not.
    fits = [_record(index, candidate_labels=LABELS[:1]) for index in range(PAIR_CAP)]
    assert all("labels" in output for output in _json_lines(handler, fits))
    for lines in (
        [*fits, _record("one more", candidate_labels=LABELS[:1])],
        [_record(index) for index in range(5)],
        ["{}"] * (PAIR_CAP + 1),
    ):
        body = ("\n".join(lines) + "\n").encode()
        message = _bad_request(handler, body, content_type=JSON_LINES, accept=JSON_LINES)
        assert f"{len(lines)} JSON Lines records" in message
        assert f"limit of {PAIR_CAP} per real-time request" in message and "batch" in message


def test_json_lines_in_batch_transform_are_bounded_by_the_payload_not_the_cap(
    handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SageMaker sets SAGEMAKER_BATCH=true in a transform job's container.
    monkeypatch.setenv("SAGEMAKER_BATCH", "true")
    lines = [_record(index) for index in range(PAIR_CAP)]

    outputs = _json_lines(handler, lines)

    assert all("labels" in output for output in outputs)


@pytest.mark.parametrize(
    ("content_type", "accept", "expected"),
    [
        (JSON, None, JSON),
        (JSON, "*/*", JSON),
        (JSON, JSON, JSON),
        (JSON, "application/json; charset=utf-8", "application/json; charset=utf-8"),
        (JSON_LINES, JSON_LINES, JSON_LINES),
        ("application/x-jsonlines", JSON_LINES, JSON_LINES),
    ],
)
def test_the_response_content_type_is_the_bodys_media_type(
    handler: Handler, content_type: str, accept: str | None, expected: str
) -> None:
    body = _record(1) if content_type != JSON else _record()

    handle(handler, body.encode(), content_type=content_type, accept=accept)

    assert handler[1].response_content_types[0] == expected


@pytest.mark.parametrize(
    ("content_type", "accept"),
    [
        (JSON, "application/*"),
        (JSON, "application/json, text/plain, */*"),
        (JSON, JSON_LINES),
        (JSON_LINES, None),
        (JSON_LINES, "*/*"),
        (JSON_LINES, JSON),
        (JSON_LINES, "application/x-jsonlines"),
    ],
)
def test_an_accept_that_would_mislabel_the_body_is_a_400_saying_what_to_send(
    handler: Handler, content_type: str, accept: str | None
) -> None:
    body = _record(1) if content_type == JSON_LINES else _record()

    message = _bad_request(handler, body.encode(), content_type=content_type, accept=accept)

    expected = JSON_LINES if content_type == JSON_LINES else JSON
    assert f"Send Accept: {expected}" in message


@pytest.fixture
def out_of_memory(handler: Handler, monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU runs out of memory in every forward pass: torch's own exception, raised where
    torch raises it (the model's forward), not in zstc's code."""
    model: Any = handler[0].model.model  # type: ignore[attr-defined]

    def forward(*args: Any, **kwargs: Any) -> Any:
        raise torch.cuda.OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 14.58 GiB total capacity)"
        )

    monkeypatch.setattr(model, "forward", forward)


@pytest.mark.usefixtures("out_of_memory")
def test_a_server_failure_is_logged_with_the_marker_and_hidden_from_the_caller(
    handler: Handler, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        message = _bad_request(handler, _record().encode())

    assert "not a problem with the request" in message
    assert "CUDA" not in message
    marked = [record for record in caplog.records if record.getMessage().startswith(MARKER)]
    assert marked, "the failure must be logged with the server error marker"
    assert "OutOfMemoryError" in marked[0].getMessage()
    assert marked[0].exc_info is not None, "the traceback goes to the log"
    assert marked[0].levelno == logging.ERROR


@pytest.mark.usefixtures("out_of_memory")
def test_a_server_failure_in_json_lines_is_each_lines_error_and_logged(
    handler: Handler, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        outputs = _json_lines(handler, [_record("a"), "not json", _record("b")])

    assert [output["id"] for output in outputs] == ["a", None, "b"]
    assert "not a problem with the request" in outputs[0]["error"]
    assert "not valid JSON" in outputs[1]["error"]
    assert any(record.getMessage().startswith(MARKER) for record in caplog.records)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        json.dumps({"inputs": "x", "parameters": {"candidate_labels": []}}).encode(),
        b'{"inputs": NaN}',
    ],
)
def test_a_callers_mistake_is_not_logged_as_a_server_error(
    handler: Handler, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    with caplog.at_level(logging.DEBUG):
        _bad_request(handler, body)

    assert not [record for record in caplog.records if MARKER in record.getMessage()]


def test_the_marker_is_the_one_the_metric_filter_matches() -> None:
    from server_error_log import SERVER_ERROR_MARKER

    assert SERVER_ERROR_MARKER == MARKER


def test_model_load_failure_is_logged_with_the_marker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from inference import model_fn
    from nli_classifier import ModelLoadError

    with caplog.at_level(logging.INFO), pytest.raises(ModelLoadError, match="holds no model"):
        model_fn(str(tmp_path))

    assert any(record.getMessage().startswith(MARKER) for record in caplog.records)

"""The real toolkit runs the code: HuggingFaceHandlerService loads code/inference.py from a dir
laid out like the unpacked model.tar.gz and answers JSON and JSON Lines requests, good and bad.

The toolkit turns any exception into PredictionException(message, 400), which the model server
sends as HTTP 400; these tests assert the code and that the message names the problem.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from inference_test_support import FakeMmsContext, handle, toolkit_handler_service
from mms.service import PredictionException
from nli_label_orders import NliModelFactory
from sagemaker_huggingface_inference_toolkit.handler_service import HuggingFaceHandlerService

LABEL_LIMIT = 4
JSON_LINES = "application/jsonlines"
GOOD_PARAMETERS = {"candidate_labels": ["Health", "Career", "Finance"]}


@pytest.fixture(scope="module")
def handler(
    make_tiny_nli_model: NliModelFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[HuggingFaceHandlerService, FakeMmsContext]]:
    with toolkit_handler_service(
        weights_dir=make_tiny_nli_model(seed=7),
        target=tmp_path_factory.mktemp("toolkit-model"),
        env={"ZSTC_MAX_CANDIDATE_LABELS": str(LABEL_LIMIT), "ZSTC_PRECISION": "fp32"},
    ) as service:
        yield service


def _call(
    handler: tuple[HuggingFaceHandlerService, FakeMmsContext],
    body: bytes,
    content_type: str | None,
    accept: str | None = None,
) -> str:
    return handle(handler, body, content_type=content_type, accept=accept)


def _bad_request(
    handler: tuple[HuggingFaceHandlerService, FakeMmsContext],
    body: bytes,
    content_type: str | None = "application/json",
    accept: str | None = None,
) -> str:
    with pytest.raises(PredictionException) as raised:
        _call(handler, body, content_type, accept)
    assert raised.value.error_code == 400
    message = str(raised.value.message)
    assert "Traceback" not in message
    return message


def _json(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def test_code_is_loaded_from_the_code_dir_of_the_model(
    handler: tuple[HuggingFaceHandlerService, FakeMmsContext],
) -> None:
    service, context = handler
    assert Path(sys.modules["inference"].__file__ or "").parent == context.model_dir / "code"
    assert service.model.kind == "nli"


def test_single_text_gets_one_ranked_object(
    handler: tuple[HuggingFaceHandlerService, FakeMmsContext],
) -> None:
    body = _json({"inputs": "I will run a marathon", "parameters": GOOD_PARAMETERS})
    response = json.loads(_call(handler, body, "application/json"))
    assert response["sequence"] == "I will run a marathon"
    assert sorted(response["labels"]) == ["Career", "Finance", "Health"]
    assert response["scores"] == sorted(response["scores"], reverse=True)
    assert sum(response["scores"]) == pytest.approx(1.0, abs=1e-5)
    assert handler[1].response_content_types[0] == "application/json"


def test_list_inputs_get_a_list_in_order_with_charset_content_type(
    handler: tuple[HuggingFaceHandlerService, FakeMmsContext],
) -> None:
    texts = ["save more money", "learn piano", "call mom every week"]
    body = _json({"inputs": texts, "parameters": {**GOOD_PARAMETERS, "multi_label": True}})
    response = json.loads(_call(handler, body, "application/json; charset=utf-8"))
    assert [item["sequence"] for item in response] == texts
    # Multi-label scores are independent probabilities, so they need not sum to 1.
    for item in response:
        assert all(0.0 < score < 1.0 for score in item["scores"])


def test_comma_separated_labels_and_custom_template(
    handler: tuple[HuggingFaceHandlerService, FakeMmsContext],
) -> None:
    body = _json(
        {
            "inputs": "Je vais courir",
            "parameters": {
                "candidate_labels": "santé, carrière",
                "hypothesis_template": "C'est {}.",
            },
        }
    )
    response = json.loads(_call(handler, body, "application/json"))
    assert sorted(response["labels"]) == ["carrière", "santé"]


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'{"inputs": "x", "parameters": ', "application/json", "not valid JSON"),
        (b"", "application/json", "body is empty"),
        (b"\xff\xfe{}", "application/json; charset=utf-8", "UTF-16 (byte order mark FF FE)"),
        (b"{\xff}", "application/json", "not valid UTF-8: byte 0xFF at byte offset 1"),
        (b'["a"]', "application/json", "must be a JSON object"),
        (_json({"parameters": GOOD_PARAMETERS}), "application/json", '"inputs" is missing'),
        (_json({"inputs": 42, "parameters": GOOD_PARAMETERS}), "application/json", '"inputs"'),
        (
            _json({"inputs": ["ok", 3], "parameters": GOOD_PARAMETERS}),
            "application/json",
            "inputs[1]",
        ),
        (_json({"inputs": [], "parameters": GOOD_PARAMETERS}), "application/json", "empty list"),
        (_json({"inputs": "", "parameters": GOOD_PARAMETERS}), "application/json", "empty string"),
        (_json({"inputs": "x"}), "application/json", '"parameters" is missing'),
        (
            _json({"inputs": "x", "parameters": {"candidate_labels": []}}),
            "application/json",
            'candidate_labels" is empty',
        ),
        (
            _json({"inputs": "x", "parameters": {"candidate_labels": " , ,"}}),
            "application/json",
            'candidate_labels" is empty',
        ),
        (
            _json({"inputs": "x", "parameters": {"candidate_labels": ["a", "b", "a"]}}),
            "application/json",
            "duplicate labels ['a']",
        ),
        (
            _json(
                {
                    "inputs": "x",
                    "parameters": {**GOOD_PARAMETERS, "hypothesis_template": "No placeholder."},
                }
            ),
            "application/json",
            "hypothesis_template",
        ),
        (
            _json(
                {"inputs": "x", "parameters": {**GOOD_PARAMETERS, "hypothesis_template": "{label}"}}
            ),
            "application/json",
            "contains '{label}': the label can only go in a plain {}",
        ),
        (
            _json({"inputs": "x", "parameters": {"candidate_labels": list("abcde")}}),
            "application/json",
            f"more than the limit of {LABEL_LIMIT}",
        ),
        (
            _json({"inputs": "x", "parameters": {**GOOD_PARAMETERS, "multi_label": "yes"}}),
            "application/json",
            "multi_label",
        ),
        (
            _json({"inputs": "x", "parameters": {**GOOD_PARAMETERS, "multilabel": True}}),
            "application/json",
            "unknown keys ['multilabel']",
        ),
        (
            _json({"inputs": "x", "parameters": GOOD_PARAMETERS}),
            "text/csv",
            "Content-Type 'text/csv'",
        ),
        (
            _json({"inputs": "x", "parameters": GOOD_PARAMETERS}),
            None,
            "Content-Type header is missing",
        ),
        (b"\n\n", "application/jsonlines", "no JSON Lines records"),
    ],
)
def test_bad_requests_get_400_naming_the_problem(
    handler: tuple[HuggingFaceHandlerService, FakeMmsContext],
    body: bytes,
    content_type: str | None,
    expected: str,
) -> None:
    message = _bad_request(handler, body, content_type)
    assert expected in message


def test_unsupported_accept_gets_400(
    handler: tuple[HuggingFaceHandlerService, FakeMmsContext],
) -> None:
    body = _json({"inputs": "x", "parameters": GOOD_PARAMETERS})
    message = _bad_request(handler, body, "application/json", accept="text/csv")
    assert "Accept 'text/csv' does not fit" in message
    assert "Send Accept: application/json" in message


def test_json_lines_bad_lines_become_error_lines_in_place(
    handler: tuple[HuggingFaceHandlerService, FakeMmsContext],
) -> None:
    lines = [
        json.dumps({"id": "a", "inputs": "run daily", "parameters": GOOD_PARAMETERS}),
        "{not json",
        json.dumps({"id": 7, "inputs": ["two", "texts"], "parameters": GOOD_PARAMETERS}),
        json.dumps({"inputs": "no id here", "parameters": {"candidate_labels": "x,y"}}),
        "",
        json.dumps({"id": "e", "inputs": "x", "parameters": {"candidate_labels": ["x", "x"]}}),
        json.dumps(
            {
                "id": "f",
                "inputs": "x",
                "parameters": {**GOOD_PARAMETERS, "hypothesis_template": "nope"},
            }
        ),
        json.dumps([1, 2]),
        json.dumps({"id": "h", "parameters": GOOD_PARAMETERS}),
        json.dumps(
            {"id": {"nested": True}, "inputs": "save money 💰", "parameters": GOOD_PARAMETERS}
        ),
    ]
    body = ("\n".join(lines) + "\n").encode()
    response = _call(handler, body, "application/jsonlines", accept="application/jsonlines")
    outputs = [json.loads(line) for line in response.split("\n")]
    assert len(outputs) == len(lines)
    assert [output["id"] for output in outputs] == [
        "a",
        None,
        7,
        None,
        None,
        "e",
        "f",
        None,
        "h",
        {"nested": True},
    ]
    good = {0, 3, 9}
    for index, output in enumerate(outputs):
        assert ("error" in output) == (index not in good), (index, output)
    assert outputs[0]["sequence"] == "run daily"
    assert sorted(outputs[3]["labels"]) == ["x", "y"]
    assert outputs[9]["sequence"] == "save money 💰"
    assert "line is not valid JSON" in outputs[1]["error"]
    assert "single string" in outputs[2]["error"]
    assert "blank line" in outputs[4]["error"]
    assert "duplicate labels" in outputs[5]["error"]
    assert "hypothesis_template" in outputs[6]["error"]
    assert "must be a JSON object" in outputs[7]["error"]
    assert '"inputs" is missing' in outputs[8]["error"]
    assert handler[1].response_content_types[0] == "application/jsonlines"


def test_json_lines_without_trailing_newline_and_with_crlf(
    handler: tuple[HuggingFaceHandlerService, FakeMmsContext],
) -> None:
    lines = [
        json.dumps({"id": n, "inputs": f"text {n}", "parameters": GOOD_PARAMETERS})
        for n in range(3)
    ]
    for body in ("\n".join(lines), "\r\n".join(lines) + "\r\n"):
        response = _call(handler, body.encode(), "application/jsonlines; charset=utf-8", JSON_LINES)
        outputs = [json.loads(line) for line in response.split("\n")]
        assert [output["id"] for output in outputs] == [0, 1, 2]
        assert all("labels" in output for output in outputs)


def test_json_lines_with_only_bad_lines_still_answers_every_line(
    handler: tuple[HuggingFaceHandlerService, FakeMmsContext],
) -> None:
    response = _call(handler, b'{"id": 1}\n[]\n', "application/jsonlines", JSON_LINES)
    outputs = [json.loads(line) for line in response.split("\n")]
    assert [output["id"] for output in outputs] == [1, None]
    assert all("error" in output for output in outputs)

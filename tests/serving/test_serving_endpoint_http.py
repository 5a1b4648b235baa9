"""The local endpoint over HTTP: the real multi-model-server, the real toolkit handler service,
zstc's inference code, and a tiny NLI model. What these tests see is what a SageMaker endpoint
with the same model.tar.gz answers."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zstc.local.endpoint import Invocation, LocalEndpoint, find_free_port
from zstc.models.artifact import prepare_model_dir

LABELS = ["Health", "Humor", "Personal Growth", "Finance"]
TEXT = "#newyearsresolution :: read more books, no scrolling fb/checking email b4 breakfast"
MAX_LABELS = 5


@pytest.fixture(scope="module")
def endpoint(
    tiny_nli_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalEndpoint]:
    """One server for the module: the JVM and torch start-up cost seconds."""
    model_dir = prepare_model_dir(
        tmp_path_factory.mktemp("endpoint-model"), weights_dir=tiny_nli_model_dir
    )
    server = LocalEndpoint(
        model_dir,
        port=find_free_port(),
        # fp32 so the scores can be compared with the pipeline's exactly; a small label limit
        # so the limit can be tested. Both travel as environment, as on the endpoint.
        env={"ZSTC_PRECISION": "fp32", "ZSTC_MAX_CANDIDATE_LABELS": str(MAX_LABELS)},
        log_dir=tmp_path_factory.mktemp("endpoint-logs"),
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def pipeline(tiny_nli_model_dir: Path) -> Any:
    from transformers import pipeline as make_pipeline

    return make_pipeline("zero-shot-classification", model=str(tiny_nli_model_dir), device="cpu")


def _request(inputs: Any, labels: Any = LABELS, **parameters: Any) -> str:
    return json.dumps({"inputs": inputs, "parameters": {"candidate_labels": labels, **parameters}})


def _json(answer: Invocation) -> Any:
    assert answer.status == 200, answer.text
    assert answer.content_type == "application/json"
    return json.loads(answer.body)


def _error_message(answer: Invocation) -> str:
    assert answer.status == 400, answer.text
    message = str(json.loads(answer.body)["message"])
    assert "Traceback" not in message
    return message


def _assert_matches_pipeline(result: dict[str, Any], expected: dict[str, Any]) -> None:
    assert result["sequence"] == expected["sequence"]
    assert sorted(result["labels"]) == sorted(expected["labels"])
    assert result["scores"] == sorted(result["scores"], reverse=True)
    ours = dict(zip(result["labels"], result["scores"], strict=True))
    theirs = dict(zip(expected["labels"], expected["scores"], strict=True))
    for label, score in theirs.items():
        assert ours[label] == pytest.approx(score, abs=1e-5), label


def test_ping_answers_healthy(endpoint: LocalEndpoint) -> None:
    with urllib.request.urlopen(f"{endpoint.url}/ping", timeout=10) as response:
        assert response.status == 200
        assert json.loads(response.read())["status"] == "Healthy"


def test_single_text_matches_the_pipeline(endpoint: LocalEndpoint, pipeline: Any) -> None:
    result = _json(endpoint.invoke(_request(TEXT)))

    _assert_matches_pipeline(result, pipeline(TEXT, candidate_labels=LABELS))


def test_a_list_of_texts_gets_a_list_in_the_same_order(
    endpoint: LocalEndpoint, pipeline: Any
) -> None:
    texts = ["I will run a marathon", "save ten percent of every paycheck", "learn Spanish"]

    results = _json(endpoint.invoke(_request(texts)))

    assert isinstance(results, list)
    assert [result["sequence"] for result in results] == texts
    for result, expected in zip(results, pipeline(texts, candidate_labels=LABELS), strict=True):
        _assert_matches_pipeline(result, expected)


def test_multi_label_and_template_and_comma_separated_labels(
    endpoint: LocalEndpoint, pipeline: Any
) -> None:
    body = _request(
        TEXT, labels="Health, Finance,Humor", multi_label=True, hypothesis_template="It is {}."
    )

    result = _json(endpoint.invoke(body))

    expected = pipeline(
        TEXT,
        candidate_labels="Health, Finance,Humor",
        multi_label=True,
        hypothesis_template="It is {}.",
    )
    _assert_matches_pipeline(result, expected)


def test_accept_any_is_answered_as_json(endpoint: LocalEndpoint) -> None:
    answer = endpoint.invoke(_request(TEXT), accept="*/*")

    assert set(_json(answer)) == {"sequence", "labels", "scores"}


def test_json_lines_keep_ids_order_and_a_bad_line_in_the_middle(
    endpoint: LocalEndpoint,
) -> None:
    lines = [
        json.dumps(
            {"id": "a-1", "inputs": "go to the gym", "parameters": {"candidate_labels": LABELS}}
        ),
        json.dumps(
            {
                "id": 7,
                "inputs": "call grandma",
                "parameters": {"candidate_labels": ["Family", "Work"]},
            }
        ),
        '{"id": "broken", "inputs": ',
        json.dumps({"id": "no-labels", "inputs": "a text", "parameters": {"candidate_labels": []}}),
        json.dumps(
            {"inputs": "pay off the credit card", "parameters": {"candidate_labels": LABELS}}
        ),
    ]
    body = "\n".join(lines) + "\n"

    answer = endpoint.invoke(
        body, content_type="application/jsonlines", accept="application/jsonlines"
    )

    assert answer.status == 200, answer.text
    assert answer.content_type == "application/jsonlines"
    out = [json.loads(line) for line in answer.text.splitlines()]
    assert len(out) == len(lines), "exactly one output line per input line"
    assert [line.get("id") for line in out] == ["a-1", 7, None, "no-labels", None]
    assert out[0]["sequence"] == "go to the gym" and sorted(out[0]["labels"]) == sorted(LABELS)
    assert sorted(out[1]["labels"]) == ["Family", "Work"], "each line carries its own labels"
    assert "not valid JSON" in out[2]["error"]
    assert "candidate_labels" in out[3]["error"]
    assert out[4]["sequence"] == "pay off the credit card"
    assert "error" not in out[0] and "error" not in out[4]


def test_json_lines_without_a_json_lines_accept_is_refused_not_mislabelled(
    endpoint: LocalEndpoint,
) -> None:
    # The toolkit labels every response with the request's Accept header, application/json when
    # there is none, so a JSON Lines body would go out as application/json. Batch transform jobs
    # send Accept: application/jsonlines (TransformOutput.Accept).
    body = json.dumps({"id": 1, "inputs": "x", "parameters": {"candidate_labels": LABELS}}) + "\n"

    message = _error_message(endpoint.invoke(body, content_type="application/jsonlines"))

    assert "Send Accept: application/jsonlines" in message


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('{"inputs": "unterminated', "not valid JSON"),
        (json.dumps({"parameters": {"candidate_labels": LABELS}}), '"inputs" is missing'),
        (json.dumps({"inputs": 42, "parameters": {"candidate_labels": LABELS}}), "inputs"),
        (_request(TEXT, labels=[]), "candidate_labels"),
        (_request(TEXT, labels=["Health", "Health"]), "duplicate"),
        (_request(TEXT, hypothesis_template="no placeholder"), "hypothesis_template"),
        (_request(TEXT, labels=[f"label {i}" for i in range(MAX_LABELS + 1)]), "limit"),
    ],
    ids=[
        "invalid-json",
        "no-inputs",
        "inputs-not-text",
        "no-labels",
        "duplicate-labels",
        "template-without-braces",
        "too-many-labels",
    ],
)
def test_bad_requests_get_400_naming_the_problem(
    endpoint: LocalEndpoint, body: str, named: str
) -> None:
    assert named in _error_message(endpoint.invoke(body))


def test_unsupported_content_type_gets_400(endpoint: LocalEndpoint) -> None:
    message = _error_message(endpoint.invoke("a,b,c", content_type="text/csv"))

    assert "text/csv" in message


def test_unsupported_accept_gets_400(endpoint: LocalEndpoint) -> None:
    message = _error_message(endpoint.invoke(_request(TEXT), accept="text/csv"))

    assert "Accept" in message and "text/csv" in message

"""The checker Lambda's reports: a broken promise always shows as a false field, never passes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from flow_checks import check_endpoint, check_transform_output, output_key
from moto import mock_aws

from integ.flow_data import ENDPOINT_REQUEST, LABELS, single_file

REGION = "eu-west-1"
BUCKET = "zstc-integ-data"
JOB = "zstcinteg-input-offline-jsonl-0123456789abcdef"
SINGLE = single_file("offline")
TRANSFORM_FIELDS = (
    "one_line_per_input_line",
    "ids_in_input_order",
    "bad_lines_are_errors_in_place",
    "good_lines_classified",
)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        client.put_object(Bucket=BUCKET, Key=SINGLE.key, Body=SINGLE.body.encode())
        yield client


def _answer(record_id: Any, text: str, scores: list[float] | None = None) -> dict[str, Any]:
    scores = scores or [0.5, 0.2, 0.1, 0.1, 0.05, 0.03, 0.02]
    return {"id": record_id, "sequence": text, "labels": list(LABELS), "scores": scores}


def _expected_output() -> list[dict[str, Any]]:
    """What the inference code writes for the run's single file: errors on lines 2 and 4."""
    output: list[dict[str, Any]] = []
    for line in SINGLE.body.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            output.append({"id": None, "error": "line is not JSON"})
            continue
        if not record["parameters"]["candidate_labels"]:
            output.append({"id": record["id"], "error": "candidate_labels: is empty"})
        else:
            output.append(_answer(record["id"], record["inputs"]))
    return output


def _write_output(s3: Any, lines: list[str]) -> None:
    key = output_key(job_name=JOB, input_key=SINGLE.key)
    s3.put_object(Bucket=BUCKET, Key=key, Body="\n".join(lines).encode())


def _check(s3: Any) -> dict[str, Any]:
    return check_transform_output(
        s3=s3,
        bucket=BUCKET,
        input_key=SINGLE.key,
        job_name=JOB,
        error_lines=list(SINGLE.error_lines),
    )


def test_output_key_is_where_sagemaker_writes_it() -> None:
    assert output_key(job_name=JOB, input_key="input/a/b.jsonl") == f"output/{JOB}/b.jsonl.out"


def test_a_faithful_output_passes_every_field(s3: Any) -> None:
    # AssembleWith=Line ends the payload's answer with a newline: a blank line, not a record.
    _write_output(s3, [json.dumps(line) for line in _expected_output()] + [""])
    report = _check(s3)
    assert {field: report[field] for field in TRANSFORM_FIELDS} == dict.fromkeys(
        TRANSFORM_FIELDS, True
    )


def test_reordered_lines_break_id_order(s3: Any) -> None:
    lines = [json.dumps(line) for line in _expected_output()]
    lines[0], lines[2] = lines[2], lines[0]
    _write_output(s3, lines)
    assert _check(s3)["ids_in_input_order"] is False


def test_a_dropped_line_is_caught(s3: Any) -> None:
    _write_output(s3, [json.dumps(line) for line in _expected_output()[:-1]])
    report = _check(s3)
    assert report["one_line_per_input_line"] is False
    assert report["bad_lines_are_errors_in_place"] is False


def test_a_bad_line_that_was_classified_is_caught(s3: Any) -> None:
    output = _expected_output()
    output[1] = _answer("bad-no-labels", "learn to play the piano")
    _write_output(s3, [json.dumps(line) for line in output])
    assert _check(s3)["bad_lines_are_errors_in_place"] is False


def test_unsorted_scores_in_a_good_line_are_caught(s3: Any) -> None:
    output = _expected_output()
    output[0] = _answer(
        "resolution-1", "run a marathon before summer", [0.1, 0.5, 0.1, 0.1, 0.1, 0.05, 0.05]
    )
    _write_output(s3, [json.dumps(line) for line in output])
    assert _check(s3)["good_lines_classified"] is False


def _endpoint_report(answer: dict[str, Any]) -> dict[str, Any]:
    runtime = boto3.client(
        "sagemaker-runtime",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    body = json.dumps(answer).encode()
    with Stubber(runtime) as stubber:
        stubber.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"},
            expected_params={
                "EndpointName": "ZstcInteg-Endpoint",
                "ContentType": "application/json",
                "Accept": "application/json",
                "Body": json.dumps(ENDPOINT_REQUEST),
            },
        )
        return check_endpoint(
            runtime=runtime, endpoint_name="ZstcInteg-Endpoint", request=ENDPOINT_REQUEST
        )


def test_a_sorted_softmax_answer_passes() -> None:
    report = _endpoint_report(_answer(None, str(ENDPOINT_REQUEST["inputs"])))
    fields = (
        "is_classification",
        "sequence_kept",
        "every_label_once",
        "one_score_per_label",
        "sorted_by_score",
        "scores_sum_to_one",
    )
    assert {field: report[field] for field in fields} == dict.fromkeys(fields, True)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scores": [0.02, 0.03, 0.05, 0.1, 0.1, 0.2, 0.5]}, "sorted_by_score"),
        ({"scores": [0.4, 0.2, 0.1, 0.1, 0.05, 0.03, 0.02]}, "scores_sum_to_one"),
        ({"labels": [*LABELS[:-1], "Education"]}, "every_label_once"),
        ({"sequence": "something else"}, "sequence_kept"),
    ],
)
def test_each_broken_promise_shows_in_the_endpoint_report(
    change: dict[str, Any], field: str
) -> None:
    answer = {**_answer(None, str(ENDPOINT_REQUEST["inputs"])), **change}
    assert _endpoint_report(answer)[field] is False

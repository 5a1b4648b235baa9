"""The checks the integration run makes inside the account, as plain functions of boto3 clients.

Each returns a report of named booleans, one per promise of the README, plus "details" for a
person reading a failure. The assertions compare the booleans; nothing here raises on a broken
promise, so the report always says which one broke.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

JSON = "application/json"
# SageMaker writes output/<job>/<input file name>.out for each input file
# (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html).
OUTPUT_PREFIX = "output/"
OUTPUT_SUFFIX = ".out"
SCORE_TOLERANCE = 1e-4


def _descending(scores: list[float]) -> bool:
    return all(first >= second for first, second in itertools.pairwise(scores))


def classification_report(*, answer: Any, text: str, labels: list[str]) -> dict[str, Any]:
    """Whether one classification answers the request: every label once, sorted by score."""
    if not isinstance(answer, dict):
        return {"is_classification": False, "details": f"not an object: {answer!r}"[:500]}
    answered_labels = answer.get("labels")
    scores = answer.get("scores")
    if not (
        isinstance(answered_labels, list)
        and isinstance(scores, list)
        and all(isinstance(score, (int, float)) for score in scores)
    ):
        return {"is_classification": False, "details": json.dumps(answer)[:500]}
    return {
        "is_classification": True,
        "sequence_kept": answer.get("sequence") == text,
        "every_label_once": sorted(answered_labels) == sorted(labels),
        "one_score_per_label": len(scores) == len(answered_labels),
        "sorted_by_score": _descending(scores),
        "details": json.dumps(answer)[:500],
    }


def check_endpoint(*, runtime: Any, endpoint_name: str, request: dict[str, Any]) -> dict[str, Any]:
    """Sends the JumpStart-shaped request to the endpoint and checks the answer."""
    response = runtime.invoke_endpoint(
        EndpointName=endpoint_name, ContentType=JSON, Accept=JSON, Body=json.dumps(request)
    )
    answer = json.loads(response["Body"].read())
    parameters = request["parameters"]
    report = classification_report(
        answer=answer, text=request["inputs"], labels=parameters["candidate_labels"]
    )
    if report.get("is_classification") and not parameters.get("multi_label", False):
        # Single-label scores are a softmax over the labels.
        report["scores_sum_to_one"] = math.isclose(
            sum(answer["scores"]), 1.0, abs_tol=SCORE_TOLERANCE
        )
    return report


def _read_lines(*, s3: Any, bucket: str, key: str) -> list[str]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    return body.splitlines()


def _record_id(line: str) -> Any:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record.get("id") if isinstance(record, dict) else None


def output_key(*, job_name: str, input_key: str) -> str:
    return f"{OUTPUT_PREFIX}{job_name}/{input_key.rsplit('/', 1)[-1]}{OUTPUT_SUFFIX}"


def check_transform_output(
    *, s3: Any, bucket: str, input_key: str, job_name: str, error_lines: list[int]
) -> dict[str, Any]:
    """Compares a transform job's .out with its input, line by line.

    error_lines: the 1-based input lines that are bad on purpose. With AssembleWith=Line
    SageMaker adds a newline after each payload's answer, so an empty line is a separator and
    not a record (the same rule `zstc batch results` applies).
    """
    input_lines = [line for line in _read_lines(s3=s3, bucket=bucket, key=input_key) if line]
    raw_output = _read_lines(
        s3=s3, bucket=bucket, key=output_key(job_name=job_name, input_key=input_key)
    )
    output_lines = [line for line in raw_output if line.strip()]
    parsed = []
    for line in output_lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            parsed.append(None)
    same_count = len(output_lines) == len(input_lines)
    errors_in_place = same_count and all(
        isinstance(record, dict) and (("error" in record) == (number in error_lines))
        for number, record in enumerate(parsed, start=1)
    )
    good_lines_classified = same_count and all(
        classification_report(
            answer=record,
            text=json.loads(input_lines[number - 1])["inputs"],
            labels=json.loads(input_lines[number - 1])["parameters"]["candidate_labels"],
        ).get("sorted_by_score", False)
        for number, record in enumerate(parsed, start=1)
        if number not in error_lines
    )
    return {
        "one_line_per_input_line": same_count,
        "ids_in_input_order": [_record_id(line) for line in output_lines]
        == [_record_id(line) for line in input_lines],
        "bad_lines_are_errors_in_place": errors_in_place,
        "good_lines_classified": good_lines_classified,
        "details": {
            "input_lines": len(input_lines),
            "output_lines": len(output_lines),
            "blank_separator_lines": len(raw_output) - len(output_lines),
            "first_output_lines": output_lines[:5],
        },
    }

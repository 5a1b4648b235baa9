"""Lambda entry point of the integration checker: {"check": NAME, ...} in, a report out."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import boto3
from flow_checks import check_endpoint, check_transform_output


def _endpoint(event: dict[str, Any]) -> dict[str, Any]:
    return check_endpoint(
        runtime=boto3.client("sagemaker-runtime"),
        endpoint_name=os.environ["ENDPOINT_NAME"],
        request=event["request"],
    )


def _transform_output(event: dict[str, Any]) -> dict[str, Any]:
    return check_transform_output(
        s3=boto3.client("s3"),
        bucket=os.environ["BUCKET_NAME"],
        input_key=event["input_key"],
        job_name=event["job_name"],
        error_lines=[int(number) for number in event["error_lines"]],
    )


# Check name -> (the event keys it reads, the check).
CHECKS: dict[str, tuple[frozenset[str], Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "endpoint": (frozenset({"request"}), _endpoint),
    "transform_output": (frozenset({"input_key", "job_name", "error_lines"}), _transform_output),
}


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    check = CHECKS.get(str(event.get("check")))
    if check is None:
        return {"unknown_check": True, "details": f"no check named {event.get('check')!r}"}
    _, run_check = check
    return run_check(event)

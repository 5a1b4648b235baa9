"""Lambda entry points of the readiness check; the work is in readiness_check."""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any

import boto3
from botocore.config import Config
from readiness_check import is_complete as check_is_complete
from readiness_check import on_event as check_on_event

logging.getLogger().setLevel(logging.INFO)

# InvokeEndpoint may take up to 60 s (SageMaker's real-time limit); the read timeout leaves
# room for it. Throttling and 5XX are retried once within an invocation, the rest next poll.
_CLIENT_CONFIG = Config(
    read_timeout=70, connect_timeout=10, retries={"mode": "standard", "max_attempts": 2}
)


@functools.cache
def _clients() -> tuple[Any, Any, Any]:
    return (
        boto3.client("sagemaker", config=_CLIENT_CONFIG),
        boto3.client("sagemaker-runtime", config=_CLIENT_CONFIG),
        boto3.client("s3", config=_CLIENT_CONFIG),
    )


@functools.cache
def _logs() -> Any:
    return boto3.client("logs", config=_CLIENT_CONFIG)


def on_event(event: dict[str, Any], context: object) -> dict[str, Any]:
    return check_on_event(event, now=time.time())


def is_complete(event: dict[str, Any], context: object) -> dict[str, Any]:
    sagemaker, runtime, s3 = _clients()
    return check_is_complete(
        event,
        sagemaker=sagemaker,
        runtime=runtime,
        s3=s3,
        now=time.time(),
        logs_client=_logs,
        # Set by the stack (stacks/endpoint_readiness.py): the group the failure quotes from.
        log_group_name=os.environ.get("ENDPOINT_LOG_GROUP"),
    )

"""Lambda entry point: SQS batch of S3 notifications in, SQS partial batch response out."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

import boto3
from botocore.config import Config
from trigger import TriggerSettings, handle_sqs_batch
from trigger_settings import load_settings

logging.getLogger().setLevel(logging.INFO)

# botocore's standard mode retries throttling a few times within one invocation; whatever
# still fails goes back to the queue and is retried later.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})


@functools.cache
def _settings() -> TriggerSettings:
    return load_settings(os.environ)


@functools.cache
def _clients() -> tuple[Any, Any]:
    # Built once per execution environment and reused by later invocations.
    return (
        boto3.client("s3", config=_CLIENT_CONFIG),
        boto3.client("sagemaker", config=_CLIENT_CONFIG),
    )


def handler(event: dict[str, Any], context: object) -> dict[str, list[dict[str, str]]]:
    s3, sagemaker = _clients()
    return handle_sqs_batch(event=event, settings=_settings(), s3=s3, sagemaker=sagemaker)

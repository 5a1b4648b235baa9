"""Lambda entry point: SQS batch of S3 notifications in, SQS partial batch response out."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

import boto3
from botocore.config import Config
from time_budget import RemainingTime
from trigger import TriggerSettings, handle_sqs_batch
from trigger_settings import load_settings
from version_pinning import COPY_WORKERS

logging.getLogger().setLevel(logging.INFO)

# botocore's standard mode retries throttling a few times within one invocation; whatever
# still fails goes back to the queue and is retried later. A client keeps 10 connections by
# default (botocore.config.Config, max_pool_connections), fewer than the copies that run side by
# side; the time budget is sized for COPY_WORKERS of them (stacks/trigger_budget.py).
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=COPY_WORKERS
)


@functools.cache
def _settings() -> TriggerSettings:
    return load_settings(os.environ)


@functools.cache
def _clients() -> tuple[Any, Any, Any]:
    # Built once per execution environment and reused by later invocations.
    return (
        boto3.client("s3", config=_CLIENT_CONFIG),
        boto3.client("sagemaker", config=_CLIENT_CONFIG),
        boto3.client("sns", config=_CLIENT_CONFIG),
    )


def handler(event: dict[str, Any], context: RemainingTime) -> dict[str, list[dict[str, str]]]:
    s3, sagemaker, sns = _clients()
    return handle_sqs_batch(
        event=event, settings=_settings(), s3=s3, sagemaker=sagemaker, sns=sns, context=context
    )

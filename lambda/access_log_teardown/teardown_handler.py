"""Lambda entry point of the access-log bucket teardown; the work is in log_bucket_teardown."""

from __future__ import annotations

import functools
import logging
from typing import Any

import boto3
from log_bucket_teardown import on_event as teardown_on_event

logging.getLogger().setLevel(logging.INFO)


@functools.cache
def _s3() -> Any:
    return boto3.client("s3")


def on_event(event: dict[str, Any], context: object) -> dict[str, Any]:
    return teardown_on_event(event, s3=_s3())

"""Lambda entry points of the model weights copy; the work is in weights_copy."""

from __future__ import annotations

import functools
import logging
import urllib.request
from typing import Any

import boto3
from weights_copy import is_complete as copy_is_complete
from weights_copy import on_event as copy_on_event

logging.getLogger().setLevel(logging.INFO)


@functools.cache
def _s3() -> Any:
    return boto3.client("s3")


def on_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return copy_on_event(event, s3=_s3(), opener=urllib.request.urlopen)


def is_complete(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return copy_is_complete(
        event,
        s3=_s3(),
        opener=urllib.request.urlopen,
        remaining_ms=context.get_remaining_time_in_millis,
    )

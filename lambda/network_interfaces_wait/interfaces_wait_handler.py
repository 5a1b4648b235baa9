"""Lambda entry points of the network interfaces wait; the work is in interfaces_wait."""

from __future__ import annotations

import functools
import logging
from typing import Any

import boto3
from interfaces_wait import is_complete as wait_is_complete
from interfaces_wait import on_event as wait_on_event

logging.getLogger().setLevel(logging.INFO)


@functools.cache
def _ec2() -> Any:
    return boto3.client("ec2")


def on_event(event: dict[str, Any], context: object) -> dict[str, Any]:
    return wait_on_event(event)


def is_complete(event: dict[str, Any], context: object) -> dict[str, Any]:
    return wait_is_complete(event, ec2=_ec2())

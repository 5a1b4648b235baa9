"""Reads S3 event notifications out of the SQS messages that carry them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

# Sent once when a notification configuration is saved; it names no object.
_TEST_EVENT = "s3:TestEvent"
# A bucket with versioning suspended reports this literal as the version of new objects, so it
# cannot tell two uploads of the same key apart; the ETag can.
_NULL_VERSION = "null"


class MalformedMessageError(ValueError):
    """An SQS message body that is not an S3 event notification."""


@dataclass(frozen=True, kw_only=True)
class S3ObjectEvent:
    """One object named by an S3 event notification, with its key already decoded."""

    event_name: str
    bucket: str
    key: str
    # The VersionId, or the ETag where the bucket gave no usable version.
    version: str
    # None when the notification carries no size (it always does for ObjectCreated).
    size: int | None

    @property
    def is_object_created(self) -> bool:
        return self.event_name.startswith("ObjectCreated:")


def _object_event(record: Any) -> S3ObjectEvent:
    try:
        s3 = record["s3"]
        event_name = str(record["eventName"])
        bucket = str(s3["bucket"]["name"])
        s3_object = s3["object"]
        # S3 URL-encodes keys in notifications, with a space as '+' and a literal '+' as %2B.
        key = unquote_plus(str(s3_object["key"]))
    except (KeyError, TypeError) as error:
        raise MalformedMessageError(
            f"S3 event record lacks {error}; expected eventName, s3.bucket.name, s3.object.key"
        ) from error
    version_id = s3_object.get("versionId")
    etag = s3_object.get("eTag")
    version = version_id if version_id and version_id != _NULL_VERSION else etag
    if not version:
        raise MalformedMessageError(
            f"S3 event record for s3://{bucket}/{key} has neither versionId nor eTag"
        )
    size = s3_object.get("size")
    return S3ObjectEvent(
        event_name=event_name,
        bucket=bucket,
        key=key,
        version=str(version),
        size=int(size) if size is not None else None,
    )


def parse_notification(body: str) -> list[S3ObjectEvent]:
    """The objects named by one SQS message body holding an S3 event notification.

    The s3:TestEvent that S3 sends when notifications are configured yields no objects.
    Raises MalformedMessageError when the body is not an S3 event notification at all.
    """
    try:
        notification = json.loads(body)
    except json.JSONDecodeError as error:
        raise MalformedMessageError(f"message body is not JSON: {error}") from error
    if not isinstance(notification, dict):
        raise MalformedMessageError(
            f"message body is a JSON {type(notification).__name__}; expected an object"
        )
    if notification.get("Event") == _TEST_EVENT:
        return []
    records = notification.get("Records")
    if not isinstance(records, list):
        raise MalformedMessageError(
            "message body has no 'Records' list; expected an S3 event notification"
        )
    return [_object_event(record) for record in records]

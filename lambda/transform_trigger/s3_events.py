"""Reads S3 event notifications out of the SQS messages that carry them.

Field names and meanings follow the S3 event message structure:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
A body that is no S3 event notification at all (not JSON, no Records list) becomes a
MalformedMessageError; one record of a notification with a field of the wrong type becomes that
record's RecordError, so the other records of the message are still handled. Both carry a short
reason, and nothing raises another exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from job_names import NULL_VERSION_ID, upload_identity

# Sent once when a notification configuration is saved; it names no object.
_TEST_EVENT = "s3:TestEvent"
# Values quoted in error messages are cut to this many characters: a message body may be 256 KB.
_SHOWN_CHARACTERS = 80


class MalformedMessageError(ValueError):
    """An SQS message body that is not an S3 event notification."""


@dataclass(frozen=True, kw_only=True)
class S3ObjectEvent:
    """One object named by an S3 event notification, with its key already decoded."""

    event_name: str
    bucket: str
    key: str
    # The object version the event is about; "null" where versioning is suspended or was never
    # enabled, which is also how S3 addresses that version in a request.
    version_id: str
    # The version's ETag, as the event gives it (without quotes); None if the event has none.
    etag: str | None
    # What tells this upload from every other upload of the key (job_names.upload_identity).
    identity: str
    # None when the notification carries no size (it always does for ObjectCreated).
    size: int | None

    @property
    def is_object_created(self) -> bool:
        return self.event_name.startswith("ObjectCreated:")


@dataclass(frozen=True, kw_only=True)
class RecordError:
    """One record of a notification that names no usable object, and why."""

    # The record's position in the notification's Records list.
    index: int
    reason: str
    # What the record seems to name, for the person told of it: "" where it has no readable key.
    shown_object: str


@dataclass(frozen=True, kw_only=True)
class Notification:
    """What one SQS message body names: objects, records that name none, or nothing at all."""

    records: list[S3ObjectEvent | RecordError]
    # Why the message names nothing (the s3:TestEvent, an empty Records list); logged.
    empty_reason: str = ""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARACTERS else f"{text[:_SHOWN_CHARACTERS]}..."


def _member(parent: object, name: str, path: str) -> Any:
    if not isinstance(parent, dict) or name not in parent:
        raise MalformedMessageError(
            f"S3 event record lacks {path}; expected eventName, s3.bucket.name, s3.object.key"
        )
    return parent[name]


def _checked_text(value: object, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedMessageError(f"S3 event record: {path} is {_shown(value)}; expected text")
    return value


def _required_text(parent: object, name: str, path: str) -> str:
    return _checked_text(_member(parent, name, path), path)


def _optional_text(parent: dict[str, Any], name: str, path: str) -> str | None:
    value = parent.get(name)
    return None if value is None else _checked_text(value, path)


def _size(s3_object: dict[str, Any]) -> int | None:
    size = s3_object.get("size")
    if size is None:
        return None
    # bool is an int subclass: True is not a size.
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise MalformedMessageError(
            f"S3 event record: s3.object.size is {_shown(size)}; expected a whole number of bytes"
        )
    return size


def object_event(record: object) -> S3ObjectEvent:
    """The object one record of an S3 event notification names."""
    event_name = _required_text(record, "eventName", "eventName")
    s3 = _member(record, "s3", "'s3'")
    bucket = _required_text(_member(s3, "bucket", "s3.bucket"), "name", "s3.bucket.name")
    s3_object = _member(s3, "object", "s3.object")
    if not isinstance(s3_object, dict):
        raise MalformedMessageError(f"S3 event record: s3.object is {_shown(s3_object)}")
    raw_key = _required_text(s3_object, "key", "s3.object.key")
    # S3 URL-encodes keys in notifications, with a space as '+' and a literal '+' as %2B.
    key = unquote_plus(raw_key)
    version_id = _optional_text(s3_object, "versionId", "s3.object.versionId")
    sequencer = _optional_text(s3_object, "sequencer", "s3.object.sequencer")
    identity = upload_identity(version_id=version_id, sequencer=sequencer)
    is_created = event_name.startswith("ObjectCreated:")
    if identity is None and is_created:
        raise MalformedMessageError(
            f"S3 event record for s3://{bucket}/{key} has neither a versionId nor a sequencer, "
            "so this upload cannot be told from another upload of the same key"
        )
    return S3ObjectEvent(
        event_name=event_name,
        bucket=bucket,
        key=key,
        version_id=version_id or NULL_VERSION_ID,
        etag=_optional_text(s3_object, "eTag", "s3.object.eTag"),
        identity=identity or "",
        size=_size(s3_object),
    )


def _shown_object(record: object) -> str:
    """s3://bucket/key as far as the record says, for a notification about a bad record."""
    try:
        s3 = record.get("s3") if isinstance(record, dict) else None
        bucket = s3["bucket"]["name"] if isinstance(s3, dict) else None
        key = s3["object"]["key"] if isinstance(s3, dict) else None
    except (KeyError, TypeError):
        return ""
    if not isinstance(bucket, str) or not isinstance(key, str):
        return ""
    return f"s3://{bucket[:_SHOWN_CHARACTERS]}/{unquote_plus(key)[: _SHOWN_CHARACTERS * 4]}"


def _record(index: int, record: object) -> S3ObjectEvent | RecordError:
    try:
        return object_event(record)
    except MalformedMessageError as error:
        return RecordError(index=index, reason=str(error), shown_object=_shown_object(record))
    except RecursionError:
        return RecordError(
            index=index, reason="S3 event record is nested too deeply to read", shown_object=""
        )


def parse_notification(body: object) -> Notification:
    """The objects named by one SQS message body holding an S3 event notification.

    Each record is read on its own: a malformed one becomes a RecordError beside the good ones.
    The s3:TestEvent that S3 sends when notifications are configured, and an empty Records
    list, name nothing and say why. Raises MalformedMessageError when the body is not an S3
    event notification at all.
    """
    if not isinstance(body, str):
        raise MalformedMessageError(
            f"message body is {_shown(body)}; expected the text of an S3 event notification"
        )
    try:
        notification = json.loads(body)
    except (ValueError, RecursionError) as error:
        # ValueError covers invalid JSON and integers longer than Python's int-to-text limit
        # (4300 digits); RecursionError covers nesting deeper than the interpreter allows.
        raise MalformedMessageError(
            f"message body is not readable JSON: {type(error).__name__}: {_shown(str(error))}"
        ) from None
    if not isinstance(notification, dict):
        raise MalformedMessageError(
            f"message body is a JSON {type(notification).__name__}; expected an object"
        )
    if notification.get("Event") == _TEST_EVENT:
        return Notification(
            records=[],
            empty_reason=f"{_TEST_EVENT}: S3 sends it once when the bucket's notification "
            "configuration is saved; it names no object",
        )
    records = notification.get("Records")
    if not isinstance(records, list):
        raise MalformedMessageError(
            "message body has no 'Records' list; expected an S3 event notification"
        )
    if not records:
        return Notification(records=[], empty_reason="the notification's Records list is empty")
    return Notification(records=[_record(index, record) for index, record in enumerate(records)])

"""Reading S3 event notifications out of SQS message bodies."""

from __future__ import annotations

import json

import pytest
from batch_events import BUCKET, s3_notification
from s3_events import MalformedMessageError, parse_notification


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("input/my+reviews.jsonl", "input/my reviews.jsonl"),
        ("input/a%2Bb.jsonl", "input/a+b.jsonl"),
        ("input/caf%C3%A9.jsonl", "input/café.jsonl"),
        ("input/100%25.jsonl", "input/100%.jsonl"),
    ],
)
def test_keys_are_url_decoded_as_s3_encodes_them(encoded: str, decoded: str) -> None:
    notification = s3_notification(key="x", size=10, etag="e", version_id="v")
    notification["Records"][0]["s3"]["object"]["key"] = encoded

    [event] = parse_notification(json.dumps(notification))

    assert event.key == decoded
    assert event.bucket == BUCKET
    assert event.is_object_created


def test_version_id_identifies_the_upload_and_etag_stands_in_without_one() -> None:
    versioned = s3_notification(key="input/a.jsonl", size=1, etag="etag1", version_id="3HL4kqtJ")
    unversioned = s3_notification(key="input/a.jsonl", size=1, etag="etag1", version_id=None)
    # Versioning suspended: S3 reports the literal version "null" for every upload.
    suspended = s3_notification(key="input/a.jsonl", size=1, etag="etag1", version_id="null")

    assert parse_notification(json.dumps(versioned))[0].version == "3HL4kqtJ"
    assert parse_notification(json.dumps(unversioned))[0].version == "etag1"
    assert parse_notification(json.dumps(suspended))[0].version == "etag1"


def test_the_s3_test_event_names_no_objects() -> None:
    body = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}

    assert parse_notification(json.dumps(body)) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON list"),
        ('{"Message": "an SNS envelope"}', "no 'Records' list"),
        ('{"Records": [{"eventName": "ObjectCreated:Put"}]}', "lacks 's3'"),
    ],
)
def test_bodies_that_are_not_s3_notifications_are_refused_with_a_reason(
    body: str, message: str
) -> None:
    with pytest.raises(MalformedMessageError, match=message):
        parse_notification(body)

"""Reading S3 event notifications out of SQS message bodies."""

from __future__ import annotations

import json

import pytest
from batch_events import BUCKET, s3_notification
from s3_events import MalformedMessageError, RecordError, S3ObjectEvent, parse_notification


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

    [event] = parse_notification(json.dumps(notification)).records
    assert isinstance(event, S3ObjectEvent)

    assert event.key == decoded
    assert event.bucket == BUCKET
    assert event.is_object_created


def test_the_version_id_identifies_an_upload_and_the_sequencer_stands_in_for_null() -> None:
    versioned = s3_notification(key="input/a.jsonl", size=1, etag="etag1", version_id="3HL4kqtJ")
    # Versioning suspended: S3 reports the version "null" for every upload of the key, and
    # identical content has the same ETag; only the sequencer differs between two uploads.
    first = s3_notification(
        key="input/a.jsonl", size=1, etag="etag1", version_id="null", sequencer="00A1"
    )
    again = s3_notification(
        key="input/a.jsonl", size=1, etag="etag1", version_id="null", sequencer="00B2"
    )
    unversioned = s3_notification(
        key="input/a.jsonl", size=1, etag="etag1", version_id=None, sequencer="00A1"
    )

    [versioned_event] = parse_notification(json.dumps(versioned)).records
    assert isinstance(versioned_event, S3ObjectEvent)
    [first_event] = parse_notification(json.dumps(first)).records
    assert isinstance(first_event, S3ObjectEvent)
    [again_event] = parse_notification(json.dumps(again)).records
    assert isinstance(again_event, S3ObjectEvent)
    [unversioned_event] = parse_notification(json.dumps(unversioned)).records
    assert isinstance(unversioned_event, S3ObjectEvent)

    assert versioned_event.identity == "3HL4kqtJ"
    assert versioned_event.version_id == "3HL4kqtJ"
    assert first_event.identity == "sequencer:00A1" != again_event.identity
    assert first_event.version_id == "null"
    assert first_event.etag == "etag1"
    # An event without versionId addresses the same "null" version.
    assert unversioned_event.version_id == "null"
    assert unversioned_event.identity == "sequencer:00A1"


def test_an_upload_without_version_or_sequencer_is_refused() -> None:
    notification = s3_notification(key="input/a.jsonl", size=1, etag="etag1", version_id="null")
    del notification["Records"][0]["s3"]["object"]["sequencer"]

    [refused] = parse_notification(json.dumps(notification)).records

    assert isinstance(refused, RecordError)
    assert "neither a versionId nor a sequencer" in refused.reason
    assert refused.shown_object == f"s3://{BUCKET}/input/a.jsonl"


def test_the_s3_test_event_and_an_empty_record_list_name_no_objects_and_say_why() -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}

    tested = parse_notification(json.dumps(test_event))
    empty = parse_notification('{"Records": []}')

    assert tested.records == [] and "s3:TestEvent" in tested.empty_reason
    assert empty.records == [] and "Records list is empty" in empty.empty_reason


def test_each_record_is_read_on_its_own() -> None:
    good = s3_notification(key="input/good.jsonl", size=10, etag="e", version_id="v")
    bad = s3_notification(key="input/bad.jsonl", size=10, etag="e", version_id="v")
    bad["Records"][0]["s3"]["object"]["size"] = "twelve"
    body = json.dumps({"Records": [bad["Records"][0], good["Records"][0], "text"]})

    first, second, third = parse_notification(body).records

    assert isinstance(first, RecordError) and first.index == 0
    assert "s3.object.size is 'twelve'" in first.reason
    assert first.shown_object == f"s3://{BUCKET}/input/bad.jsonl"
    assert isinstance(second, S3ObjectEvent) and second.key == "input/good.jsonl"
    assert isinstance(third, RecordError) and third.index == 2 and third.shown_object == ""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not readable JSON"),
        ("[1, 2]", "JSON list"),
        ('{"Message": "an SNS envelope"}', "no 'Records' list"),
    ],
)
def test_bodies_that_are_not_s3_notifications_are_refused_with_a_reason(
    body: str, message: str
) -> None:
    with pytest.raises(MalformedMessageError, match=message):
        parse_notification(body)


def _with_object_field(name: str, value: object) -> str:
    notification = s3_notification(key="input/a.jsonl", size=1, etag="e", version_id="v")
    notification["Records"][0]["s3"]["object"][name] = value
    return json.dumps(notification)


def _with_record(record: object) -> str:
    return json.dumps({"Records": [record]})


# Bodies that are no S3 event notification at all.
HOSTILE_BODIES = {
    "null body": None,
    "body is a number": 7,
    # More digits than Python turns into an int (sys.get_int_max_str_digits(), 4300).
    "huge integer": '{"Records": [], "n": ' + "9" * 5000 + "}",
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "deep nesting in a record": '{"Records": [' + "{" + '"a":{' * 50_000 + "}" * 50_001 + "]}",
}
# Notifications with one record that names no usable object.
HOSTILE_RECORDS = {
    "non-numeric size": _with_object_field("size", "12 bytes"),
    "boolean size": _with_object_field("size", True),
    "negative size": _with_object_field("size", -1),
    "fractional size": _with_object_field("size", 1.5),
    "numeric key": _with_object_field("key", 42),
    "empty key": _with_object_field("key", ""),
    "list version": _with_object_field("versionId", ["v"]),
    "record is text": _with_record("ObjectCreated:Put"),
    "s3.object is a list": _with_record(
        {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": []}}
    ),
    "bucket is null": _with_record(
        {"eventName": "ObjectCreated:Put", "s3": {"bucket": None, "object": {"key": "k"}}}
    ),
    "no s3 member": _with_record({"eventName": "ObjectCreated:Put"}),
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_hostile_bodies_are_refused_with_a_short_reason_and_nothing_else(body: object) -> None:
    with pytest.raises(MalformedMessageError) as refused:
        parse_notification(body)

    # A reason a person can read in the log, not a 256 KB echo of the body.
    assert 0 < len(str(refused.value)) < 300


@pytest.mark.parametrize("body", HOSTILE_RECORDS.values(), ids=HOSTILE_RECORDS.keys())
def test_hostile_records_become_that_records_error_with_a_short_reason(body: str) -> None:
    [refused] = parse_notification(body).records

    assert isinstance(refused, RecordError)
    assert 0 < len(refused.reason) < 300
    assert len(refused.shown_object) < 500

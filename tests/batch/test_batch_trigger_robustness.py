"""Every SQS message, and every record in it, gets its own outcome: nothing one does fails the
rest of the batch.

With ReportBatchItemFailures, "If your function throws an exception, the entire batch is
considered a complete failure" and every message of it is delivered again
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting).
So the handler must return, and name exactly the messages to retry by messageId. Messages and
records that can never succeed are rejected: logged, told on the topic, and not retried.
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

import pytest
from batch_events import event_for, s3_notification, sqs_event, sqs_record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rejections import SUBJECT
from test_batch_s3_events import HOSTILE_BODIES, HOSTILE_RECORDS
from trigger import handle_sqs_batch

NO_FAILURES: dict[str, list[Any]] = {"batchItemFailures": []}


def run(moto_aws: Any, settings: Any, event: object) -> dict[str, Any]:
    return handle_sqs_batch(
        event=event,
        settings=settings,
        s3=moto_aws.s3,
        sagemaker=moto_aws.sagemaker,
        sns=moto_aws.sns,
    )


def hostile_record(body: object, message_id: str) -> dict[str, Any]:
    record = sqs_record("placeholder", message_id=message_id)
    # SQS bodies are text; a null body is what a hand-made or corrupted event may carry.
    record["body"] = body
    return record


def test_each_hostile_message_is_rejected_alone_and_the_rest_of_the_batch_is_done(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # One batch: every hostile body between good uploads (SQS batches hold at most 10, but
    # the handler must not care).
    hostile = {**HOSTILE_BODIES, **HOSTILE_RECORDS}
    records = [event_for(moto_aws.put("input/first.jsonl"), message_id="m-first")["Records"][0]]
    for name, body in hostile.items():
        records.append(hostile_record(body, f"m-{name}"))
        uploaded = moto_aws.put(f"input/after {name}.jsonl")
        records.append(event_for(uploaded, message_id=f"m-after {name}")["Records"][0])

    with caplog.at_level(logging.INFO):
        response = run(moto_aws, trigger_settings, sqs_event(*records))

    # Retrying any of them could never help, so none comes back to the queue.
    assert response == NO_FAILURES
    assert len(moto_aws.transform_job_names()) == 1 + len(hostile)
    failures = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [f.message_id for f in failures] == [f"m-{name}" for name in hostile]  # type: ignore[attr-defined]
    assert all(f.status == "rejected" for f in failures)  # type: ignore[attr-defined]
    assert all(len(f.getMessage()) < 400 for f in failures)
    notices = moto_aws.notices()
    assert len(notices) == len(hostile)
    assert {notice["Subject"] for notice in notices} == {SUBJECT}
    assert all(len(notice["Message"]) < 1500 for notice in notices)


def test_an_unexpected_exception_from_a_client_fails_only_its_message_and_is_logged(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A KeyError from a client call (a response missing a member, a bug in a hook) escapes
    every AWS error handler; it must still become that message's own failure."""

    def broken_listing(**_: Any) -> None:
        raise KeyError("Versions")

    moto_aws.s3.meta.events.register("before-call.s3.ListObjectVersions", broken_listing)
    moto_aws.put("datasets/news/part-00000.jsonl")
    dataset = event_for(moto_aws.put("datasets/news/_SUCCESS", b""), message_id="m-dataset")
    single = event_for(moto_aws.put("input/a.jsonl"), message_id="m-single")

    with caplog.at_level(logging.INFO):
        response = run(
            moto_aws, trigger_settings, sqs_event(dataset["Records"][0], single["Records"][0])
        )

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-dataset"}]}
    assert len(moto_aws.transform_job_names()) == 1
    [failure] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert "unexpected KeyError" in failure.getMessage()
    assert failure.key == "datasets/news/_SUCCESS"  # type: ignore[attr-defined]
    # The traceback goes to the log, so the bug can be found.
    assert failure.exc_info is not None and failure.exc_info[0] is KeyError


@pytest.mark.parametrize(
    "event",
    [{"Records": []}, {}, {"Records": None}, None, []],
    ids=["empty Records", "no Records", "null Records", "null event", "list event"],
)
def test_an_invocation_without_records_is_logged_and_answers_no_failures(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture, event: object
) -> None:
    with caplog.at_level(logging.INFO):
        assert run(moto_aws, trigger_settings, event) == NO_FAILURES

    [warning] = caplog.records
    assert warning.levelno == logging.WARNING
    assert "without SQS records" in warning.getMessage()


def test_a_record_without_a_message_id_is_skipped_and_the_others_are_handled(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An empty or missing itemIdentifier in the response would fail the whole batch, so a
    record that has none cannot be reported; it is logged instead."""
    good = event_for(moto_aws.put("input/a.jsonl"), message_id="m-good")["Records"][0]
    nameless = dict(good)
    del nameless["messageId"]
    bad = sqs_record("{not json", message_id="m-bad")

    with caplog.at_level(logging.INFO):
        response = run(moto_aws, trigger_settings, sqs_event(nameless, "not a record", good, bad))

    # The unreadable body is rejected and reported, not retried.
    assert response == NO_FAILURES
    assert "m-bad" in moto_aws.notices()[0]["Message"]
    assert len(moto_aws.transform_job_names()) == 1
    skipped = [r for r in caplog.records if "without a messageId" in r.getMessage()]
    assert len(skipped) == 2


def test_odd_sqs_attributes_do_not_stop_a_good_message(
    moto_aws: Any, trigger_settings: Any
) -> None:
    record = event_for(moto_aws.put("input/a.jsonl"))["Records"][0]
    record["attributes"] = "not a map"

    assert run(moto_aws, trigger_settings, sqs_event(record)) == NO_FAILURES
    assert len(moto_aws.transform_job_names()) == 1


def test_one_bad_record_in_a_message_does_not_hide_a_good_one_in_another(
    moto_aws: Any, trigger_settings: Any
) -> None:
    uploaded = moto_aws.put("input/a.jsonl")
    notification = s3_notification(
        key=uploaded["key"],
        size=uploaded["size"],
        etag=uploaded["etag"],
        version_id=uploaded["version_id"],
        sequencer=uploaded["sequencer"],
    )
    broken = json.loads(json.dumps(notification))
    broken["Records"][0]["s3"]["object"]["size"] = "twelve"

    response = run(
        moto_aws,
        trigger_settings,
        sqs_event(
            sqs_record(broken, message_id="m-broken"), sqs_record(notification, message_id="m-ok")
        ),
    )

    assert response == NO_FAILURES
    assert len(moto_aws.transform_job_names()) == 1
    [notice] = moto_aws.notices()
    assert "m-broken" in notice["Message"] and "'twelve'" in notice["Message"]


def _notification_records(moto_aws: Any, keys: list[str]) -> list[dict[str, Any]]:
    records = []
    for key in keys:
        uploaded = moto_aws.put(key)
        notification = s3_notification(
            key=uploaded["key"],
            size=uploaded["size"],
            etag=uploaded["etag"],
            version_id=uploaded["version_id"],
            sequencer=uploaded["sequencer"],
        )
        records.append(notification["Records"][0])
    return records


def test_a_mixed_message_starts_its_good_records_and_rejects_only_the_malformed_one(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The reproducer: one message of 10 records, one with "size": "twelve". Before, the whole
    message failed and went round until the dead-letter queue, and the 9 good uploads never
    ran. A test event and an empty notification ride in the same batch."""
    records = _notification_records(moto_aws, [f"input/file-{n}.jsonl" for n in range(10)])
    records[4]["s3"]["object"]["size"] = "twelve"
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "zstc-data-bucket"}
    event = sqs_event(
        sqs_record({"Records": records}, message_id="m-mixed"),
        sqs_record(test_event, message_id="m-test"),
        sqs_record({"Records": []}, message_id="m-empty"),
    )

    with caplog.at_level(logging.INFO):
        response = run(moto_aws, trigger_settings, event)

    assert response == NO_FAILURES
    jobs = moto_aws.transform_job_names()
    assert len(jobs) == 9
    assert not [job for job in jobs if "file-4" in job]
    [notice] = moto_aws.notices()
    assert "s3://zstc-data-bucket/input/file-4.jsonl" in notice["Message"]
    assert "record 4 of the notification" in notice["Message"]
    outcomes = [
        (r.message_id, r.status)  # type: ignore[attr-defined]
        for r in caplog.records
        if hasattr(r, "status")
    ]
    assert outcomes.count(("m-mixed", "started")) == 9
    assert outcomes.count(("m-mixed", "rejected")) == 1
    assert ("m-test", "ignored") in outcomes and ("m-empty", "ignored") in outcomes

    # Redelivered (S3 events are at least once): nothing starts twice.
    with caplog.at_level(logging.INFO):
        assert run(moto_aws, trigger_settings, event) == NO_FAILURES
    assert moto_aws.transform_job_names() == jobs


def test_a_rejection_whose_notice_cannot_be_sent_is_retried_not_dropped(
    moto_aws: Any, trigger_settings: Any
) -> None:
    """A rejected record leaves the queue only once a person has been told of it."""
    from botocore.stub import Stubber

    stubber = Stubber(moto_aws.sns)
    stubber.add_client_error("publish", "ThrottledException", http_status_code=400)
    stubber.add_client_error("publish", "AuthorizationError", http_status_code=403)
    broken = _notification_records(moto_aws, ["input/a.jsonl"])
    broken[0]["s3"]["object"]["size"] = "twelve"
    event = sqs_event(
        sqs_record({"Records": broken}, message_id="m-throttled"),
        sqs_record({"Records": broken}, message_id="m-denied"),
    )

    with stubber:
        response = run(moto_aws, trigger_settings, event)

    assert response == {
        "batchItemFailures": [{"itemIdentifier": "m-throttled"}, {"itemIdentifier": "m-denied"}]
    }
    stubber.assert_no_pending_responses()


# -- fuzz: batches of mixed messages --------------------------------------------------------------

# Ways a record can be malformed, each one field of the wrong type or missing.
_RECORD_DAMAGE = {
    "size as text": lambda record: record["s3"]["object"].update(size="twelve"),
    "fractional size": lambda record: record["s3"]["object"].update(size=1.5),
    "negative size": lambda record: record["s3"]["object"].update(size=-3),
    "size is true": lambda record: record["s3"]["object"].update(size=True),
    "numeric key": lambda record: record["s3"]["object"].update(key=7),
    "empty key": lambda record: record["s3"]["object"].update(key=""),
    "listed version": lambda record: record["s3"]["object"].update(versionId=["v"]),
    "no s3 member": lambda record: record.pop("s3"),
    "bucket is null": lambda record: record["s3"].update(bucket=None),
}
_SPECIAL_BODIES = {
    "test event": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}),
    "empty records": '{"Records": []}',
    "garbage": "{not json",
    "other json": '{"hello": "world"}',
}
_REJECTED_SPECIALS = {"garbage", "other json"}
# A message: a list of records, each good (None) or damaged (the damage's name); or a special.
_messages = st.one_of(
    st.lists(st.none() | st.sampled_from(sorted(_RECORD_DAMAGE)), min_size=1, max_size=4),
    st.sampled_from(sorted(_SPECIAL_BODIES)),
)
_example_numbers = itertools.count()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(messages=st.lists(_messages, min_size=1, max_size=10))
def test_fuzz_mixed_batches_start_every_good_record_once_and_report_every_bad_one(
    moto_aws: Any, trigger_settings: Any, messages: list[Any]
) -> None:
    example = next(_example_numbers)
    sqs_records = []
    good_keys: set[str] = set()
    bad_count = 0
    for m, message in enumerate(messages):
        message_id = f"m-{example}-{m}"
        if isinstance(message, str):
            sqs_records.append(sqs_record(_SPECIAL_BODIES[message], message_id=message_id))
            bad_count += message in _REJECTED_SPECIALS
            continue
        keys = [f"input/ex{example}/m{m}-r{r}.jsonl" for r in range(len(message))]
        records = _notification_records(moto_aws, keys)
        for key, record, damage in zip(keys, records, message, strict=True):
            if damage is None:
                good_keys.add(key)
            else:
                _RECORD_DAMAGE[damage](record)
                bad_count += 1
        sqs_records.append(sqs_record({"Records": records}, message_id=message_id))
    event = sqs_event(*sqs_records)
    started = {
        request["Environment"]["ZSTC_SOURCE_OBJECT"].removeprefix("s3://zstc-data-bucket/")
        for request in moto_aws.validator.requests
    }

    assert run(moto_aws, trigger_settings, event) == NO_FAILURES
    # Redelivered, as S3 and SQS may: nothing starts twice.
    assert run(moto_aws, trigger_settings, event) == NO_FAILURES

    mine = [
        request["Environment"]["ZSTC_SOURCE_OBJECT"].removeprefix("s3://zstc-data-bucket/")
        for request in moto_aws.validator.requests
    ]
    new = [key for key in mine if key not in started]
    assert sorted(new) == sorted(good_keys)
    # Each bad record or body is reported once per delivery.
    assert len(moto_aws.notices()) == 2 * bad_count

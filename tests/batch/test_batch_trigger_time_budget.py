"""The trigger stops taking records before its time runs out, and loses or repeats none.

A Lambda that times out returns its whole SQS batch, good records included, again and again
until the dead-letter queue (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
The trigger reads the time left before each record (time_budget.py) and hands back the ones it
did not start as batchItemFailures. The context here runs down with every AWS call the trigger
makes (lambda_context.py), and raises if a call comes after the timeout.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import boto3
import pytest
from batch_events import (
    REGION,
    TRIGGER_ENVIRONMENT,
    event_for,
    s3_notification,
    sqs_event,
    sqs_record,
)
from lambda_context import InvocationTimedOut, RunningDownContext
from time_budget import TimeBudget
from trigger import handle_sqs_batch

# Each AWS call costs a second of the fake clock. A small file costs 4 calls
# (DescribeTransformJob, CopyObject, PutObject of the manifest, CreateTransformJob).
CALL_MS = 1000
RECORD_MS = 5000


def budgeted(settings: Any) -> Any:
    return dataclasses.replace(settings, budget=TimeBudget(record_ms=RECORD_MS))


def run(moto_aws: Any, settings: Any, event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return handle_sqs_batch(
            event=event,
            settings=settings,
            s3=moto_aws.s3,
            sagemaker=moto_aws.sagemaker,
            sns=moto_aws.sns,
            context=context,
        )
    finally:
        context.end()


def context_for(moto_aws: Any, timeout_ms: int) -> RunningDownContext:
    return RunningDownContext(
        timeout_ms=timeout_ms,
        call_ms=CALL_MS,
        clients=(moto_aws.s3, moto_aws.sagemaker, moto_aws.sns),
    )


def uploads(moto_aws: Any, count: int) -> dict[str, dict[str, Any]]:
    """SQS records of `count` uploads, by message id."""
    return {
        f"m-{n}": event_for(moto_aws.put(f"input/file-{n}.jsonl"), message_id=f"m-{n}")["Records"][
            0
        ]
        for n in range(count)
    }


def test_the_fake_clock_is_strict_a_batch_without_a_budget_times_out(
    moto_aws: Any, trigger_settings: Any
) -> None:
    """What a batch did before the budget: 5 small files need 20 s of a 12 s invocation."""
    records = uploads(moto_aws, 5)
    no_budget = dataclasses.replace(trigger_settings, budget=TimeBudget(record_ms=0))

    with pytest.raises(InvocationTimedOut):
        run(moto_aws, no_budget, sqs_event(*records.values()), context_for(moto_aws, 12_000))


def test_records_it_has_no_time_for_come_back_and_each_runs_exactly_once(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    records = uploads(moto_aws, 5)
    settings = budgeted(trigger_settings)

    first_context = context_for(moto_aws, 12_000)
    with caplog.at_level(logging.INFO):
        first = run(moto_aws, settings, sqs_event(*records.values()), first_context)

    # 12 s: the first record starts with 12 s left, the second with about 8 s, the third would
    # start with about 4 s, below the 5 s one record may need.
    assert first == {"batchItemFailures": [{"itemIdentifier": f"m-{n}"} for n in (2, 3, 4)]}
    assert len(moto_aws.transform_job_names()) == 2
    assert first_context.readings == sorted(first_context.readings, reverse=True)
    assert len(set(first_context.readings)) == len(first_context.readings)
    deferred = [r for r in caplog.records if getattr(r, "status", None) == "deferred"]
    assert [r.message_id for r in deferred] == ["m-2", "m-3", "m-4"]  # type: ignore[attr-defined]

    # SQS delivers the returned messages again, to a fresh invocation.
    returned = [records[item["itemIdentifier"]] for item in first["batchItemFailures"]]
    second_context = context_for(moto_aws, 12_000)
    second = run(moto_aws, settings, sqs_event(*returned), second_context)
    third = run(
        moto_aws,
        settings,
        sqs_event(*(records[item["itemIdentifier"]] for item in second["batchItemFailures"])),
        context_for(moto_aws, 12_000),
    )

    assert second == {"batchItemFailures": [{"itemIdentifier": "m-4"}]}
    assert third == {"batchItemFailures": []}
    assert len(moto_aws.transform_job_names()) == 5
    # Exactly once: one CreateTransformJob per upload, and no upload was copied twice.
    assert len(moto_aws.validator.requests) == 5
    assert first_context.calls.count("CopyObject") + second_context.calls.count("CopyObject") == 4


def test_a_message_cut_short_comes_back_whole_and_its_started_record_is_not_redone(
    moto_aws: Any, trigger_settings: Any
) -> None:
    """One message of two records, time for one: the message comes back, and on redelivery
    the started record's job is found (no second copy, no rewritten manifest)."""
    notification_records = []
    for key in ("input/a.jsonl", "input/b.jsonl"):
        uploaded = moto_aws.put(key)
        notification_records += s3_notification(
            key=key,
            size=uploaded["size"],
            etag=uploaded["etag"],
            version_id=uploaded["version_id"],
            sequencer=uploaded["sequencer"],
        )["Records"]
    event = sqs_event(sqs_record({"Records": notification_records}, message_id="m-two"))
    settings = budgeted(trigger_settings)

    first_context = context_for(moto_aws, 8_000)
    assert run(moto_aws, settings, event, first_context) == {
        "batchItemFailures": [{"itemIdentifier": "m-two"}]
    }
    assert len(moto_aws.transform_job_names()) == 1

    second_context = context_for(moto_aws, 12_000)
    assert run(moto_aws, settings, event, second_context) == {"batchItemFailures": []}

    assert len(moto_aws.transform_job_names()) == 2
    assert first_context.calls.count("CopyObject") == 1
    assert second_context.calls.count("CopyObject") == 1
    assert second_context.calls.count("PutObject") == 1


def test_with_no_time_for_one_record_nothing_is_read_and_everything_comes_back(
    moto_aws: Any, trigger_settings: Any
) -> None:
    records = uploads(moto_aws, 3)
    context = context_for(moto_aws, RECORD_MS - 1)

    response = run(moto_aws, budgeted(trigger_settings), sqs_event(*records.values()), context)

    assert response == {"batchItemFailures": [{"itemIdentifier": m} for m in records]}
    assert context.calls == []


def test_the_lambda_entry_point_hands_its_context_to_the_budget(
    moto_aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deployed budget (RECORD_BUDGET_SECONDS from the stack) against a context with less
    time left than that: the handler starts nothing and returns every message."""
    import handler

    for name, value in TRIGGER_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    handler._settings.cache_clear()
    handler._clients.cache_clear()
    boto3.setup_default_session(region_name=REGION)
    records = uploads(moto_aws, 2)
    budget_ms = 1000 * int(TRIGGER_ENVIRONMENT["RECORD_BUDGET_SECONDS"])
    try:
        s3, sagemaker, sns = handler._clients()
        context = RunningDownContext(
            timeout_ms=budget_ms - 1, call_ms=CALL_MS, clients=(s3, sagemaker, sns)
        )
        response = handler.handler(sqs_event(*records.values()), context)
    finally:
        handler._settings.cache_clear()
        handler._clients.cache_clear()
        boto3.DEFAULT_SESSION = None

    assert response == {"batchItemFailures": [{"itemIdentifier": m} for m in records]}
    assert context.calls == []
    assert moto_aws.transform_job_names() == []

"""Uploads above the largest accepted input are refused with a notice, never retried.

The limits come from the stack (stacks/trigger_budget.py), which sizes the trigger's timeout
for them; an input beyond them could not be copied within one record's time budget, and
before the limits it would time out again and again until the dead-letter queue.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
from batch_events import BUCKET, event_for, sqs_event
from botocore.stub import Stubber
from input_limits import InputLimits
from trigger import handle_sqs_batch

NO_FAILURES: dict[str, list[Any]] = {"batchItemFailures": []}


def run(moto_aws: Any, settings: Any, event: dict[str, Any]) -> dict[str, Any]:
    return handle_sqs_batch(
        event=event,
        settings=settings,
        s3=moto_aws.s3,
        sagemaker=moto_aws.sagemaker,
        sns=moto_aws.sns,
    )


def limited(settings: Any, **limits: int) -> Any:
    current = dataclasses.asdict(settings.limits)
    return dataclasses.replace(settings, limits=InputLimits(**{**current, **limits}))


def s3_calls(moto_aws: Any) -> list[str]:
    calls: list[str] = []
    moto_aws.s3.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    return calls


def test_a_file_above_the_largest_accepted_is_refused_before_any_copy(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = limited(trigger_settings, max_object_bytes=20)
    big = moto_aws.put("input/big.jsonl", b'{"inputs": "twenty-one bytes"}\n')
    fits = moto_aws.put("input/fits.jsonl", b'{"inputs": "ok"}\n')
    calls = s3_calls(moto_aws)

    with caplog.at_level(logging.INFO):
        response = run(
            moto_aws,
            settings,
            sqs_event(
                event_for(big, message_id="m-big")["Records"][0],
                event_for(fits, message_id="m-fits")["Records"][0],
            ),
        )

    assert response == NO_FAILURES
    assert calls.count("CopyObject") == 1
    [job] = moto_aws.transform_job_names()
    assert "fits" in job
    [notice] = moto_aws.notices()
    assert f"s3://{BUCKET}/input/big.jsonl" in notice["Message"]
    assert "the largest file accepted is 20 bytes" in notice["Message"]
    assert "datasets/<name>/part-*.jsonl" in notice["Message"]
    [refused] = [r for r in caplog.records if getattr(r, "status", None) == "rejected"]
    assert refused.message_id == "m-big"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        ({"max_dataset_parts": 2}, "more than 2 part files"),
        ({"max_dataset_bytes": 40}, "hold more than 40 bytes"),
        ({"max_object_bytes": 20}, "the largest part accepted is 20 bytes"),
    ],
    ids=["parts", "bytes", "one part"],
)
def test_a_dataset_above_a_limit_is_refused_and_nothing_is_copied(
    moto_aws: Any, trigger_settings: Any, limits: dict[str, int], reason: str
) -> None:
    for n in range(3):
        moto_aws.put(f"datasets/news/part-{n}.jsonl", b'{"inputs": "twenty-one bytes"}\n')
    marker = moto_aws.put("datasets/news/_SUCCESS", b"")
    calls = s3_calls(moto_aws)

    assert run(moto_aws, limited(trigger_settings, **limits), event_for(marker)) == NO_FAILURES

    assert moto_aws.transform_job_names() == []
    assert "CopyObject" not in calls and "PutObject" not in calls
    [notice] = moto_aws.notices()
    assert f"s3://{BUCKET}/datasets/news/_SUCCESS" in notice["Message"]
    assert reason in notice["Message"]


def test_a_dataset_folder_rewritten_too_often_is_refused_before_its_listing_runs_long(
    moto_aws: Any, trigger_settings: Any
) -> None:
    """Old versions are listed too (to find the current ones), so a folder rewritten again and
    again costs listing time however few parts it has now."""
    for _ in range(3):
        for n in range(2):
            moto_aws.put(f"datasets/daily/part-{n}.jsonl")
    marker = moto_aws.put("datasets/daily/_SUCCESS", b"")
    settings = limited(trigger_settings, max_dataset_listed_versions=5)

    assert run(moto_aws, settings, event_for(marker)) == NO_FAILURES

    assert moto_aws.transform_job_names() == []
    [notice] = moto_aws.notices()
    assert "more than 5 object versions" in notice["Message"]
    assert "write each dataset to a new folder" in notice["Message"]


def test_listing_a_huge_dataset_stops_at_the_limit(moto_aws: Any, trigger_settings: Any) -> None:
    """A dataset of millions of parts must not be listed to its end: the page that passes the
    limit is the last one read. The Stubber has no second page: asking for it would fail."""
    marker = moto_aws.put("datasets/huge/_SUCCESS", b"")
    settings = limited(trigger_settings, max_dataset_parts=2)
    versions = [
        {
            "Key": f"datasets/huge/part-{n}.jsonl",
            "VersionId": f"v{n}",
            "IsLatest": True,
            "Size": 10,
            "ETag": '"e"',
        }
        for n in range(3)
    ]
    stubber = Stubber(moto_aws.s3)
    stubber.add_response(
        "list_object_versions",
        {
            "Versions": versions,
            "IsTruncated": True,
            "NextKeyMarker": "datasets/huge/part-2.jsonl",
            "NextVersionIdMarker": "v2",
        },
        {"Bucket": BUCKET, "Prefix": "datasets/huge/"},
    )

    with stubber:
        response = run(moto_aws, settings, event_for(marker))

    stubber.assert_no_pending_responses()
    assert response == NO_FAILURES
    assert "more than 2 part files" in moto_aws.notices()[0]["Message"]

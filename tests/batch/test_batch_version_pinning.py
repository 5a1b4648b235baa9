"""Each job reads exactly the object versions its S3 event names, however often keys change."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import pytest
from batch_events import BUCKET, KEY_ARN, event_for, sqs_event
from trigger import handle_sqs_batch
from version_pinning import SourceVersion, pin_versions

NO_FAILURES: dict[str, list[Any]] = {"batchItemFailures": []}
MIB = 1024 * 1024


def run(moto_aws: Any, settings: Any, event: dict[str, Any]) -> dict[str, Any]:
    return handle_sqs_batch(
        event=event,
        settings=settings,
        s3=moto_aws.s3,
        sagemaker=moto_aws.sagemaker,
        sns=moto_aws.sns,
    )


def started_jobs(moto_aws: Any) -> list[dict[str, Any]]:
    """Each CreateTransformJob request, in order, as botocore's model validated it."""
    return list(moto_aws.validator.requests)


def objects_read_by(moto_aws: Any, request: dict[str, Any]) -> dict[str, bytes]:
    """The bytes of every object the job's manifest lists, by key relative to its prefix.

    Read after everything else in a test happened: a job reads its input while it runs,
    possibly hours after it was started.
    """
    manifest_uri = request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    manifest = json.loads(moto_aws.read(manifest_uri.removeprefix(f"s3://{BUCKET}/")))
    prefix_entry, *relative_keys = manifest
    folder = prefix_entry["prefix"].removeprefix(f"s3://{BUCKET}/")
    return {
        relative_key: moto_aws.s3.get_object(Bucket=BUCKET, Key=folder + relative_key)[
            "Body"
        ].read()
        for relative_key in relative_keys
    }


def test_two_versions_of_one_key_each_get_a_job_reading_its_own_bytes(
    moto_aws: Any, trigger_settings: Any
) -> None:
    # The second upload overwrites the key before the first upload's event is handled.
    first = moto_aws.put("input/reviews.jsonl", b'{"inputs": "first upload"}\n')
    second = moto_aws.put("input/reviews.jsonl", b'{"inputs": "second upload"}\n')

    assert run(moto_aws, trigger_settings, event_for(first, message_id="m-1")) == NO_FAILURES
    assert run(moto_aws, trigger_settings, event_for(second, message_id="m-2")) == NO_FAILURES
    # And a third upload while both jobs still run.
    moto_aws.put("input/reviews.jsonl", b'{"inputs": "third upload"}\n')

    first_job, second_job = started_jobs(moto_aws)
    assert first_job["TransformJobName"] != second_job["TransformJobName"]
    assert objects_read_by(moto_aws, first_job) == {
        "reviews.jsonl": b'{"inputs": "first upload"}\n'
    }
    assert objects_read_by(moto_aws, second_job) == {
        "reviews.jsonl": b'{"inputs": "second upload"}\n'
    }
    # Each job's tags name the version it reads.
    for request, upload in ((first_job, first), (second_job, second)):
        tags = {tag["Key"]: tag["Value"] for tag in request["Tags"]}
        assert tags["zstc:source-version"] == upload["version_id"]


def test_a_duplicate_event_after_an_overwrite_neither_starts_a_job_nor_rewrites_the_copy(
    moto_aws: Any, trigger_settings: Any
) -> None:
    first = moto_aws.put("input/reviews.jsonl", b'{"inputs": "first upload"}\n')
    assert run(moto_aws, trigger_settings, event_for(first)) == NO_FAILURES
    moto_aws.put("input/reviews.jsonl", b'{"inputs": "second upload"}\n')

    # S3 delivers the first upload's event once more.
    assert run(moto_aws, trigger_settings, event_for(first)) == NO_FAILURES

    [request] = started_jobs(moto_aws)
    assert objects_read_by(moto_aws, request) == {"reviews.jsonl": b'{"inputs": "first upload"}\n'}


def test_a_dataset_job_reads_the_parts_as_they_were_when_its_marker_was_handled(
    moto_aws: Any, trigger_settings: Any
) -> None:
    moto_aws.put("datasets/news/part-00000.jsonl", b'{"inputs": "old part 0"}\n')
    # Overwritten before the marker: the dataset's producer rewrote the part.
    moto_aws.put("datasets/news/part-00000.jsonl", b'{"inputs": "part 0"}\n')
    moto_aws.put("datasets/news/part-00001.jsonl", b'{"inputs": "part 1"}\n')
    marker = moto_aws.put("datasets/news/_SUCCESS", b"")

    assert run(moto_aws, trigger_settings, event_for(marker)) == NO_FAILURES
    # A new round of the dataset, written while the first job runs.
    moto_aws.put("datasets/news/part-00000.jsonl", b'{"inputs": "next round part 0"}\n')
    moto_aws.put("datasets/news/part-00001.jsonl", b'{"inputs": "next round part 1"}\n')

    [request] = started_jobs(moto_aws)
    assert objects_read_by(moto_aws, request) == {
        "part-00000.jsonl": b'{"inputs": "part 0"}\n',
        "part-00001.jsonl": b'{"inputs": "part 1"}\n',
    }


def test_a_deleted_dataset_part_is_not_read(moto_aws: Any, trigger_settings: Any) -> None:
    moto_aws.put("datasets/news/part-00000.jsonl", b'{"inputs": "part 0"}\n')
    moto_aws.put("datasets/news/part-00001.jsonl", b'{"inputs": "part 1"}\n')
    moto_aws.s3.delete_object(Bucket=BUCKET, Key="datasets/news/part-00001.jsonl")
    marker = moto_aws.put("datasets/news/_SUCCESS", b"")

    assert run(moto_aws, trigger_settings, event_for(marker)) == NO_FAILURES

    [request] = started_jobs(moto_aws)
    assert objects_read_by(moto_aws, request) == {"part-00000.jsonl": b'{"inputs": "part 0"}\n'}


def test_with_versioning_suspended_an_identical_re_upload_starts_its_own_job(
    moto_aws: Any, trigger_settings: Any
) -> None:
    moto_aws.suspend_versioning()
    body = b'{"inputs": "same bytes twice"}\n'
    first = moto_aws.put("input/reviews.jsonl", body)
    assert run(moto_aws, trigger_settings, event_for(first, message_id="m-1")) == NO_FAILURES
    # The same file again: version "null" and the same ETag; only the sequencer is new.
    again = moto_aws.put("input/reviews.jsonl", body)
    assert (again["version_id"], again["etag"]) == (first["version_id"], first["etag"])

    assert run(moto_aws, trigger_settings, event_for(again, message_id="m-2")) == NO_FAILURES

    first_job, second_job = started_jobs(moto_aws)
    assert first_job["TransformJobName"] != second_job["TransformJobName"]
    assert objects_read_by(moto_aws, second_job) == {"reviews.jsonl": body}
    # A redelivery of the second event is still a duplicate.
    assert run(moto_aws, trigger_settings, event_for(again, message_id="m-3")) == NO_FAILURES
    assert len(started_jobs(moto_aws)) == 2


def test_with_versioning_suspended_bytes_overwritten_before_the_copy_are_never_misread(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    moto_aws.suspend_versioning()
    first = moto_aws.put("input/reviews.jsonl", b'{"inputs": "first upload"}\n')
    # Suspended versioning replaces the "null" version in place: the first bytes are gone.
    second = moto_aws.put("input/reviews.jsonl", b'{"inputs": "second upload"}\n')

    with caplog.at_level(logging.INFO):
        response = run(
            moto_aws,
            trigger_settings,
            sqs_event(
                event_for(first, message_id="m-first")["Records"][0],
                event_for(second, message_id="m-second")["Records"][0],
            ),
        )

    # The first upload's job would read the second upload's bytes: it is never started. No
    # retry can bring those bytes back, so it is rejected: logged, told on the topic, and gone
    # from the queue rather than retried into the dead-letter queue.
    assert response == NO_FAILURES
    [request] = started_jobs(moto_aws)
    assert objects_read_by(moto_aws, request) == {"reviews.jsonl": b'{"inputs": "second upload"}\n'}
    [refused] = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert refused.status == "rejected"  # type: ignore[attr-defined]
    assert "was overwritten before its upload could be copied" in refused.getMessage()
    [notice] = moto_aws.notices()
    assert "s3://zstc-data-bucket/input/reviews.jsonl" in notice["Message"]
    assert "m-first" in notice["Message"]


def test_a_large_object_is_copied_in_parts_and_still_exactly_its_version(
    moto_aws: Any,
) -> None:
    """CopyObject stops at 5 GB, and one copy of several GB could outlast the Lambda's timeout;
    above the threshold the version is copied as parallel UploadPartCopy parts."""
    first_body = os.urandom(12 * MIB)
    first = moto_aws.put("input/big.jsonl", first_body)
    moto_aws.put("input/big.jsonl", b'{"inputs": "overwritten"}\n')
    operations: list[str] = []
    moto_aws.s3.meta.events.register(
        "before-call.s3", lambda model, **_: operations.append(model.name)
    )

    pin_versions(
        s3=moto_aws.s3,
        bucket=BUCKET,
        sources=[
            SourceVersion(
                key="input/big.jsonl",
                version_id=first["version_id"],
                etag=first["etag"],
                size=first["size"],
                relative_key="big.jsonl",
            )
        ],
        folder="pinned-inputs/zstc-job/",
        kms_key_id=KEY_ARN,
        # S3's smallest part is 5 MiB; the deployed threshold is 256 MiB.
        multipart_threshold=5 * MIB,
    )

    copy = moto_aws.s3.get_object(Bucket=BUCKET, Key="pinned-inputs/zstc-job/big.jsonl")
    assert copy["Body"].read() == first_body
    assert copy["SSEKMSKeyId"] == KEY_ARN
    assert operations.count("UploadPartCopy") >= 2
    assert "CopyObject" not in operations


def test_a_version_deleted_before_the_copy_is_a_permanent_failure(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    uploaded = moto_aws.put("input/reviews.jsonl")
    moto_aws.s3.delete_object(
        Bucket=BUCKET, Key="input/reviews.jsonl", VersionId=uploaded["version_id"]
    )

    with caplog.at_level(logging.INFO):
        assert run(moto_aws, trigger_settings, event_for(uploaded)) == {
            "batchItemFailures": [{"itemIdentifier": "m-1"}]
        }

    assert started_jobs(moto_aws) == []
    [record] = caplog.records
    assert record.status == "failed"  # type: ignore[attr-defined]
    assert "CopyObject" in record.getMessage()

"""The trigger Lambda against moto S3 and SageMaker: which uploads start which jobs."""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
import pytest
import rejections
from batch_events import (
    BUCKET,
    JOB_NAME_PREFIX,
    KEY_ARN,
    MODEL_NAME,
    REGION,
    TRIGGER_ENVIRONMENT,
    event_for,
    s3_notification,
    sqs_event,
    sqs_record,
)
from job_names import transform_job_name
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


def manifest_of(moto_aws: Any, job_name: str) -> list[Any]:
    return list(json.loads(moto_aws.read(f"manifests/{job_name}.manifest")))


def pinned(job_name: str) -> str:
    """The folder holding the copies of the versions a job reads."""
    return f"pinned-inputs/{job_name}/"


def objects_read_by(moto_aws: Any, job_name: str) -> dict[str, bytes]:
    """What the job's manifest makes it read: each listed key, relative to the prefix, and its
    bytes as S3 serves them now."""
    prefix_entry, *relative_keys = manifest_of(moto_aws, job_name)
    folder = prefix_entry["prefix"].removeprefix(f"s3://{BUCKET}/")
    return {
        relative_key: moto_aws.s3.get_object(Bucket=BUCKET, Key=folder + relative_key)[
            "Body"
        ].read()
        for relative_key in relative_keys
    }


def test_upload_under_input_starts_one_job_reading_exactly_that_file(
    moto_aws: Any, trigger_settings: Any
) -> None:
    uploaded = moto_aws.put("input/reviews.jsonl")
    # A sibling whose name starts the same: a prefix-based input would read it too.
    moto_aws.put("input/reviews.jsonl.bak")

    assert run(moto_aws, trigger_settings, event_for(uploaded)) == NO_FAILURES

    job_name = transform_job_name(
        prefix=JOB_NAME_PREFIX,
        bucket=BUCKET,
        key="input/reviews.jsonl",
        version=uploaded["version_id"],
    )
    assert moto_aws.transform_job_names() == [job_name]
    assert manifest_of(moto_aws, job_name) == [
        {"prefix": f"s3://{BUCKET}/{pinned(job_name)}"},
        "reviews.jsonl",
    ]
    copy = moto_aws.s3.get_object(Bucket=BUCKET, Key=f"{pinned(job_name)}reviews.jsonl")
    assert copy["Body"].read() == b'{"inputs": "text"}\n'
    assert copy["ServerSideEncryption"] == "aws:kms"
    assert copy["SSEKMSKeyId"] == KEY_ARN
    [request] = moto_aws.validator.requests
    assert request["ModelName"] == MODEL_NAME
    assert request["TransformInput"] == {
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "ManifestFile",
                "S3Uri": f"s3://{BUCKET}/manifests/{job_name}.manifest",
            }
        },
        "ContentType": "application/jsonlines",
        "CompressionType": "None",
        "SplitType": "Line",
    }
    # input/reviews.jsonl -> output/<job>/reviews.jsonl.out
    assert request["TransformOutput"] == {
        "S3OutputPath": f"s3://{BUCKET}/output/{job_name}",
        "Accept": "application/jsonlines",
        "AssembleWith": "Line",
        "KmsKeyId": KEY_ARN,
    }
    # ml.g4dn has NVMe instance storage: SageMaker rejects VolumeKmsKeyId for it.
    assert request["TransformResources"] == {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1}
    assert request["BatchStrategy"] == "MultiRecord"
    assert request["MaxPayloadInMB"] * request["MaxConcurrentTransforms"] == 12
    assert request["ModelClientConfig"] == {
        "InvocationsTimeoutInSeconds": 600,
        "InvocationsMaxRetries": 1,
    }
    assert request["DataProcessing"] == {"JoinSource": "None"}
    tags = {tag["Key"]: tag["Value"] for tag in request["Tags"]}
    assert tags["zstc:source-key"] == "input/reviews.jsonl"
    assert tags["zstc:source-version"] == uploaded["version_id"]
    assert tags["zstc:source-bucket"] == BUCKET


def test_volume_key_is_set_where_the_instance_type_allows_it(moto_aws: Any) -> None:
    from trigger_settings import load_settings

    settings = load_settings(
        {**TRIGGER_ENVIRONMENT, "INSTANCE_TYPE": "ml.m5.xlarge", "VOLUME_KMS_KEY_ENABLED": "true"}
    )
    run(moto_aws, settings, event_for(moto_aws.put("input/a.jsonl")))

    [request] = moto_aws.validator.requests
    assert request["TransformResources"] == {
        "InstanceType": "ml.m5.xlarge",
        "InstanceCount": 1,
        "VolumeKmsKeyId": KEY_ARN,
    }


def test_duplicate_delivery_starts_one_job_and_counts_as_success(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    event = event_for(moto_aws.put("input/reviews.jsonl"))

    assert run(moto_aws, trigger_settings, event) == NO_FAILURES
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert run(moto_aws, trigger_settings, event) == NO_FAILURES

    assert len(moto_aws.transform_job_names()) == 1
    # moto accepts a second job of the same name silently; the trigger must not even try.
    assert len(moto_aws.validator.requests) == 1
    assert [record.status for record in caplog.records] == ["duplicate"]  # type: ignore[attr-defined]


def test_each_new_version_of_the_same_key_gets_its_own_job(
    moto_aws: Any, trigger_settings: Any
) -> None:
    first = moto_aws.put("input/reviews.jsonl", b'{"inputs": "one"}\n')
    second = moto_aws.put("input/reviews.jsonl", b'{"inputs": "two"}\n')

    run(moto_aws, trigger_settings, event_for(first))
    run(moto_aws, trigger_settings, event_for(second))

    assert len(set(moto_aws.transform_job_names())) == 2


@pytest.mark.parametrize(
    "key",
    [
        "input/my reviews 2024.jsonl",
        "input/a+b=c.jsonl",
        "input/100%25 done.jsonl",
        "input/café/naïve résumé.jsonl",
        "input/日本語/データ.jsonl",
        "input/a/b/c/d/e/f/g/h/deep file.jsonl",
    ],
)
def test_odd_keys_are_decoded_and_the_manifest_names_the_real_object(
    moto_aws: Any, trigger_settings: Any, key: str
) -> None:
    uploaded = moto_aws.put(key)

    assert run(moto_aws, trigger_settings, event_for(uploaded)) == NO_FAILURES

    [job_name] = moto_aws.transform_job_names()
    assert job_name == transform_job_name(
        prefix=JOB_NAME_PREFIX, bucket=BUCKET, key=key, version=uploaded["version_id"]
    )
    # The manifest points at a copy of the uploaded object, named after its file name so the
    # result is output/<job>/<file name>.out.
    assert objects_read_by(moto_aws, job_name) == {key.rpartition("/")[2]: b'{"inputs": "text"}\n'}


def test_zero_byte_upload_starts_no_job_and_says_why(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    uploaded = moto_aws.put("input/empty.jsonl", b"")

    with caplog.at_level(logging.INFO):
        assert run(moto_aws, trigger_settings, event_for(uploaded)) == NO_FAILURES

    assert moto_aws.transform_job_names() == []
    assert "zero-byte" in caplog.text


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("other/reviews.jsonl", "outside the input/ and datasets/ prefixes"),
        ("reviews.jsonl", "outside the input/ and datasets/ prefixes"),
        ("output/zstc-job/reviews.jsonl.out", "outside the input/ and datasets/ prefixes"),
        ("input/reviews.json", "must end with .jsonl"),
        ("input/reviews.jsonl.bak", "must end with .jsonl"),
        ("input/reviews.JSONL", "must end with .jsonl"),
    ],
)
def test_wrong_prefix_or_suffix_starts_no_job_and_says_why(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture, key: str, reason: str
) -> None:
    uploaded = moto_aws.put(key)

    with caplog.at_level(logging.INFO):
        assert run(moto_aws, trigger_settings, event_for(uploaded)) == NO_FAILURES

    assert moto_aws.transform_job_names() == []
    assert reason in caplog.text
    assert key in [record.key for record in caplog.records]  # type: ignore[attr-defined]


def test_non_create_events_the_s3_test_event_and_empty_records_start_nothing_and_say_why(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    removed = s3_notification(
        key="input/a.jsonl",
        size=0,
        etag="d41d8cd9",
        version_id="v1",
        event_name="ObjectRemoved:Delete",
    )
    test_event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-25T12:00:00.000Z",
        "Bucket": BUCKET,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
    event = sqs_event(
        sqs_record(removed, message_id="m-1"),
        sqs_record(test_event, message_id="m-2"),
        sqs_record({"Records": []}, message_id="m-3"),
    )

    with caplog.at_level(logging.INFO):
        assert run(moto_aws, trigger_settings, event) == NO_FAILURES

    # Every message that leaves the queue is logged with why.
    why = {
        record.message_id: record.getMessage()  # type: ignore[attr-defined]
        for record in caplog.records
        if getattr(record, "status", None) == "ignored"
    }
    assert "ObjectRemoved:Delete is not ObjectCreated" in why["m-1"]
    assert "s3:TestEvent" in why["m-2"]
    assert "Records list is empty" in why["m-3"]
    assert moto_aws.notices() == []
    assert moto_aws.transform_job_names() == []


def test_a_message_that_is_not_an_s3_notification_is_rejected_reported_and_not_retried(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Retrying a body that is no S3 notification can never help: it would only travel to the
    dead-letter queue. It is logged, a person is told on the topic, and it leaves the queue."""
    good = event_for(moto_aws.put("input/a.jsonl"), message_id="m-good")["Records"][0]
    event = sqs_event(
        good,
        sqs_record("not json at all", message_id="m-garbage"),
        sqs_record({"hello": "world"}, message_id="m-other-json"),
    )

    with caplog.at_level(logging.INFO):
        assert run(moto_aws, trigger_settings, event) == NO_FAILURES

    assert len(moto_aws.transform_job_names()) == 1
    notices = moto_aws.notices()
    assert [notice["Subject"] for notice in notices] == [rejections.SUBJECT] * 2
    assert "m-garbage" in notices[0]["Message"] and "not readable JSON" in notices[0]["Message"]
    assert "m-other-json" in notices[1]["Message"] and "'Records'" in notices[1]["Message"]
    rejected = [r for r in caplog.records if getattr(r, "status", None) == "rejected"]
    assert [r.message_id for r in rejected] == ["m-garbage", "m-other-json"]  # type: ignore[attr-defined]


def test_dataset_parts_start_nothing_and_the_marker_starts_one_job_over_them(
    moto_aws: Any, trigger_settings: Any
) -> None:
    parts = [
        moto_aws.put("datasets/news/part-00000.jsonl"),
        moto_aws.put("datasets/news/part-00001.jsonl"),
        moto_aws.put("datasets/news/2024/part-00002.jsonl"),
    ]
    # Not data: Spark's checksum file, an empty part, and a dataset whose name shares the prefix.
    moto_aws.put("datasets/news/.part-00000.jsonl.crc")
    moto_aws.put("datasets/news/part-00003.jsonl", b"")
    # Nor are folders whose name starts with '_' or '.': a task's uncommitted output
    # (Hadoop's FileOutputCommitter) and Spark's staging folder, at any depth.
    moto_aws.put("datasets/news/_temporary/0/part-00009.jsonl")
    moto_aws.put("datasets/news/2024/_temporary/0/task_1/part-00010.jsonl")
    moto_aws.put("datasets/news/.spark-staging-1/part-00011.jsonl")
    moto_aws.put("datasets/news-archive/part-00000.jsonl")
    for index, part in enumerate(parts):
        assert run(moto_aws, trigger_settings, event_for(part, message_id=f"p{index}")) == (
            NO_FAILURES
        )
    assert moto_aws.transform_job_names() == []

    marker = moto_aws.put("datasets/news/_SUCCESS", b"")
    assert run(moto_aws, trigger_settings, event_for(marker)) == NO_FAILURES

    [job_name] = moto_aws.transform_job_names()
    assert job_name == transform_job_name(
        prefix=JOB_NAME_PREFIX,
        bucket=BUCKET,
        key="datasets/news/_SUCCESS",
        version=marker["version_id"],
    )
    assert manifest_of(moto_aws, job_name) == [
        {"prefix": f"s3://{BUCKET}/{pinned(job_name)}"},
        "2024/part-00002.jsonl",
        "part-00000.jsonl",
        "part-00001.jsonl",
    ]
    [request] = moto_aws.validator.requests
    assert request["TransformResources"]["InstanceCount"] == 3
    assert request["TransformInput"]["DataSource"]["S3DataSource"] == {
        "S3DataType": "ManifestFile",
        "S3Uri": f"s3://{BUCKET}/manifests/{job_name}.manifest",
    }
    # A redelivered marker finds its job and leaves the manifest as the job read it.
    moto_aws.put("datasets/news/part-00004.jsonl")
    assert run(moto_aws, trigger_settings, event_for(marker)) == NO_FAILURES
    assert moto_aws.transform_job_names() == [job_name]
    assert "part-00004.jsonl" not in manifest_of(moto_aws, job_name)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("datasets/_SUCCESS", "must sit in a dataset folder"),
        ("datasets/empty/_SUCCESS", "has no non-empty part files"),
    ],
)
def test_markers_without_a_dataset_start_nothing(
    moto_aws: Any, trigger_settings: Any, caplog: pytest.LogCaptureFixture, key: str, reason: str
) -> None:
    marker = moto_aws.put(key, b"")

    with caplog.at_level(logging.INFO):
        assert run(moto_aws, trigger_settings, event_for(marker)) == NO_FAILURES

    assert moto_aws.transform_job_names() == []
    assert reason in caplog.text


def test_lambda_entry_point_reads_its_environment_and_starts_the_job(
    moto_aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handler

    for name, value in TRIGGER_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    handler._settings.cache_clear()
    handler._clients.cache_clear()
    # Clients the handler builds itself come from the default session: validate theirs too.
    boto3.setup_default_session(region_name=REGION)
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register(
        "before-parameter-build.sagemaker.CreateTransformJob", moto_aws.validator
    )
    try:
        response = handler.handler(event_for(moto_aws.put("input/a.jsonl")), None)
    finally:
        handler._settings.cache_clear()
        handler._clients.cache_clear()
        boto3.DEFAULT_SESSION = None

    assert response == NO_FAILURES
    assert len(moto_aws.transform_job_names()) == 1
    assert len(moto_aws.validator.requests) == 1

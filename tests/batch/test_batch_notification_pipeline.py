"""S3 notifications through a moto SQS queue into the trigger, shaped as the stack routes them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from batch_events import BUCKET, sqs_event, sqs_record
from trigger import handle_sqs_batch

# The same filters the batch stack configures on the data bucket.
ROUTES = [
    ("input/", ".jsonl"),
    ("datasets/", "/_SUCCESS"),
]


def with_version_fields(moto_aws: Any, body: str) -> str:
    """The notification with the versionId and sequencer S3 puts in it and moto 5 leaves out.

    moto builds S3 -> SQS events with key, size and eTag only (moto/s3/notifications.py,
    _get_s3_event); S3 also sends versionId and sequencer
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).
    """
    notification = json.loads(body)
    for index, record in enumerate(notification.get("Records", [])):
        s3_object = record["s3"]["object"]
        head = moto_aws.s3.head_object(Bucket=BUCKET, Key=unquote_plus(s3_object["key"]))
        s3_object["versionId"] = head["VersionId"]
        s3_object["sequencer"] = f"{index:018X}"
    return json.dumps(notification)


def test_uploads_reach_the_trigger_through_the_queue_and_start_the_right_jobs(
    moto_aws: Any, trigger_settings: Any
) -> None:
    queue_url = moto_aws.sqs.create_queue(QueueName="zstc-transform-trigger")["QueueUrl"]
    queue_arn = moto_aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    moto_aws.s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": prefix},
                                {"Name": "suffix", "Value": suffix},
                            ]
                        }
                    },
                }
                for prefix, suffix in ROUTES
            ]
        },
    )
    moto_aws.put("input/deep/folder/my reviews+2024.jsonl")
    moto_aws.put("datasets/news/part-00000.jsonl")
    moto_aws.put("datasets/news/part-00001.jsonl")
    moto_aws.put("datasets/news/_SUCCESS", b"")
    moto_aws.put("input/notes.txt")

    messages = moto_aws.sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    )["Messages"]
    bodies = [json.loads(message["Body"]) for message in messages]
    # The filters alone keep part files and other suffixes out; the s3:TestEvent S3 sends when
    # the configuration is saved arrives too.
    routed_keys = sorted(
        unquote_plus(record["s3"]["object"]["key"])
        for body in bodies
        for record in body.get("Records", [])
    )
    assert routed_keys == ["datasets/news/_SUCCESS", "input/deep/folder/my reviews+2024.jsonl"]
    assert {body.get("Event") for body in bodies} >= {"s3:TestEvent"}

    event = sqs_event(
        *(
            sqs_record(
                with_version_fields(moto_aws, message["Body"]), message_id=message["MessageId"]
            )
            for message in messages
        )
    )
    response = handle_sqs_batch(
        event=event,
        settings=trigger_settings,
        s3=moto_aws.s3,
        sagemaker=moto_aws.sagemaker,
        sns=moto_aws.sns,
    )

    assert response == {"batchItemFailures": []}
    sources = sorted(
        {tag["Key"]: tag["Value"] for tag in request["Tags"]}["zstc:source-key"]
        for request in moto_aws.validator.requests
    )
    assert sources == ["datasets/news/_SUCCESS", "input/deep/folder/my reviews+2024.jsonl"]
    # The job-state e-mail reads these from the job's Environment: the uploaded object, unmangled.
    named = sorted(
        (request["Environment"]["ZSTC_SOURCE_OBJECT"], request["Environment"]["ZSTC_DATASET"])
        for request in moto_aws.validator.requests
    )
    assert named == [
        (f"s3://{BUCKET}/datasets/news/_SUCCESS", "datasets/news/"),
        (f"s3://{BUCKET}/input/deep/folder/my reviews+2024.jsonl", "none (a single uploaded file)"),
    ]
    assert len(moto_aws.transform_job_names()) == 2

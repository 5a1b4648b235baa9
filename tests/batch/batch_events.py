"""Real-shaped events and shared constants for the batch trigger tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from stacks.job_name_prefix import deployment_job_name_prefix
from stacks.trigger_budget import trigger_limit_environment

# The Lambda asset directory holds plain modules, imported the way the Lambda runtime does.
TRIGGER_DIR = Path(__file__).resolve().parents[2] / "lambda" / "transform_trigger"
if str(TRIGGER_DIR) not in sys.path:
    sys.path.insert(0, str(TRIGGER_DIR))

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "zstc-data-bucket"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MODEL_NAME = "zstc-batch-model"
# What the batch stack derives for the default stack prefix.
JOB_NAME_PREFIX = deployment_job_name_prefix("Zstc")
TOPIC_NAME = "zstc-batch-job-notifications"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC_NAME}"

# The environment the batch stack gives the Lambda (names read by trigger_settings.py).
TRIGGER_ENVIRONMENT = {
    "JOB_NAME_PREFIX": JOB_NAME_PREFIX,
    "INPUT_PREFIX": "input/",
    "DATASETS_PREFIX": "datasets/",
    "OUTPUT_PREFIX": "output/",
    "MANIFESTS_PREFIX": "manifests/",
    "PINNED_INPUTS_PREFIX": "pinned-inputs/",
    "MODEL_NAME": MODEL_NAME,
    "INSTANCE_TYPE": "ml.g4dn.xlarge",
    "DATASET_INSTANCE_COUNT": "3",
    "MAX_PAYLOAD_MB": "6",
    "MAX_CONCURRENT_TRANSFORMS": "2",
    "BATCH_STRATEGY": "MultiRecord",
    "INVOCATIONS_TIMEOUT_SECONDS": "600",
    "KMS_KEY_ARN": KEY_ARN,
    "VOLUME_KMS_KEY_ENABLED": "false",
    "NOTIFICATION_TOPIC_ARN": TOPIC_ARN,
    **trigger_limit_environment(),
}


def s3_notification(
    *,
    key: str,
    size: int,
    etag: str,
    version_id: str | None,
    sequencer: str = "0A1B2C3D4E5F678901",
    event_name: str = "ObjectCreated:Put",
    bucket: str = BUCKET,
) -> dict[str, Any]:
    """An S3 event notification (event version 2.1) as S3 sends it to SQS."""
    s3_object: dict[str, Any] = {
        # S3 URL-encodes keys in notifications: a space becomes '+', a '+' becomes %2B.
        "key": quote_plus(key, safe="/"),
        "size": size,
        "eTag": etag,
        "sequencer": sequencer,
    }
    if version_id is not None:
        s3_object["versionId"] = version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2026-11-25T12:00:00.000Z",
                "eventName": event_name,
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "203.0.113.10"},
                "responseElements": {
                    "x-amz-request-id": "C3D13FE58DE4C810",
                    "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "zstc-input",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": s3_object,
                },
            }
        ]
    }


def sqs_record(body: dict[str, Any] | str, *, message_id: str) -> dict[str, Any]:
    """One record of the SQS event that invokes the Lambda."""
    return {
        "messageId": message_id,
        "receiptHandle": f"AQEB{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764072000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1764072000001",
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:zstc-transform-trigger",
        "awsRegion": REGION,
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def event_for(uploaded: dict[str, Any], *, message_id: str = "m-1") -> dict[str, Any]:
    """The SQS event for one upload made with MotoAws.put."""
    return sqs_event(
        sqs_record(
            s3_notification(
                key=uploaded["key"],
                size=uploaded["size"],
                etag=uploaded["etag"],
                version_id=uploaded["version_id"],
                sequencer=uploaded["sequencer"],
            ),
            message_id=message_id,
        )
    )

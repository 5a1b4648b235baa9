"""Late server access logs can no longer block the access-log bucket's deletion (aws-cdk#21776).

The teardown runs against moto's S3 (versioned bucket, real policy); the template side checks
the deletion order CloudFormation derives from the references.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from infra_synth import SynthesizedApp, resources_of_type, synth
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lambda" / "access_log_teardown"))

import log_bucket_teardown

from stacks.access_log_teardown import RESOURCE_TYPE

REGION = "eu-west-1"
LOG_BUCKET = "zstc-data-accesslogbucket-1a2b3c"
LOGGING_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{LOG_BUCKET}/*",
        }
    ],
}


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(
            Bucket=LOG_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        client.put_bucket_versioning(
            Bucket=LOG_BUCKET, VersioningConfiguration={"Status": "Enabled"}
        )
        client.put_bucket_policy(Bucket=LOG_BUCKET, Policy=json.dumps(LOGGING_POLICY))
        yield client


def _event(request_type: str) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "PhysicalResourceId": LOG_BUCKET,
        "ResourceProperties": {"BucketName": LOG_BUCKET},
    }


def test_delete_closes_the_bucket_to_deliveries_then_empties_every_version(s3: Any) -> None:
    for day in range(3):
        for _ in range(2):  # two versions of each key, and a delete marker
            s3.put_object(Bucket=LOG_BUCKET, Key=f"data-bucket/2026-01-0{day + 1}", Body=b"log")
        s3.delete_object(Bucket=LOG_BUCKET, Key=f"data-bucket/2026-01-0{day + 1}")

    log_bucket_teardown.on_event(_event("Delete"), s3=s3)

    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=LOG_BUCKET)
    listed = s3.list_object_versions(Bucket=LOG_BUCKET)
    assert "Versions" not in listed and "DeleteMarkers" not in listed
    s3.delete_bucket(Bucket=LOG_BUCKET)  # what CloudFormation does next: it succeeds


def test_delete_of_a_bucket_that_is_gone_succeeds(s3: Any) -> None:
    s3.delete_bucket_policy(Bucket=LOG_BUCKET)
    s3.delete_bucket(Bucket=LOG_BUCKET)
    assert log_bucket_teardown.on_event(_event("Delete"), s3=s3) == {
        "PhysicalResourceId": LOG_BUCKET
    }


def test_create_and_update_touch_nothing(s3: Any) -> None:
    s3.put_object(Bucket=LOG_BUCKET, Key="data-bucket/log", Body=b"log")
    for request_type in ("Create", "Update"):
        log_bucket_teardown.on_event(_event(request_type), s3=s3)
    assert s3.get_bucket_policy(Bucket=LOG_BUCKET)["Policy"]
    assert s3.list_objects_v2(Bucket=LOG_BUCKET)["KeyCount"] == 1


@pytest.fixture(scope="module")
def default_app() -> SynthesizedApp:
    return synth()


def test_deletion_order_data_bucket_then_teardown_then_log_bucket(
    default_app: SynthesizedApp,
) -> None:
    template = default_app.templates[default_app.stacks.data.stack_name]
    ((teardown_id, teardown),) = resources_of_type(template, RESOURCE_TYPE).items()
    buckets = resources_of_type(template, "AWS::S3::Bucket")
    (log_bucket_id,) = [
        i for i, b in buckets.items() if "LoggingConfiguration" not in b["Properties"]
    ]
    (data_bucket_id,) = [i for i, b in buckets.items() if "LoggingConfiguration" in b["Properties"]]

    # The teardown references the log bucket (deleted before it) and the data bucket depends on
    # the teardown (deleted after the data bucket).
    assert teardown["Properties"]["BucketName"] == {"Ref": log_bucket_id}
    assert teardown_id in buckets[data_bucket_id]["DependsOn"]
    # The CDK's own emptying no longer runs on the log bucket; it still does on the data bucket.
    emptied = [
        r["Properties"]["BucketName"]
        for r in resources_of_type(template, "Custom::S3AutoDeleteObjects").values()
    ]
    assert emptied == [{"Ref": data_bucket_id}]
    # The log bucket's policy names the data bucket, so it goes even before the data bucket.
    (policy,) = [
        p
        for p in resources_of_type(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": log_bucket_id}
    ]
    assert data_bucket_id in json.dumps(policy["Properties"]["PolicyDocument"])


def test_retained_buckets_get_no_teardown() -> None:
    app = synth({"removal_policy": "retain"})
    template = app.templates[app.stacks.data.stack_name]
    assert resources_of_type(template, RESOURCE_TYPE) == {}

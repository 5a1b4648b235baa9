"""Tagged uploads work, and the trigger's IAM policy allows exactly the calls it makes.

Every call the trigger makes in moto is checked against the trigger role's statements in the
synthesized template (template_iam.py), as IAM would check it in a real account.

Tagged uploads: CopyObject copies the source's tags unless TaggingDirective is REPLACE, and
copying the tags of a version needs s3:GetObjectVersionTagging and s3:PutObjectTagging
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html). The trigger copies
with REPLACE and no tags, so it needs neither: the copy is the job's private input, and the
user's tags mean nothing there (version_pinning.py).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Template
from batch_events import (
    ACCOUNT,
    BUCKET,
    KEY_ARN,
    REGION,
    TOPIC_ARN,
    event_for,
    sqs_event,
    sqs_record,
)
from template_iam import TemplatePolicy, enforce
from trigger import handle_sqs_batch
from version_pinning import SourceVersion, pin_versions

NO_FAILURES: dict[str, list[Any]] = {"batchItemFailures": []}
TAGS = "owner=alice&classification=internal"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def template_json(default_batch_stack: Any) -> dict[str, Any]:
    return dict(Template.from_stack(default_batch_stack).to_json())


def trigger_policy(template_json: dict[str, Any]) -> TemplatePolicy:
    topic_id = next(
        logical_id
        for logical_id, resource in template_json["Resources"].items()
        if resource["Type"] == "AWS::SNS::Topic"
    )
    return TemplatePolicy.of_role(
        template_json,
        role_id_prefix="TriggerRole",
        tokens={
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "Zstc-Data-DataBucketArn": f"arn:aws:s3:::{BUCKET}",
            topic_id: TOPIC_ARN,
        },
    )


def enforced(moto_aws: Any, template_json: dict[str, Any]) -> TemplatePolicy:
    policy = trigger_policy(template_json)
    enforce(
        policy,
        s3=moto_aws.s3,
        sagemaker=moto_aws.sagemaker,
        sns=moto_aws.sns,
        region=REGION,
        account=ACCOUNT,
    )
    return policy


def run(moto_aws: Any, settings: Any, event: dict[str, Any]) -> dict[str, Any]:
    return handle_sqs_batch(
        event=event,
        settings=settings,
        s3=moto_aws.s3,
        sagemaker=moto_aws.sagemaker,
        sns=moto_aws.sns,
    )


def tags_of(key: str) -> list[dict[str, str]]:
    # A client the policy fake does not watch: this is the test looking, not the trigger.
    observer = boto3.client("s3", region_name=REGION)
    return list(observer.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"])


def job_names() -> list[str]:
    observer = boto3.client("sagemaker", region_name=REGION)
    return [
        job["TransformJobName"] for job in observer.list_transform_jobs()["TransformJobSummaries"]
    ]


def pinned_keys() -> list[str]:
    observer = boto3.client("s3", region_name=REGION)
    listing = observer.list_objects_v2(Bucket=BUCKET, Prefix="pinned-inputs/")
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_the_policy_fake_refuses_what_the_template_does_not_grant(
    moto_aws: Any, template_json: dict[str, Any]
) -> None:
    """The fake is strict: copying a tagged version with the default directive (COPY) is
    refused, because the trigger role has no tag permissions."""
    uploaded = moto_aws.put("input/tagged.jsonl", tagging=TAGS)
    enforced(moto_aws, template_json)

    with pytest.raises(moto_aws.s3.exceptions.ClientError, match="s3:GetObjectVersionTagging"):
        moto_aws.s3.copy_object(
            Bucket=BUCKET,
            Key="pinned-inputs/job/tagged.jsonl",
            CopySource={
                "Bucket": BUCKET,
                "Key": "input/tagged.jsonl",
                "VersionId": uploaded["version_id"],
            },
        )


def test_tagged_uploads_start_their_jobs_and_the_copies_carry_no_tags(
    moto_aws: Any, trigger_settings: Any, template_json: dict[str, Any]
) -> None:
    single = moto_aws.put("input/tagged.jsonl", tagging=TAGS)
    moto_aws.put("datasets/news/part-0.jsonl", tagging=TAGS)
    moto_aws.put("datasets/news/part-1.jsonl")
    marker = moto_aws.put("datasets/news/_SUCCESS", b"", tagging=TAGS)
    enforced(moto_aws, template_json)

    response = run(
        moto_aws,
        trigger_settings,
        sqs_event(
            event_for(single, message_id="m-single")["Records"][0],
            event_for(marker, message_id="m-dataset")["Records"][0],
        ),
    )

    assert response == NO_FAILURES
    assert len(job_names()) == 2
    copies = pinned_keys()
    assert len(copies) == 3
    assert all(tags_of(copy) == [] for copy in copies)
    # The uploads keep their tags.
    assert len(tags_of("input/tagged.jsonl")) == 2


def test_a_tagged_version_copied_in_parts_carries_no_tags(
    moto_aws: Any, trigger_settings: Any, template_json: dict[str, Any]
) -> None:
    body = os.urandom(12 * MIB)
    uploaded = moto_aws.put("input/big.jsonl", body, tagging=TAGS)
    policy = enforced(moto_aws, template_json)

    pin_versions(
        s3=moto_aws.s3,
        bucket=BUCKET,
        sources=[
            SourceVersion(
                key="input/big.jsonl",
                version_id=uploaded["version_id"],
                etag=uploaded["etag"],
                size=uploaded["size"],
                relative_key="big.jsonl",
            )
        ],
        folder="pinned-inputs/job/",
        kms_key_id=KEY_ARN,
        # S3's smallest part is 5 MiB; the deployed threshold is 256 MiB.
        multipart_threshold=5 * MIB,
    )

    assert tags_of("pinned-inputs/job/big.jsonl") == []
    assert "s3:GetObjectVersionTagging" not in policy.used


def test_the_trigger_policy_grants_exactly_the_actions_its_calls_need(
    moto_aws: Any, trigger_settings: Any, template_json: dict[str, Any]
) -> None:
    """Every call path, in one policy fake: a file, a dataset, a part copy, a rejection.
    Nothing the policy grants goes unused, except aborting a part copy that failed."""
    single = moto_aws.put("input/a.jsonl", tagging=TAGS)
    moto_aws.put("datasets/d/part-0.jsonl")
    marker = moto_aws.put("datasets/d/_SUCCESS", b"")
    big = moto_aws.put("input/big.jsonl", os.urandom(11 * MIB))
    policy = enforced(moto_aws, template_json)

    response = run(
        moto_aws,
        trigger_settings,
        sqs_event(
            event_for(single, message_id="m-1")["Records"][0],
            event_for(marker, message_id="m-2")["Records"][0],
            sqs_record("not an S3 event", message_id="m-3"),
        ),
    )
    pin_versions(
        s3=moto_aws.s3,
        bucket=BUCKET,
        sources=[
            SourceVersion(
                key="input/big.jsonl",
                version_id=big["version_id"],
                etag=big["etag"],
                size=big["size"],
                relative_key="big.jsonl",
            )
        ],
        folder="pinned-inputs/job/",
        kms_key_id=KEY_ARN,
        multipart_threshold=5 * MIB,
    )

    assert response == NO_FAILURES
    granted = policy.actions(services=("s3", "sagemaker", "sns"))
    assert policy.used <= granted
    # s3:AbortMultipartUpload: boto3's managed copy aborts the upload of a copy that failed.
    assert granted - policy.used == {"s3:AbortMultipartUpload"}
    assert not {"s3:GetObjectVersionTagging", "s3:PutObjectTagging"} & granted

"""The data stack: key, encrypted and locked-down buckets, removal per config, outputs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from infra_synth import (
    DEFAULT,
    EXISTING_KEY_ARN,
    EXISTING_KEY_RETAIN,
    SynthesizedApp,
    resources_of_type,
    synth,
)


@pytest.fixture(scope="module")
def default_app() -> SynthesizedApp:
    return synth(DEFAULT)


@pytest.fixture(scope="module")
def retain_app() -> SynthesizedApp:
    return synth(EXISTING_KEY_RETAIN)


def _data(app: SynthesizedApp) -> tuple[Template, dict[str, Any]]:
    return app.template(app.stacks.data), app.templates[app.stacks.data.stack_name]


def _only_logical_id(template: dict[str, Any], resource_type: str) -> str:
    (logical_id,) = resources_of_type(template, resource_type)
    return logical_id


def _data_bucket_id(template: dict[str, Any]) -> str:
    (logical_id,) = [
        logical_id
        for logical_id, bucket in resources_of_type(template, "AWS::S3::Bucket").items()
        if "LoggingConfiguration" in bucket["Properties"]
    ]
    return logical_id


def test_created_key_rotates_and_is_scheduled_for_deletion_on_destroy(
    default_app: SynthesizedApp,
) -> None:
    template, _ = _data(default_app)
    template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": {"EnableKeyRotation": True, "PendingWindowInDays": 7},
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
        },
    )


def test_key_policy_lets_cloudwatch_logs_use_it_only_for_this_accounts_log_groups(
    default_app: SynthesizedApp,
) -> None:
    template, _ = _data(default_app)
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "AllowCloudWatchLogsEncryption",
                                "Condition": {
                                    "ArnLike": {
                                        "kms:EncryptionContext:aws:logs:arn": Match.any_value()
                                    }
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def test_data_bucket_is_kms_encrypted_with_the_key_and_bucket_keys(
    default_app: SynthesizedApp,
) -> None:
    _template, raw = _data(default_app)
    key_id = _only_logical_id(raw, "AWS::KMS::Key")
    bucket = raw["Resources"][_data_bucket_id(raw)]["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule == {
        "BucketKeyEnabled": True,
        "ServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
        },
    }


def test_data_bucket_is_private_versioned_logged_and_expires_old_versions(
    default_app: SynthesizedApp,
) -> None:
    _, raw = _data(default_app)
    bucket = raw["Resources"][_data_bucket_id(raw)]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    log_bucket_ids = set(resources_of_type(raw, "AWS::S3::Bucket")) - {_data_bucket_id(raw)}
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket_ids.pop()}
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert any(
        rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") == 30 for rule in rules
    )
    assert any("AbortIncompleteMultipartUpload" in rule for rule in rules)


def test_every_bucket_denies_requests_without_tls(default_app: SynthesizedApp) -> None:
    _, raw = _data(default_app)
    policies = resources_of_type(raw, "AWS::S3::BucketPolicy").values()
    secured = {
        policy["Properties"]["Bucket"]["Ref"]
        for policy in policies
        if any(
            statement["Effect"] == "Deny"
            and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        )
    }
    assert secured == set(resources_of_type(raw, "AWS::S3::Bucket"))


def test_destroy_empties_and_deletes_both_buckets(default_app: SynthesizedApp) -> None:
    _template, raw = _data(default_app)
    buckets = resources_of_type(raw, "AWS::S3::Bucket")
    assert {b["DeletionPolicy"] for b in buckets.values()} == {"Delete"}
    emptied = {
        resource["Properties"]["BucketName"]["Ref"]
        for resource in resources_of_type(raw, "Custom::S3AutoDeleteObjects").values()
    } | {
        # The access-log bucket is emptied by its own teardown (test_infra_access_log_teardown).
        resource["Properties"]["BucketName"]["Ref"]
        for resource in resources_of_type(raw, "Custom::AccessLogBucketTeardown").values()
    }
    assert emptied == set(buckets)


def test_retain_keeps_buckets_and_their_objects(retain_app: SynthesizedApp) -> None:
    template, raw = _data(retain_app)
    buckets = resources_of_type(raw, "AWS::S3::Bucket")
    assert {b["DeletionPolicy"] for b in buckets.values()} == {"Retain"}
    assert {b["UpdateReplacePolicy"] for b in buckets.values()} == {"Retain"}
    template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


def test_existing_key_is_used_as_is_and_no_key_is_created(retain_app: SynthesizedApp) -> None:
    template, raw = _data(retain_app)
    template.resource_count_is("AWS::KMS::Key", 0)
    bucket = raw["Resources"][_data_bucket_id(raw)]["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == EXISTING_KEY_ARN
    template.has_output("KmsKeyArn", {"Value": EXISTING_KEY_ARN})


def test_outputs_name_the_bucket_and_the_key_for_the_cli(default_app: SynthesizedApp) -> None:
    template, raw = _data(default_app)
    template.has_output("BucketName", {"Value": {"Ref": _data_bucket_id(raw)}})
    template.has_output(
        "KmsKeyArn", {"Value": {"Fn::GetAtt": [_only_logical_id(raw, "AWS::KMS::Key"), "Arn"]}}
    )

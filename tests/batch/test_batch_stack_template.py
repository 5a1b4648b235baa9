"""The batch stack's template: routing, queues, least privilege and notifications."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Capture, Match, Template
from batch_synth import synth_batch

from stacks.batch_stack import (
    DATASET_ENV,
    MAX_RECEIVE_COUNT,
    SOURCE_OBJECT_ENV,
    TRIGGER_CONCURRENCY,
    BatchStack,
)
from stacks.data_stack import DataStack
from stacks.trigger_budget import QUEUE_VISIBILITY_TIMEOUT_SECONDS

# What the default stack prefix, Zstc, gives (stacks/job_name_prefix.py).
DEFAULT_PREFIX = "zstc--5d9353-"
EXISTING_KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture(scope="module")
def template(default_batch_stack: BatchStack) -> Template:
    return Template.from_stack(default_batch_stack)


@pytest.fixture(scope="module")
def variant_stack(tmp_path_factory: pytest.TempPathFactory) -> BatchStack:
    return synth_batch(
        tmp_path_factory.mktemp("batch-variant"),
        {
            "notification_email": "ml-team@example.com",
            "batch_instance_type": "ml.m5.xlarge",
            "kms_key": EXISTING_KEY,
        },
    )


@pytest.fixture(scope="module")
def template_with_email(variant_stack: BatchStack) -> Template:
    return Template.from_stack(variant_stack)


def test_only_input_jsonl_and_dataset_markers_are_routed_to_the_queue(template: Template) -> None:
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "Managed": False,
            "NotificationConfiguration": {
                "QueueConfigurations": [
                    {
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {
                                "FilterRules": Match.array_equals(
                                    [
                                        {"Name": "suffix", "Value": ".jsonl"},
                                        {"Name": "prefix", "Value": "input/"},
                                    ]
                                )
                            }
                        },
                        "QueueArn": Match.any_value(),
                    },
                    {
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {
                                "FilterRules": Match.array_equals(
                                    [
                                        {"Name": "suffix", "Value": "/_SUCCESS"},
                                        {"Name": "prefix", "Value": "datasets/"},
                                    ]
                                )
                            }
                        },
                        "QueueArn": Match.any_value(),
                    },
                ]
            },
        },
    )


def test_queue_is_encrypted_bounded_and_drains_to_an_alarmed_dlq(template: Template) -> None:
    dlq_arn = Capture()
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "KmsMasterKeyId": Match.any_value(),
            "VisibilityTimeout": QUEUE_VISIBILITY_TIMEOUT_SECONDS,
            "RedrivePolicy": {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT},
        },
    )
    dlq_id = dlq_arn.as_object()["Fn::GetAtt"][0]
    dlq = template.to_json()["Resources"][dlq_id]
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert "KmsMasterKeyId" in dlq["Properties"]
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": dlq_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}],
            "Threshold": 1,
            "AlarmActions": [Match.any_value()],
        },
    )


def test_trigger_lambda_is_python_312_bounded_and_reports_partial_failures(
    template: Template,
) -> None:
    """Bounded by the SQS event source's MaximumConcurrency, never by reserved concurrency.

    Lambda refuses reserved concurrency that leaves fewer than 10 unreserved executions, and new
    accounts often have a limit of 10
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
    """
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.12",
            "Handler": "handler.handler",
            "ReservedConcurrentExecutions": Match.absent(),
            "Environment": {
                "Variables": Match.object_like(
                    {"JOB_NAME_PREFIX": DEFAULT_PREFIX, "VOLUME_KMS_KEY_ENABLED": "false"}
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": TRIGGER_CONCURRENCY},
        },
    )


def test_volume_key_decision_follows_the_instance_type(template_with_email: Template) -> None:
    template_with_email.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {"INSTANCE_TYPE": "ml.m5.xlarge", "VOLUME_KMS_KEY_ENABLED": "true"}
                )
            }
        },
    )


def _statements(template: Template) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_trigger_may_start_only_its_own_jobs_and_passes_no_role(template: Template) -> None:
    """CreateTransformJob takes no role, so the trigger needs no iam:PassRole.

    botocore's sagemaker service model (CreateTransformJobRequest) has no role member; the job
    runs as the Model's execution role.
    """
    import gzip
    import json

    import botocore

    model_path = (
        Path(botocore.__file__).parent / "data" / "sagemaker" / "2017-07-24" / "service-2.json.gz"
    )
    model = json.loads(gzip.decompress(model_path.read_bytes()))
    request = model["shapes"][model["operations"]["CreateTransformJob"]["input"]["shape"]]
    assert not [member for member in request["members"] if "Role" in member]

    statements = _statements(template)
    [start] = [s for s in statements if s.get("Sid") == "StartOwnTransformJobs"]
    assert "sagemaker:CreateTransformJob" in start["Action"]
    assert start["Resource"]["Fn::Join"][1][-1] == f":transform-job/{DEFAULT_PREFIX}*"
    assert not [s for s in statements if "iam:PassRole" in _actions(s)]


def _model_role_key_actions(template: Template) -> set[str]:
    return {
        action
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if any(r["Ref"].startswith("ModelExecutionRole") for r in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in _actions(statement)
        if action.startswith("kms:")
    }


def test_model_role_uses_the_data_key_for_data_and_a_volume_only_off_nvme(
    template: Template, template_with_email: Template
) -> None:
    """Jobs read SSE-KMS inputs and write SSE-KMS results; ml.g4dn (NVMe) takes no volume key."""
    assert _model_role_key_actions(template) == {"kms:Decrypt", "kms:GenerateDataKey"}
    # ml.m5.xlarge has an EBS volume, which SageMaker encrypts with the key through a grant.
    assert _model_role_key_actions(template_with_email) == {
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:CreateGrant",
        "kms:DescribeKey",
    }


def test_model_role_reads_inputs_and_writes_only_output(template: Template) -> None:
    statements = {s.get("Sid"): s for s in _statements(template)}
    bucket = {"Fn::ImportValue": "Zstc-Data-DataBucketArn"}

    def suffixes(statement: dict[str, Any]) -> list[str]:
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        assert all(r["Fn::Join"][1][0] == bucket for r in resources)
        return sorted(r["Fn::Join"][1][1] for r in resources)

    # Jobs read only their manifest and the pinned copies it lists, never the uploads.
    assert suffixes(statements["ReadTransformInputs"]) == ["/manifests/*", "/pinned-inputs/*"]
    assert statements["ReadTransformInputs"]["Action"] == "s3:GetObject"
    assert suffixes(statements["WriteTransformResults"]) == ["/output/*"]
    assert suffixes(statements["WriteManifestsAndPinnedInputs"]) == [
        "/manifests/*",
        "/pinned-inputs/*",
    ]


def test_terminal_states_of_this_stacks_jobs_are_published_to_the_encrypted_topic(
    template: Template,
) -> None:
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Transform Job State Change"],
                "detail": {
                    "TransformJobName": [{"prefix": DEFAULT_PREFIX}],
                    "TransformJobStatus": ["Completed", "Failed", "Stopped"],
                },
            },
            "Targets": [
                Match.object_like(
                    {
                        "InputTransformer": {
                            "InputPathsMap": {
                                "detail-TransformJobName": "$.detail.TransformJobName",
                                "detail-TransformJobStatus": "$.detail.TransformJobStatus",
                                "detail-Environment-ZSTC_SOURCE_OBJECT": (
                                    "$.detail.Environment.ZSTC_SOURCE_OBJECT"
                                ),
                                "detail-Environment-ZSTC_DATASET": (
                                    "$.detail.Environment.ZSTC_DATASET"
                                ),
                                "detail-TransformOutput-S3OutputPath": (
                                    "$.detail.TransformOutput.S3OutputPath"
                                ),
                                "detail-FailureReason": "$.detail.FailureReason",
                            },
                            "InputTemplate": Match.any_value(),
                        }
                    }
                )
            ],
        },
    )
    template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::ImportValue": Match.any_value()}}
    )


def test_email_subscription_exists_only_when_configured(
    template: Template, template_with_email: Template
) -> None:
    template_with_email.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ml-team@example.com"}
    )
    assert template.find_resources("AWS::SNS::Subscription") == {}


def test_outputs_the_cli_reads(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    assert {"JobNamePrefix", "NotificationTopicArn", "QueueUrl"} <= set(outputs)
    assert outputs["JobNamePrefix"]["Value"] == DEFAULT_PREFIX


def test_an_existing_key_gets_a_warning_naming_the_policy_it_needs(
    variant_stack: BatchStack, template: Template
) -> None:
    warnings = Annotations.from_stack(variant_stack).find_warning(
        "*", Match.string_like_regexp("kms_key: the policy of .* must allow")
    )
    assert len(warnings) == 1
    assert "s3.amazonaws.com" in str(warnings[0].entry.data)
    assert "events.amazonaws.com" in str(warnings[0].entry.data)


def test_trigger_reads_only_upload_versions_and_writes_only_its_own_prefixes(
    template: Template,
) -> None:
    """CopyObject of a version needs s3:GetObjectVersion on the source and s3:PutObject on the
    destination, plus kms:Decrypt and kms:GenerateDataKey for SSE-KMS objects
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html)."""
    statements = {s.get("Sid"): s for s in _statements(template)}
    bucket = {"Fn::ImportValue": "Zstc-Data-DataBucketArn"}

    def suffixes(statement: dict[str, Any]) -> list[str]:
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        assert all(r["Fn::Join"][1][0] == bucket for r in resources)
        return sorted(r["Fn::Join"][1][1] for r in resources)

    read = statements["ReadUploadedVersions"]
    assert read["Action"] == "s3:GetObjectVersion"
    assert suffixes(read) == ["/datasets/*", "/input/*"]
    write = statements["WriteManifestsAndPinnedInputs"]
    assert write["Action"] == "s3:PutObject"
    abort = statements["AbortPinningCopies"]
    assert abort["Action"] == "s3:AbortMultipartUpload"
    assert suffixes(abort) == ["/pinned-inputs/*"]
    listing = statements["ListDatasetPartVersions"]
    assert listing["Action"] == "s3:ListBucketVersions"
    assert listing["Resource"] == bucket
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["datasets/*"]}}
    trigger_actions = {
        action
        for statement in _statements(template)
        # The model's statements, and the weights copy's (stacks/model_weights.py).
        if statement.get("Sid")
        not in (
            "ReadTransformInputs",
            "ListTransformInputs",
            "WriteOwnCopies",
            "ListOwnCopies",
            "ReadModelCopies",
            "ListModelCopies",
        )
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if action.startswith("s3:")
    }
    # No plain s3:GetObject: the trigger can only read a version it names.
    assert "s3:GetObject" not in trigger_actions
    assert "s3:ListBucket" not in trigger_actions
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": Match.string_like_regexp("TriggerRole")}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Effect": "Allow"}
                        )
                    ]
                )
            },
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like({"PINNED_INPUTS_PREFIX": "pinned-inputs/"})
            }
        },
    )


def test_pinned_copies_expire_with_their_replaced_versions(variant_stack: BatchStack) -> None:
    data = variant_stack.node.scope.node.find_child("Zstc-Data")  # type: ignore[union-attr]
    assert isinstance(data, DataStack)
    Template.from_stack(data).has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        {
                            "Id": "ExpirePinnedInputs",
                            "Prefix": "pinned-inputs/",
                            "ExpirationInDays": 14,
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                            "Status": "Enabled",
                        }
                    ]
                )
            }
        },
    )


def _render(transformer: dict[str, Any], event: dict[str, Any]) -> list[str]:
    """What EventBridge's input transformer makes of `event`: one text line per template line."""
    text = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        value: Any = event
        for part in path.removeprefix("$.").split("."):
            value = value.get(part) if isinstance(value, dict) else None
        text = text.replace(f"<{name}>", "" if value is None else str(value))
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize(
    ("source_key", "trigger", "dataset_line"),
    [
        (
            "input/team a/my reviews+2024.jsonl",
            "single-file",
            "Dataset: none (a single uploaded file)",
        ),
        ("datasets/news/_SUCCESS", "dataset", "Dataset: datasets/news/"),
    ],
)
def test_job_state_email_names_the_uploaded_file_and_the_dataset(
    template: Template, source_key: str, trigger: str, dataset_line: str
) -> None:
    """The e-mail names the object a person uploaded, not the manifest the job reads.

    The "SageMaker Transform Job State Change" event's detail carries the job's Environment
    (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html).
    """
    import transform_request

    assert transform_request.SOURCE_OBJECT_ENV == SOURCE_OBJECT_ENV
    assert transform_request.DATASET_ENV == DATASET_ENV
    request = transform_request.build_transform_request(
        settings=transform_request.TransformSettings(
            model_name="zstc-model",
            instance_type="ml.g4dn.xlarge",
            dataset_instance_count=1,
            max_payload_mb=6,
            max_concurrent_transforms=1,
            batch_strategy="MultiRecord",
            invocations_timeout_seconds=600,
            output_kms_key_id="arn:aws:kms:eu-west-1:111122223333:key/k",
            volume_kms_key_id=None,
        ),
        job=transform_request.JobInput(
            job_name="zstc-job-1",
            bucket="data-bucket",
            manifest_key="manifests/zstc-job-1.manifest",
            instance_count=1,
            source_key=source_key,
            source_version="v1",
            trigger=trigger,
        ),
        output_prefix="output/",
    )
    event = {
        "detail-type": "SageMaker Transform Job State Change",
        "source": "aws.sagemaker",
        "detail": {**request, "TransformJobStatus": "Completed"},
    }
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    email = _render(target["InputTransformer"], event)
    assert email[0] == "zstc batch transform job zstc-job-1 is Completed."
    assert f"Uploaded file: s3://data-bucket/{source_key}" in email
    assert dataset_line in email
    assert not [line for line in email if "manifest" in line]

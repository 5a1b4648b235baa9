"""`make destroy` stops this deployment's transform jobs first and reports the assets it leaves.

Every call goes through botocore's Stubber, which checks each request against the service
model: a wrong parameter name or type fails here, not in an account.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import destroy_preflight

REGION = "eu-west-1"
BUCKET = "zstc-data-databucket-1a2b3c4d5e6f"
OTHER_BUCKET = "someone-elses-bucket"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ASSET = "e70cdf6205cc463e278742cbe1b655dc4ecee78c69ae0969f22cb7c78613ca19.gz"


def _client(service: str) -> Any:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return session.client(service)


def _job(name: str, bucket: str, status: str = "InProgress") -> dict[str, Any]:
    return {
        "TransformJobName": name,
        "TransformJobArn": f"arn:aws:sagemaker:{REGION}:111122223333:transform-job/{name}",
        "TransformJobStatus": status,
        "ModelName": "Model-1",
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "ManifestFile",
                    "S3Uri": f"s3://{bucket}/manifests/{name}.json",
                }
            }
        },
        "TransformOutput": {"S3OutputPath": f"s3://{bucket}/output/{name}/"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "CreationTime": NOW,
    }


def test_only_this_deployments_running_jobs_are_stopped_and_waited_for() -> None:
    sagemaker = _client("sagemaker")
    said: list[str] = []
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "list_transform_jobs",
            {
                "TransformJobSummaries": [
                    {
                        "TransformJobName": name,
                        "TransformJobArn": f"arn:aws:sagemaker:{REGION}:"
                        f"111122223333:transform-job/{name}",
                        "CreationTime": NOW,
                        "TransformJobStatus": "InProgress",
                    }
                    for name in ("zstc-ours", "other-app-job")
                ]
            },
            {"StatusEquals": "InProgress"},
        )
        stub.add_response(
            "describe_transform_job", _job("zstc-ours", BUCKET), {"TransformJobName": "zstc-ours"}
        )
        stub.add_response(
            "describe_transform_job",
            _job("other-app-job", OTHER_BUCKET),
            {"TransformJobName": "other-app-job"},
        )
        found = destroy_preflight.running_jobs(sagemaker, bucket=BUCKET)
        stub.add_response("stop_transform_job", {}, {"TransformJobName": "zstc-ours"})
        stub.add_response(
            "describe_transform_job",
            _job("zstc-ours", BUCKET, "Stopping"),
            {"TransformJobName": "zstc-ours"},
        )
        stub.add_response(
            "describe_transform_job",
            _job("zstc-ours", BUCKET, "Stopped"),
            {"TransformJobName": "zstc-ours"},
        )
        still = destroy_preflight.stop_jobs(sagemaker, found, say=said.append, sleep=lambda s: None)
        stub.assert_no_pending_responses()

    assert found == ["zstc-ours"]
    assert still == []
    assert said[0] == "stopping transform job zstc-ours"


def test_a_job_that_will_not_stop_is_reported() -> None:
    sagemaker = _client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response("stop_transform_job", {}, {"TransformJobName": "zstc-ours"})
        for _ in range(2):
            stub.add_response(
                "describe_transform_job",
                _job("zstc-ours", BUCKET, "Stopping"),
                {"TransformJobName": "zstc-ours"},
            )
        still = destroy_preflight.stop_jobs(
            sagemaker,
            ["zstc-ours"],
            say=lambda m: None,
            sleep=lambda s: None,
            wait_seconds=destroy_preflight.POLL_SECONDS,
        )
    assert still == ["zstc-ours"]


def test_no_data_stack_means_nothing_to_stop() -> None:
    cloudformation = _client("cloudformation")
    with Stubber(cloudformation) as stub:
        stub.add_client_error(
            "describe_stacks",
            service_error_code="ValidationError",
            service_message="Stack with id Zstc-Data does not exist",
            expected_params={"StackName": "Zstc-Data"},
        )
        assert destroy_preflight.data_bucket_name(cloudformation, prefix="Zstc") is None


def test_the_assets_the_templates_reference_are_reported_with_their_size() -> None:
    cloudformation = _client("cloudformation")
    s3 = _client("s3")
    template = (
        '{"Resources": {"Fn": {"Properties": {"Code": {"S3Bucket": {"Fn::Sub": '
        '"cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}, "S3Key": "' + ASSET + '"}}}}}'
    )
    with Stubber(cloudformation) as cfn_stub, Stubber(s3) as s3_stub:
        for name in destroy_preflight.stack_names("Zstc"):
            if name == "Zstc-Endpoint":
                cfn_stub.add_response(
                    "get_template", {"TemplateBody": template}, {"StackName": name}
                )
            else:
                cfn_stub.add_client_error(
                    "get_template",
                    service_error_code="ValidationError",
                    expected_params={"StackName": name},
                )
        s3_stub.add_response(
            "head_object",
            {"ContentLength": 4096},
            {"Bucket": "cdk-hnb659fds-assets-111122223333-eu-west-1", "Key": ASSET},
        )
        assets = destroy_preflight.referenced_assets(
            cloudformation,
            s3,
            prefix="Zstc",
            bucket="cdk-hnb659fds-assets-111122223333-eu-west-1",
        )
    assert assets == [destroy_preflight.Asset(key=ASSET, size=4096)]


@pytest.mark.parametrize(
    ("arguments", "prefix"),
    [([], "Zstc"), (["-c", "vpc=create", "-c", "stack_prefix=Team"], "Team")],
)
def test_the_stack_prefix_comes_from_the_deploy_arguments(
    arguments: list[str], prefix: str
) -> None:
    assert destroy_preflight._prefix_from_args(arguments) == prefix

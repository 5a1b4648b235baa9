"""Fixtures for the CLI tests: a deployed zstc in moto, and a real local endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from cli_test_support import (
    DEPLOYED_MAX_LABELS,
    ENDPOINT_NAME,
    JOB_NAME_PREFIX,
    REGION,
    STACK_PREFIX,
    DeployedZstc,
    create_stack,
)
from moto import mock_aws

import zstc.cli.context
from zstc.local.endpoint import LocalEndpoint, find_free_port
from zstc.models.artifact import prepare_model_dir


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("ZSTC_STACK_PREFIX", raising=False)


@pytest.fixture
def deployed(aws_credentials: None) -> Iterator[DeployedZstc]:
    """Data, Batch and Endpoint stacks whose Outputs carry real moto resources' names."""
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        create_stack(
            cloudformation,
            f"{STACK_PREFIX}-Data",
            {
                "Resources": {
                    "Key": {
                        "Type": "AWS::KMS::Key",
                        "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": []}},
                    },
                    "Bucket": {"Type": "AWS::S3::Bucket"},
                },
                "Outputs": {
                    "BucketName": {"Value": {"Ref": "Bucket"}},
                    "KmsKeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}},
                },
            },
        )
        outputs = {
            item["OutputKey"]: item["OutputValue"]
            for item in cloudformation.describe_stacks(StackName=f"{STACK_PREFIX}-Data")["Stacks"][
                0
            ]["Outputs"]
        }
        s3 = boto3.client("s3", region_name=REGION)
        # The data stack's bucket is versioned; moto's CloudFormation ignores that property.
        s3.put_bucket_versioning(
            Bucket=outputs["BucketName"], VersioningConfiguration={"Status": "Enabled"}
        )
        create_stack(
            cloudformation,
            f"{STACK_PREFIX}-Batch",
            {
                "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {
                    "JobNamePrefix": {"Value": JOB_NAME_PREFIX},
                    "MaxCandidateLabels": {"Value": str(DEPLOYED_MAX_LABELS)},
                    "QueueUrl": {"Value": {"Ref": "Queue"}},
                },
            },
        )
        create_stack(
            cloudformation,
            f"{STACK_PREFIX}-Endpoint",
            {
                "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {"EndpointName": {"Value": ENDPOINT_NAME}},
            },
        )
        yield DeployedZstc(
            bucket=outputs["BucketName"],
            kms_key_arn=outputs["KmsKeyArn"],
            s3=s3,
            sagemaker=boto3.client("sagemaker", region_name=REGION),
            cloudformation=cloudformation,
        )


@pytest.fixture(scope="session")
def tiny_served_model_dir(
    tiny_nli_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny NLI model laid out like an unpacked model.tar.gz (weights + code/)."""
    return prepare_model_dir(
        tmp_path_factory.mktemp("served-model"), weights_dir=tiny_nli_model_dir
    )


@pytest.fixture(scope="session")
def local_endpoint(
    tiny_served_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalEndpoint]:
    """One real multi-model-server for the CLI tests: JVM and torch start-up cost seconds, and
    no test changes the server's state."""
    endpoint = LocalEndpoint(
        tiny_served_model_dir,
        port=find_free_port(),
        log_dir=tmp_path_factory.mktemp("endpoint-logs"),
    )
    with endpoint:
        yield endpoint


@pytest.fixture
def runtime(deployed: DeployedZstc, monkeypatch: pytest.MonkeyPatch) -> Stubber:
    """sagemaker-runtime behind a Stubber (moto never fails invoke_endpoint); the rest is moto."""
    client = boto3.client("sagemaker-runtime", region_name=REGION)
    real_client = zstc.cli.context.Settings.client
    monkeypatch.setattr(
        zstc.cli.context.Settings,
        "client",
        lambda settings, service: (
            client if service == "sagemaker-runtime" else real_client(settings, service)
        ),
    )
    return Stubber(client)

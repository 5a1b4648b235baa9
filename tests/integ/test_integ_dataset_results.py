"""After deploy, the real `zstc batch results` must join the dataset job's parts in input order.

moto stands in for the account: a data stack with real outputs, the job, and its output parts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from integ.dataset_results import check_dataset_results
from integ.flow_data import dataset

REGION = "eu-west-1"
STACK_PREFIX = "ZstcInteg"
DATASET = dataset("20261125230000")
JOB = f"zstcinteg-{DATASET.job_name_filter}-0123456789abcdef"


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("ZSTC_STACK_PREFIX", raising=False)
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        cloudformation.create_stack(
            StackName=f"{STACK_PREFIX}-Data",
            TemplateBody=json.dumps(
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
                }
            ),
        )
        (stack,) = cloudformation.describe_stacks(StackName=f"{STACK_PREFIX}-Data")["Stacks"]
        bucket = {item["OutputKey"]: item["OutputValue"] for item in stack["Outputs"]}["BucketName"]
        yield {
            "bucket": bucket,
            "s3": boto3.client("s3", region_name=REGION),
            "sagemaker": boto3.client("sagemaker", region_name=REGION),
        }


def _create_job(sagemaker: Any, *, job_name: str, bucket: str) -> None:
    """moto completes a transform job as soon as it is created."""
    sagemaker.create_model(
        ModelName=f"{job_name}-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/zstc-sagemaker",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hf:latest"},
    )
    sagemaker.create_transform_job(
        TransformJobName=job_name,
        ModelName=f"{job_name}-model",
        TransformInput={
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "ManifestFile",
                    "S3Uri": f"s3://{bucket}/manifests/{job_name}.json",
                }
            },
            "ContentType": "application/jsonlines",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/output/{job_name}"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )


def _write_parts(s3: Any, bucket: str, *, job_name: str, swap: bool = False) -> None:
    """One .out per part, as SageMaker writes them, each line an answer carrying its id."""
    bodies = dict(DATASET.parts)
    if swap:
        bodies["part-1.jsonl"], bodies["part-2.jsonl"] = (
            bodies["part-2.jsonl"],
            bodies["part-1.jsonl"],
        )
    for name, body in bodies.items():
        answers = [
            json.dumps({"id": json.loads(line)["id"], "labels": ["a"], "scores": [1.0]})
            for line in body.splitlines()
        ]
        s3.put_object(
            Bucket=bucket, Key=f"output/{job_name}/{name}.out", Body="\n".join(answers) + "\n"
        )


def _check() -> list[str]:
    return check_dataset_results(
        session=boto3.session.Session(region_name=REGION),
        region=REGION,
        stack_prefix=STACK_PREFIX,
        dataset=DATASET,
    )


def test_parts_joined_in_natural_order_pass(account: dict[str, Any]) -> None:
    _create_job(account["sagemaker"], job_name=JOB, bucket=account["bucket"])
    _write_parts(account["s3"], account["bucket"], job_name=JOB)
    assert _check() == []


def test_records_out_of_input_order_are_reported(account: dict[str, Any]) -> None:
    _create_job(account["sagemaker"], job_name=JOB, bucket=account["bucket"])
    _write_parts(account["s3"], account["bucket"], job_name=JOB, swap=True)
    (problem,) = _check()
    assert "ids ['dataset-2', 'dataset-3', 'dataset-1', 'dataset-4']" in problem


def test_a_second_job_for_the_dataset_is_reported(account: dict[str, Any]) -> None:
    for job_name in (JOB, JOB.replace("0123456789abcdef", "fedcba9876543210")):
        _create_job(account["sagemaker"], job_name=job_name, bucket=account["bucket"])
    (problem,) = _check()
    assert "expected exactly one transform job" in problem

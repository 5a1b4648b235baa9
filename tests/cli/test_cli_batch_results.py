"""`zstc batch results`: one file in input order across parts, with an honest summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_test_support import JOB_NAME_PREFIX, DeployedZstc, create_transform_job

from zstc.cli import main


def _put(deployed: DeployedZstc, key: str, lines: list[str]) -> None:
    deployed.s3.put_object(
        Bucket=deployed.bucket,
        Key=key,
        Body="".join(line + "\n" for line in lines).encode(),
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=deployed.kms_key_arn,
    )


def _answer(index: int) -> str:
    return json.dumps({"id": index, "sequence": f"t{index}", "labels": ["a"], "scores": [1.0]})


def test_parts_are_joined_in_input_order_not_listing_order(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = f"{JOB_NAME_PREFIX}-big-00000000000000aa"
    create_transform_job(deployed.sagemaker, job_name=job, bucket=deployed.bucket)
    # Parts named without zero padding: S3 lists part-10 before part-2, and part-1 first.
    # Uploaded out of order too, so neither listing nor upload order is the input order.
    part_lines = {1: [0, 1, 2], 2: [3, 4], 10: [5, 6, 7]}
    for part in (10, 1, 2):
        lines = [_answer(i) for i in part_lines[part]]
        if part == 2:
            lines[1] = json.dumps({"id": 4, "error": '"inputs" is missing'})
        _put(deployed, f"output/{job}/part-{part}.jsonl.out", lines)
    listed = [
        item["Key"]
        for item in deployed.s3.list_objects_v2(Bucket=deployed.bucket, Prefix=f"output/{job}/")[
            "Contents"
        ]
    ]
    assert listed.index(f"output/{job}/part-10.jsonl.out") < listed.index(
        f"output/{job}/part-2.jsonl.out"
    )

    out_file = tmp_path / "results" / "all.jsonl"
    assert main(["batch", "results", job, "-o", str(out_file), *deployed.cli_args()]) == 0
    records = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [record["id"] for record in records] == list(range(8))
    assert capsys.readouterr().out.startswith("8 lines, 7 ok, 1 errors (from 3 output parts)")


def test_fail_on_errors_makes_error_lines_a_failure(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = f"{JOB_NAME_PREFIX}-one-00000000000000bb"
    create_transform_job(deployed.sagemaker, job_name=job, bucket=deployed.bucket)
    _put(deployed, f"output/{job}/x.jsonl.out", [_answer(0), json.dumps({"error": "bad"})])
    args = ["batch", "results", job, "-o", str(tmp_path / "x.jsonl"), *deployed.cli_args()]
    assert main(args) == 0
    assert main([*args, "--fail-on-errors"]) == 1
    assert "2 lines, 1 ok, 1 errors" in capsys.readouterr().out


def test_no_output_is_an_error_naming_where_it_looked(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = f"{JOB_NAME_PREFIX}-empty-00000000000000cc"
    out_file = tmp_path / "none.jsonl"
    assert main(["batch", "results", job, "-o", str(out_file), *deployed.cli_args()]) == 1
    err = capsys.readouterr().err
    assert f"no results under s3://{deployed.bucket}/output/{job}/" in err
    assert not out_file.exists()


def test_results_of_an_unfinished_job_are_refused(
    deployed: DeployedZstc,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # moto completes jobs at once; a Stubber plays the job that is still running.
    import boto3
    from botocore.stub import Stubber

    import zstc.cli.context

    job = f"{JOB_NAME_PREFIX}-running-00000000000000dd"
    _put(deployed, f"output/{job}/x.jsonl.out", [_answer(0)])  # a partial output already there
    sagemaker = boto3.client("sagemaker", region_name="eu-west-1")
    stubber = Stubber(sagemaker)
    stubber.add_response(
        "describe_transform_job",
        {
            "TransformJobName": job,
            "TransformJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:transform-job/{job}",
            "TransformJobStatus": "InProgress",
            "ModelName": "m",
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/i"}}
            },
            "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
            "CreationTime": "2026-01-01T00:00:00Z",
        },
    )
    real_client = zstc.cli.context.Settings.client
    monkeypatch.setattr(
        zstc.cli.context.Settings,
        "client",
        lambda settings, service: (
            sagemaker if service == "sagemaker" else real_client(settings, service)
        ),
    )
    out_file = tmp_path / "partial.jsonl"
    with stubber:
        code = main(["batch", "results", job, "-o", str(out_file), *deployed.cli_args()])
    assert code == 1
    assert f"transform job '{job}' is InProgress" in capsys.readouterr().err
    assert not out_file.exists()

"""submit -> the real trigger Lambda code -> results, in moto: the CLI and the trigger agree.

The printed job name must be the job the trigger really starts, for a single file and for a
dataset of parts, and `batch results` must put that job's part outputs back in input order.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from cli_test_support import JOB_NAME_PREFIX, REGION, REPO_ROOT, DeployedZstc

from stacks.trigger_budget import trigger_limit_environment
from zstc.cli import main

TRIGGER_DIR = REPO_ROOT / "lambda" / "transform_trigger"
MODEL_NAME = "zstc-batch-model"
LABELS = ["Health", "Career"]


def _trigger_modules() -> tuple[Any, Any]:
    # The Lambda's modules import each other by plain name, as in the Lambda runtime.
    if str(TRIGGER_DIR) not in sys.path:
        sys.path.insert(0, str(TRIGGER_DIR))
    import trigger
    import trigger_settings

    return trigger, trigger_settings


def _settings(deployed: DeployedZstc) -> Any:
    _, trigger_settings = _trigger_modules()
    return trigger_settings.load_settings(
        {
            "JOB_NAME_PREFIX": JOB_NAME_PREFIX,
            "INPUT_PREFIX": "input/",
            "DATASETS_PREFIX": "datasets/",
            "OUTPUT_PREFIX": "output/",
            "MANIFESTS_PREFIX": "manifests/",
            "PINNED_INPUTS_PREFIX": "pinned-inputs/",
            "MODEL_NAME": MODEL_NAME,
            "INSTANCE_TYPE": "ml.m5.xlarge",
            "DATASET_INSTANCE_COUNT": "3",
            "MAX_PAYLOAD_MB": "6",
            "MAX_CONCURRENT_TRANSFORMS": "1",
            "BATCH_STRATEGY": "MultiRecord",
            "INVOCATIONS_TIMEOUT_SECONDS": "600",
            "KMS_KEY_ARN": deployed.kms_key_arn,
            "VOLUME_KMS_KEY_ENABLED": "true",
            "NOTIFICATION_TOPIC_ARN": _notification_topic(),
            # What the batch stack passes (stacks/trigger_budget.py).
            **trigger_limit_environment(),
        }
    )


def _notification_topic() -> str:
    return str(boto3.client("sns", region_name=REGION).create_topic(Name="zstc-jobs")["TopicArn"])


def _notification_for(deployed: DeployedZstc, key: str) -> dict[str, Any]:
    """The SQS message S3 sends for an object that now exists (event version 2.1)."""
    head = deployed.s3.head_object(Bucket=deployed.bucket, Key=key)
    s3_event = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": deployed.bucket},
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": head["ContentLength"],
                        "eTag": head["ETag"].strip('"'),
                        "versionId": head["VersionId"],
                    },
                },
            }
        ]
    }
    return {"Records": [{"messageId": "m-1", "body": json.dumps(s3_event)}]}


def _run_trigger(deployed: DeployedZstc, key: str) -> list[str]:
    trigger, _ = _trigger_modules()
    response = trigger.handle_sqs_batch(
        event=_notification_for(deployed, key),
        settings=_settings(deployed),
        s3=deployed.s3,
        sagemaker=deployed.sagemaker,
        sns=boto3.client("sns", region_name=REGION),
    )
    assert response == {"batchItemFailures": []}
    jobs = deployed.sagemaker.list_transform_jobs()["TransformJobSummaries"]
    return [job["TransformJobName"] for job in jobs]


@pytest.fixture
def with_model(deployed: DeployedZstc) -> DeployedZstc:
    deployed.sagemaker.create_model(
        ModelName=MODEL_NAME,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/zstc-sagemaker",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hf:latest"},
    )
    return deployed


def _printed_job(out: str) -> str:
    return next(
        line.removeprefix("transform job: ")
        for line in out.splitlines()
        if line.startswith("transform job: ")
    )


def test_single_file_job_is_the_one_the_trigger_starts(
    with_model: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "my resolutions.jsonl"
    source.write_text(
        json.dumps({"id": 1, "inputs": "run", "parameters": {"candidate_labels": LABELS}}) + "\n"
    )
    assert main(["batch", "submit", str(source), *with_model.cli_args()]) == 0
    printed = _printed_job(capsys.readouterr().out)
    assert _run_trigger(with_model, "input/my resolutions.jsonl") == [printed]


def test_dataset_job_is_started_by_the_marker_and_results_come_back_in_order(
    with_model: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = list(range(11))
    source = tmp_path / "survey.jsonl"
    source.write_text(
        "".join(
            json.dumps({"id": i, "inputs": f"t{i}", "parameters": {"candidate_labels": LABELS}})
            + "\n"
            for i in ids
        )
    )
    args = ["batch", "submit", str(source), "--parts", "4", *with_model.cli_args()]
    assert main(args) == 0
    printed = _printed_job(capsys.readouterr().out)
    assert _run_trigger(with_model, "datasets/survey/_SUCCESS") == [printed]

    job = with_model.sagemaker.describe_transform_job(TransformJobName=printed)
    assert job["TransformResources"]["InstanceCount"] == 3
    # What SageMaker would write: one .out per part, named after the part, finishing in any
    # order. Each answer carries the id of its input line.
    parts = sorted(
        item["Key"].removeprefix("datasets/survey/")
        for item in with_model.s3.list_objects_v2(
            Bucket=with_model.bucket, Prefix="datasets/survey/part-"
        )["Contents"]
    )
    for part in reversed(parts):
        body = with_model.s3.get_object(Bucket=with_model.bucket, Key=f"datasets/survey/{part}")
        answers = [
            json.dumps({"id": json.loads(line)["id"], "labels": LABELS, "scores": [0.6, 0.4]})
            for line in body["Body"].read().decode().splitlines()
        ]
        with_model.s3.put_object(
            Bucket=with_model.bucket,
            Key=f"output/{printed}/{part}.out",
            Body=("\n".join(answers) + "\n").encode(),
        )
    out_file = tmp_path / "survey.results.jsonl"
    assert main(["batch", "results", printed, "-o", str(out_file), *with_model.cli_args()]) == 0
    assert [json.loads(line)["id"] for line in out_file.read_text().splitlines()] == ids
    assert "11 lines, 11 ok, 0 errors (from 4 output parts)" in capsys.readouterr().out


def test_submit_wait_download_runs_submit_watch_and_results_in_one_command(
    with_model: DeployedZstc,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`batch submit --wait --download OUT`: the job the upload starts, followed to its end
    with boto3's transform-job waiter, then its results in OUT."""
    import zstc.cli.context

    def sagemaker_runs_the_job(http_response: object, parsed: object, **kwargs: Any) -> None:
        # What happens in AWS after the upload: S3 notifies the trigger, which starts the job;
        # the job (completed at once in moto) writes one answer per input line.
        key = kwargs["context"]["zstc_key"]
        (job,) = _run_trigger(with_model, key)
        lines = with_model.s3.get_object(Bucket=with_model.bucket, Key=key)["Body"].read()
        answers = [
            json.dumps({"id": json.loads(line)["id"], "labels": LABELS, "scores": [0.6, 0.4]})
            for line in lines.decode().split("\n")
            if line
        ]
        with_model.s3.put_object(
            Bucket=with_model.bucket,
            Key=f"output/{job}/{key.removeprefix('input/')}.out",
            Body="".join(answer + "\n" for answer in answers).encode(),
        )

    def remember_key(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["zstc_key"] = params["Key"]

    real_client = zstc.cli.context.Settings.client

    def client(self: Any, service: str) -> Any:
        made = real_client(self, service)
        if service == "s3":
            made.meta.events.register("provide-client-params.s3.PutObject", remember_key)
            made.meta.events.register("after-call.s3.PutObject", sagemaker_runs_the_job)
        return made

    monkeypatch.setattr(zstc.cli.context.Settings, "client", client)
    source = tmp_path / "waited.jsonl"
    source.write_text(
        "".join(
            json.dumps({"id": i, "inputs": f"t{i}", "parameters": {"candidate_labels": LABELS}})
            + "\n"
            for i in range(5)
        )
    )
    out_file = tmp_path / "waited.results.jsonl"
    args = ["batch", "submit", str(source), "--wait", "--download", str(out_file)]
    assert main([*args, "--interval", "1", *with_model.cli_args()]) == 0
    out = capsys.readouterr().out
    printed = _printed_job(out)
    assert "state:     Completed" in out
    assert f"5 lines, 5 ok, 0 errors (from 1 output part) -> {out_file}" in out
    assert [json.loads(line)["id"] for line in out_file.read_text().split("\n") if line] == [
        0, 1, 2, 3, 4
    ]  # fmt: skip
    jobs = with_model.sagemaker.list_transform_jobs()["TransformJobSummaries"]
    assert [job["TransformJobName"] for job in jobs] == [printed]

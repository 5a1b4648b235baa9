"""`zstc batch status`: state, elapsed time and failure reason, once or watched until the end."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cli_test_support import JOB_NAME_PREFIX, REGION, DeployedZstc, create_transform_job

from zstc.batch.status import format_duration, watch_job
from zstc.cli import main


def test_status_of_a_job_shows_state_elapsed_instances_and_data(
    deployed: DeployedZstc, capsys: pytest.CaptureFixture[str]
) -> None:
    job = f"{JOB_NAME_PREFIX}-resolutions-0123456789abcdef"
    create_transform_job(deployed.sagemaker, job_name=job, bucket=deployed.bucket)
    assert main(["batch", "status", job, *deployed.cli_args()]) == 0
    out = capsys.readouterr().out
    assert f"job:       {job}" in out
    assert "state:     Completed" in out
    assert "elapsed:   0m0" in out
    assert "instances: 2 x ml.m5.xlarge" in out
    assert f"output:    s3://{deployed.bucket}/output/{job}" in out
    assert f"zstc batch results {job}" in out


def test_without_a_job_it_lists_this_stacks_jobs_only(
    deployed: DeployedZstc, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = f"{JOB_NAME_PREFIX}-a-0000000000000001"
    create_transform_job(deployed.sagemaker, job_name=ours, bucket=deployed.bucket)
    create_transform_job(deployed.sagemaker, job_name="someone-else-job", bucket=deployed.bucket)
    assert main(["batch", "status", *deployed.cli_args()]) == 0
    out = capsys.readouterr().out
    assert ours in out and "Completed" in out
    assert "someone-else-job" not in out


def test_unknown_job_is_a_one_line_error(
    deployed: DeployedZstc, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch", "status", "zstctest-nope", *deployed.cli_args()]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zstc: error: transform job 'zstctest-nope' not found")
    assert err.count("\n") == 1


def test_watch_on_a_finished_job_prints_the_final_status_and_returns(
    deployed: DeployedZstc, capsys: pytest.CaptureFixture[str]
) -> None:
    job = f"{JOB_NAME_PREFIX}-w-0000000000000002"
    create_transform_job(deployed.sagemaker, job_name=job, bucket=deployed.bucket)
    code = main(["batch", "status", job, "--watch", "--interval", "0.01", *deployed.cli_args()])
    assert code == 0
    assert "state:     Completed" in capsys.readouterr().out


def _describe(state: str, *, failure: str = "", ended: bool = False) -> dict[str, Any]:
    created = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    response: dict[str, Any] = {
        "TransformJobName": "zstc-job",
        "TransformJobArn": "arn:aws:sagemaker:eu-west-1:123456789012:transform-job/zstc-job",
        "TransformJobStatus": state,
        "ModelName": "m",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/input/"}}
        },
        "TransformResources": {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1},
        "CreationTime": created,
    }
    if failure:
        response["FailureReason"] = failure
    if ended:
        response["TransformEndTime"] = created + dt.timedelta(minutes=7, seconds=5)
    return response


def test_watch_refreshes_until_failed_and_reports_the_reason() -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    stubber = Stubber(sagemaker)
    for response in (
        _describe("InProgress"),
        _describe("InProgress"),
        _describe("Failed", failure="ClientError: See job logs for more information", ended=True),
    ):
        stubber.add_response("describe_transform_job", response, {"TransformJobName": "zstc-job"})
    sleeps: list[float] = []
    shown = io.StringIO()
    clock = iter(
        dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=m) for m in (1, 4, 8)
    )
    with stubber:
        final = watch_job(
            sagemaker=sagemaker,
            job_name="zstc-job",
            interval_s=30,
            write=shown.write,
            live=False,
            sleep=sleeps.append,
            clock=lambda: next(clock),
        )
    stubber.assert_no_pending_responses()
    assert final.state == "Failed"
    assert sleeps == [30, 30]
    log = shown.getvalue()
    # One line per change of state in a log, not one per poll.
    assert log.count("InProgress") == 1
    assert "zstc-job  InProgress  elapsed 1m00s" in log
    assert "failure:   ClientError: See job logs for more information" in log
    # Elapsed stops at the job's end time, not at the moment of the last poll.
    assert "elapsed:   7m05s" in log


def test_live_view_redraws_in_place() -> None:
    from rich.console import Console

    sagemaker = boto3.client("sagemaker", region_name=REGION)
    stubber = Stubber(sagemaker)
    stubber.add_response("describe_transform_job", _describe("InProgress"))
    stubber.add_response("describe_transform_job", _describe("Completed", ended=True))
    terminal = io.StringIO()
    logged: list[str] = []
    with stubber:
        watch_job(
            sagemaker=sagemaker,
            job_name="zstc-job",
            interval_s=1,
            write=logged.append,
            live=True,
            console=Console(file=terminal, force_terminal=True, width=120),
            sleep=lambda _: None,
        )
    shown = terminal.getvalue()
    assert logged == []
    first_block = shown[shown.index("job:") : shown.index("\r")]
    assert "state:     InProgress" in first_block
    lines = first_block.count("\n") + 1
    # rich's Live moves the cursor up over the previous block, erasing each line, then draws the
    # new one in its place (rich/live_render.py, position_cursor).
    rewind = "\r" + "\x1b[2K\x1b[1A" * (lines - 1) + "\x1b[2K"
    assert rewind + "job:       zstc-job\nstate:     Completed" in shown


def test_durations_read_naturally() -> None:
    assert format_duration(dt.timedelta(seconds=59)) == "0m59s"
    assert format_duration(dt.timedelta(hours=2, minutes=3, seconds=4)) == "2h03m04s"

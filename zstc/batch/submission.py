"""A whole `zstc batch submit`: prepare the file (read, check against the deployed limits,
validate, split), upload it, and wait for the job it starts and download its results.

Plain functions over boto3 clients and callbacks; the click command parses the options, calls
these, and renders what they return (zstc/cli/batch.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zstc.batch.jsonl_validation import BadLinePolicy, ValidationResult
from zstc.batch.limits import BatchLimits
from zstc.batch.results import ResultsSummary
from zstc.batch.status import JobStatus
from zstc.batch.submit import Submission
from zstc.cli_errors import CliError
from zstc.stack_outputs import BatchResources, DataResources

# How long --wait waits for the trigger to start the job (it retries quota errors for ~2.4 h).
DEFAULT_WAIT_TIMEOUT_S = 6 * 3600.0


@dataclass(frozen=True, kw_only=True)
class PreparedSubmission:
    """A validated file, ready to upload as one object or as parts of a dataset."""

    validation: ValidationResult
    # The parts of a dataset; empty for one file.
    chunks: list[list[str]]
    is_dataset: bool
    object_name: str
    dataset_name: str
    # What the upload makes: the object name, or "N parts under datasets/<name>/".
    shape: str
    max_labels: int
    limit_source: str
    limits: BatchLimits
    # The deployed stacks' resources; None for a dry run, which reads no deployment.
    data: DataResources | None
    batch: BatchResources | None


def prepare_submission(
    *,
    file: Path,
    default_labels: list[str] | None,
    on_bad_lines: BadLinePolicy,
    max_labels: int | None,
    name: str | None,
    is_dataset: bool,
    parts: int | None,
    split_mb: float | None,
    dataset: str | None,
    dry_run: bool,
    stack_prefix: str,
    open_cloudformation: Callable[[], Any],
    report: Callable[[str], None],
) -> PreparedSubmission:
    """FILE read, checked against the limits and validated; `report` gets the validation's
    findings. Nothing is uploaded; a file that cannot be submitted raises CliError."""
    from zstc.batch.jsonl_validation import format_report, validate_lines
    from zstc.batch.limits import check_lines_fit
    from zstc.batch.submit import (
        check_dataset_name,
        check_job_naming,
        check_object_name,
        split_by_count,
        split_by_size,
    )
    from zstc.local.batch import read_input_lines

    # FILE first: a directory or a missing file is the problem, not the name derived from it.
    if file.is_dir():
        raise CliError(f"FILE: {file} is a directory; give one JSON Lines file", exit_code=2)
    if not file.is_file():
        raise CliError(f"FILE: {file} does not exist or is not a file", exit_code=2)
    object_name = (
        check_object_name(name or file.name, given_as="--name" if name else "FILE's name")
        if not is_dataset
        else ""
    )
    dataset_name = (
        check_dataset_name(dataset or file.name.removesuffix(".jsonl")) if is_dataset else ""
    )
    check_job_naming()

    lines = read_input_lines(file)
    if not lines:
        raise CliError(f"FILE: {file} is empty; nothing to submit", exit_code=2)
    data = batch = None
    if not dry_run:
        # The deployment is read before validation: the limits are the deployed model's.
        from zstc.batch.limits import deployed_limits
        from zstc.project_config import project_config
        from zstc.stack_outputs import batch_resources, data_resources

        cloudformation = open_cloudformation()
        data = data_resources(cloudformation=cloudformation, stack_prefix=stack_prefix)
        batch = batch_resources(cloudformation=cloudformation, stack_prefix=stack_prefix)
        limits = deployed_limits(
            cloudformation=cloudformation, stack_prefix=stack_prefix, project=project_config()
        )
    else:
        # A dry run needs no AWS, but checks the deployed limits where it can read them.
        from zstc.batch.limits import dry_run_limits

        limits = dry_run_limits(open_cloudformation=open_cloudformation, stack_prefix=stack_prefix)
    limit_source = "--max-labels"
    if max_labels is None:
        max_labels = limits.max_labels
        limit_source = limits.labels_source
    if default_labels is not None and len(default_labels) > max_labels:
        raise CliError(
            f"--labels: {len(default_labels)} labels, more than the limit of {max_labels} "
            f"({limit_source})",
            exit_code=2,
        )
    result = validate_lines(
        lines, policy=on_bad_lines, default_labels=default_labels, max_labels=max_labels
    )
    if result.problems:
        report(format_report(result))
    if result.refused:
        hint = (
            "; repair with --on-bad-lines fix, or leave bad lines out with --on-bad-lines drop"
            if on_bad_lines == "refuse"
            else "; leave them out with --on-bad-lines drop"
        )
        raise CliError(f"{file}: bad lines found, nothing uploaded{hint}", exit_code=2)
    if not result.lines:
        raise CliError(f"{file}: no valid lines left to upload", exit_code=2)
    check_lines_fit(result.lines, limit=limits.payload)
    chunks: list[list[str]] = []
    if is_dataset:
        chunks = (
            split_by_count(result.lines, parts=parts)
            if parts is not None
            else split_by_size(result.lines, max_mb=split_mb or 0)
        )
    shape = f"{len(chunks)} parts under datasets/{dataset_name}/" if is_dataset else object_name
    return PreparedSubmission(
        validation=result,
        chunks=chunks,
        is_dataset=is_dataset,
        object_name=object_name,
        dataset_name=dataset_name,
        shape=shape,
        max_labels=max_labels,
        limit_source=limit_source,
        limits=limits,
        data=data,
        batch=batch,
    )


def upload_bytes(prepared: PreparedSubmission) -> int:
    """The bytes the upload sends (each line and its newline), for a progress bar's total."""
    return sum(len(line.encode("utf-8")) + 1 for line in prepared.validation.lines)


def upload_submission(
    *,
    s3: Any,
    prepared: PreparedSubmission,
    on_part_uploaded: Callable[[str], None],
    on_bytes: Callable[[int], None],
) -> Submission:
    """Uploads a prepared (not dry-run) submission; the upload starts the transform job."""
    from zstc.batch.submit import submit_dataset, submit_file

    data, batch = prepared.data, prepared.batch
    assert data is not None and batch is not None
    if prepared.is_dataset:
        return submit_dataset(
            s3=s3,
            bucket=data.bucket_name,
            kms_key_arn=data.kms_key_arn,
            job_name_prefix=batch.job_name_prefix,
            parts=prepared.chunks,
            dataset_name=prepared.dataset_name,
            on_part_uploaded=on_part_uploaded,
            on_bytes=on_bytes,
        )
    return submit_file(
        s3=s3,
        bucket=data.bucket_name,
        kms_key_arn=data.kms_key_arn,
        job_name_prefix=batch.job_name_prefix,
        lines=prepared.validation.lines,
        object_name=prepared.object_name,
        on_bytes=on_bytes,
    )


def wait_and_download(
    *,
    sagemaker: Any,
    s3: Any,
    bucket: str,
    job_name: str,
    interval: float,
    download: Path | None,
    on_state: Callable[[str], None],
) -> tuple[JobStatus, ResultsSummary | None]:
    """Waits until the job ends, then writes its results to `download` if it completed."""
    from zstc.batch.results import download_results
    from zstc.batch.status import describe_job, wait_for_job

    wait_for_job(
        sagemaker=sagemaker,
        job_name=job_name,
        interval_s=interval,
        timeout_s=DEFAULT_WAIT_TIMEOUT_S,
        on_state=on_state,
    )
    status = describe_job(sagemaker=sagemaker, job_name=job_name)
    summary = None
    if status.state == "Completed" and download is not None:
        summary = download_results(
            s3=s3, bucket=bucket, job_name=job_name, output_path=download, job_state=status.state
        )
    return status, summary


def completed_job_state(*, sagemaker: Any, job_name: str) -> str | None:
    """The job's state when its results may be downloaded: "Completed", or None when SageMaker
    has no record of it (the output may outlive the job record; the listing decides)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        state = sagemaker.describe_transform_job(TransformJobName=job_name)["TransformJobStatus"]
    except (ClientError, BotoCoreError):
        return None
    if state != "Completed":
        # Output of a running or failed job is incomplete; a "complete" file would be a lie.
        raise CliError(
            f"transform job {job_name!r} is {state}; results are written when it completes"
        )
    return str(state)

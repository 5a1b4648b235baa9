"""`zstc batch submit|status|results`: validate and upload, follow the job, fetch its results."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from zstc.batch.jsonl_validation import BAD_LINE_POLICIES
from zstc.cli.context import (
    global_options,
    info,
    progress_enabled,
    say,
    settings,
    stderr_console,
    stdout_console,
)
from zstc.cli_errors import CliError

if TYPE_CHECKING:
    from zstc.batch.submission import PreparedSubmission

EXIT_OK = 0
EXIT_FAILURE = 1
DEFAULT_INTERVAL_S = 15.0
# With the data bucket's versioning suspended, the trigger names the job after the S3 event's
# sequencer, which an upload's response does not carry.
UNKNOWN_JOB_NAME = (
    "transform job: named by the trigger (the data bucket's versioning is suspended, so the "
    "name comes from the S3 event); find it with: zstc batch status"
)


@click.group("batch")
@global_options
def command() -> None:
    """Batch transform jobs: submit files, follow jobs, download results."""


def _job_state_exit(state: str) -> int:
    # A failed or stopped job is a failure for scripts that chain on the exit code.
    return EXIT_FAILURE if state in ("Failed", "Stopped") else EXIT_OK


@command.command("submit")
@click.argument("file", metavar="FILE", type=click.Path(path_type=Path))
@click.option("--labels", help="Labels for lines that carry none, e.g. a,b,c.")
@click.option(
    "--on-bad-lines",
    type=click.Choice(BAD_LINE_POLICIES),
    default="refuse",
    show_default=True,
    help="refuse: upload nothing if a line is bad; fix: repair what can be repaired, else "
    "refuse; drop: repair, and leave out the rest; keep: repair, and upload the rest as is "
    "(they get error lines).",
)
@click.option(
    "--max-labels",
    type=click.IntRange(min=1),
    help="Most labels per line (default: the deployed stack's MaxCandidateLabels output; "
    "50, the endpoint's default, for --dry-run).",
)
@click.option("--name", help="Object name under input/ (default: FILE's name).")
@click.option("--parts", type=int, help="Split into N parts, one job over all parts.")
@click.option(
    "--split-mb",
    type=click.FloatRange(min=0, min_open=True),
    help="Split into parts of at most this many MB.",
)
@click.option("--dataset", help="Dataset name for parts (default: FILE's stem).")
@click.option("--dry-run", is_flag=True, help="Validate and plan only; upload nothing.")
@click.option("--wait", is_flag=True, help="Wait until the job ends, showing its state.")
@click.option(
    "--download",
    metavar="OUT",
    type=click.Path(path_type=Path),
    help="With --wait: write the results to OUT when the job completes (implies --wait).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_INTERVAL_S,
    show_default=True,
    help="Seconds between checks with --wait.",
)
@global_options
def submit(
    file: Path,
    labels: str | None,
    on_bad_lines: Any,
    max_labels: int | None,
    name: str | None,
    parts: int | None,
    split_mb: float | None,
    dataset: str | None,
    dry_run: bool,
    wait: bool,
    download: Path | None,
    interval: float,
) -> int:
    """Validate FILE locally, upload it with SSE-KMS under input/ (or as parts under
    datasets/<name>/ with --parts/--split-mb), and print the transform job name the upload
    starts."""
    from zstc.batch.submission import prepare_submission, upload_bytes, upload_submission
    from zstc.endpoint_client import parse_labels

    options = settings()
    # Flag combinations first: nothing is read, asked or uploaded for a command line that
    # cannot work.
    if parts is not None and split_mb is not None:
        raise CliError("--parts and --split-mb are alternatives; give one", exit_code=2)
    is_dataset = parts is not None or split_mb is not None
    if dataset is not None and not is_dataset:
        raise CliError(
            "--dataset: names the parts of --parts N or --split-mb M; add one of them, or "
            "leave --dataset out to upload one file",
            exit_code=2,
        )
    if name is not None and is_dataset:
        raise CliError("--name: names a single file; with parts use --dataset", exit_code=2)
    wait = wait or download is not None
    if dry_run and wait:
        raise CliError("--wait/--download: nothing is submitted with --dry-run", exit_code=2)
    default_labels = parse_labels(labels) if labels else None

    prepared = prepare_submission(
        file=file,
        default_labels=default_labels,
        on_bad_lines=on_bad_lines,
        max_labels=max_labels,
        name=name,
        is_dataset=is_dataset,
        parts=parts,
        split_mb=split_mb,
        dataset=dataset,
        dry_run=dry_run,
        stack_prefix=options.resolved_stack_prefix(),
        open_cloudformation=lambda: options.client("cloudformation"),
        report=info,
    )
    if dry_run:
        _render_dry_run(prepared, json_output=options.json_output)
        return EXIT_OK

    data = prepared.data
    assert data is not None
    s3 = options.client("s3")
    sagemaker = options.client("sagemaker") if wait else None
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        *Progress.get_default_columns(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=stderr_console(),
        disable=not progress_enabled(),
    ) as progress:
        task = progress.add_task("uploading", total=upload_bytes(prepared))
        submission = upload_submission(
            s3=s3,
            prepared=prepared,
            on_part_uploaded=lambda key: info(f"uploaded s3://{data.bucket_name}/{key}"),
            on_bytes=lambda sent: progress.advance(task, sent),
        )
    if options.json_output and not wait:
        _echo_json(
            {
                "job_name": submission.job_name,
                "input_uri": submission.input_uri,
                "lines": submission.line_count,
                "uploaded_keys": submission.uploaded_keys,
                "kms_key_arn": data.kms_key_arn,
            }
        )
    elif not options.json_output:
        say(
            f"uploaded {submission.line_count} lines to {submission.input_uri} "
            f"(SSE-KMS, key {data.kms_key_arn})"
        )
        if submission.job_name is None:
            say(UNKNOWN_JOB_NAME)
        else:
            say(f"transform job: {submission.job_name}")
            if not wait:
                say(f"follow it with: zstc batch status {submission.job_name} --watch")
    if not wait:
        return EXIT_OK
    if submission.job_name is None:
        raise CliError(f"cannot wait: {UNKNOWN_JOB_NAME}")
    return _wait_and_download(
        sagemaker=sagemaker,
        s3=s3,
        bucket=data.bucket_name,
        job_name=submission.job_name,
        interval=interval,
        download=download,
    )


def _render_dry_run(prepared: PreparedSubmission, *, json_output: bool) -> None:
    result, limits = prepared.validation, prepared.limits
    if json_output:
        _echo_json(
            {
                "dry_run": True,
                "valid_lines": result.valid_lines,
                "kept_bad_lines": result.kept_bad_lines,
                "lines_to_upload": len(result.lines),
                "upload_as": prepared.shape,
                "max_labels": prepared.max_labels,
                "max_payload_mb": limits.payload.mb,
                "max_payload_source": limits.payload.source,
                "problems": [
                    {"line": p.line_number, "reason": p.reason, "repair": p.repair}
                    for p in result.problems
                ],
            }
        )
        return
    kept = (
        f", and {result.kept_bad_lines} bad lines kept as they are (they get error lines)"
        if result.kept_bad_lines
        else ""
    )
    flag = " (--max-labels)" if prepared.limit_source == "--max-labels" else ""
    say(f"dry run: {result.valid_lines} valid lines would be uploaded as {prepared.shape}{kept}")
    say(
        f"checked against: at most {prepared.max_labels} labels{flag} and {limits.payload.mb} MB "
        f"(MaxPayloadInMB) per line, from {limits.origin}"
    )


def _wait_and_download(
    *,
    sagemaker: Any,
    s3: Any,
    bucket: str,
    job_name: str,
    interval: float,
    download: Path | None,
) -> int:
    from zstc.batch.status import format_status
    from zstc.batch.submission import wait_and_download

    options = settings()
    spinner = (
        stderr_console().status(f"waiting for transform job {job_name} (every {interval:g}s)")
        if progress_enabled()
        else contextlib.nullcontext()
    )
    with spinner:
        status, summary = wait_and_download(
            sagemaker=sagemaker,
            s3=s3,
            bucket=bucket,
            job_name=job_name,
            interval=interval,
            download=download,
            on_state=lambda state: info(f"{dt.datetime.now(dt.UTC):%H:%M:%S}  {job_name}  {state}"),
        )
    document: dict[str, Any] = status.as_dict(now=dt.datetime.now(dt.UTC))
    if summary is not None:
        document["results"] = summary.as_dict()
    if options.json_output:
        _echo_json(document)
    else:
        say(format_status(status, now=dt.datetime.now(dt.UTC)))
        if summary is not None:
            say(summary.describe())
    return _job_state_exit(status.state)


def _echo_json(document: Any) -> None:
    from zstc.cli.json_output import echo_json

    echo_json(document)


@command.command("status")
@click.argument("job", metavar="[JOB]", required=False)
@click.option("--watch", is_flag=True, help="Refresh until the job ends (default JOB: newest).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_INTERVAL_S,
    show_default=True,
    help="Seconds between refreshes.",
)
@global_options
def status(job: str | None, watch: bool, interval: float) -> int:
    """Show a transform job's state, elapsed time and failure reason; without JOB, list this
    stack's newest jobs (with --watch: follow the newest)."""
    from zstc.batch.status import (
        describe_job,
        format_status,
        recent_jobs,
        render_job_list,
        watch_job,
    )
    from zstc.stack_outputs import batch_resources

    options = settings()
    sagemaker = options.client("sagemaker")
    now = dt.datetime.now(dt.UTC)
    if job is None:
        batch = batch_resources(
            cloudformation=options.client("cloudformation"),
            stack_prefix=options.resolved_stack_prefix(),
        )
        jobs = recent_jobs(sagemaker=sagemaker, name_contains=batch.job_name_prefix)
        if not watch:
            if options.json_output:
                _echo_json([entry.as_dict(now=now) for entry in jobs])
            else:
                render_job_list(jobs, now=now, console=stdout_console())
            return EXIT_OK
        if not jobs:
            raise CliError(
                f"--watch: this stack ({batch.job_name_prefix}*) has no transform jobs yet; "
                "submit one with `zstc batch submit`"
            )
        job = jobs[0].name
        info(f"watching the newest job: {job}")
    if watch:
        final = watch_job(
            sagemaker=sagemaker,
            job_name=job,
            interval_s=interval,
            write=lambda text: (sys.stdout.write(text), sys.stdout.flush()),
            live=sys.stdout.isatty() and not options.json_output,
            quiet=options.json_output,
            console=stdout_console(),
        )
        if options.json_output:
            _echo_json(final.as_dict(now=dt.datetime.now(dt.UTC)))
    else:
        final = describe_job(sagemaker=sagemaker, job_name=job)
        if options.json_output:
            _echo_json(final.as_dict(now=now))
        else:
            say(format_status(final, now=now))
    return _job_state_exit(final.state)


@command.command("results")
@click.argument("job", metavar="JOB")
@click.option(
    "-o",
    "--output-file",
    "output_file",
    required=True,
    metavar="FILE",
    type=click.Path(path_type=Path),
    help="File to write (JSON Lines).",
)
@click.option("--fail-on-errors", is_flag=True, help="Exit 1 when any line is an error line.")
@global_options
def results(job: str, output_file: Path, fail_on_errors: bool) -> int:
    """Download output/JOB/*.out, restore input order across parts and write one file; prints
    how many lines succeeded and failed."""
    from zstc.batch.results import download_results
    from zstc.batch.submission import completed_job_state
    from zstc.stack_outputs import data_resources

    options = settings()
    data = data_resources(
        cloudformation=options.client("cloudformation"),
        stack_prefix=options.resolved_stack_prefix(),
    )
    state = completed_job_state(sagemaker=options.client("sagemaker"), job_name=job)
    summary = download_results(
        s3=options.client("s3"),
        bucket=data.bucket_name,
        job_name=job,
        output_path=output_file,
        job_state=state,
    )
    if options.json_output:
        _echo_json(summary.as_dict())
    else:
        say(summary.describe())
    return EXIT_OK if summary.errors == 0 or not fail_on_errors else EXIT_FAILURE

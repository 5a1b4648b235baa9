"""Reports a transform job's state, elapsed time and failure reason, once or as a live view."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from zstc.cli_errors import CliError

TERMINAL_STATES = frozenset({"Completed", "Failed", "Stopped"})


@dataclass(frozen=True, kw_only=True)
class JobStatus:
    name: str
    state: str
    created: dt.datetime
    started: dt.datetime | None
    ended: dt.datetime | None
    failure_reason: str
    instances: str
    input_uri: str
    output_uri: str

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    def elapsed(self, *, now: dt.datetime) -> dt.timedelta:
        """Time since creation (queueing counts: the user waits for it too) until the end."""
        return (self.ended or now) - self.created

    def as_dict(self, *, now: dt.datetime) -> dict[str, Any]:
        """For --output json: the same facts as the table, with times in ISO 8601."""
        return {
            "job": self.name,
            "state": self.state,
            "created": self.created.isoformat(),
            "ended": self.ended.isoformat() if self.ended else None,
            "elapsed_s": int(self.elapsed(now=now).total_seconds()),
            "instances": self.instances or None,
            "input": self.input_uri or None,
            "output": self.output_uri or None,
            "failure_reason": self.failure_reason or None,
        }


def _utc(value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def describe_job(*, sagemaker: Any, job_name: str) -> JobStatus:
    try:
        job = sagemaker.describe_transform_job(TransformJobName=job_name)
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        if "Could not find" in message or "does not exist" in message:
            raise CliError(
                f"transform job {job_name!r} not found in this account/region (the trigger may "
                "not have started it yet: check again in a minute, or see `zstc batch status`)"
            ) from error
        raise CliError(f"cannot describe transform job {job_name!r}: {message}") from error
    except BotoCoreError as error:
        raise CliError(f"cannot describe transform job {job_name!r}: {error}") from error
    resources = job.get("TransformResources", {})
    source = job.get("TransformInput", {}).get("DataSource", {}).get("S3DataSource", {})
    created = _utc(job.get("CreationTime")) or dt.datetime.now(dt.UTC)
    return JobStatus(
        name=job_name,
        state=str(job.get("TransformJobStatus", "Unknown")),
        created=created,
        started=_utc(job.get("TransformStartTime")),
        ended=_utc(job.get("TransformEndTime")),
        failure_reason=str(job.get("FailureReason") or ""),
        instances=f"{resources.get('InstanceCount', '?')} x {resources.get('InstanceType', '?')}",
        input_uri=str(source.get("S3Uri", "")),
        output_uri=str(job.get("TransformOutput", {}).get("S3OutputPath", "")),
    )


def format_duration(delta: dt.timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def format_status(status: JobStatus, *, now: dt.datetime) -> str:
    rows = [
        f"job:       {status.name}",
        f"state:     {status.state}",
        f"elapsed:   {format_duration(status.elapsed(now=now))}",
        f"instances: {status.instances}",
        f"input:     {status.input_uri}",
        f"output:    {status.output_uri}",
    ]
    if status.failure_reason:
        rows.append(f"failure:   {status.failure_reason}")
    if status.state == "Completed":
        rows.append(f"results:   zstc batch results {status.name} -o results.jsonl")
    return "\n".join(rows)


def recent_jobs(*, sagemaker: Any, name_contains: str, max_results: int = 10) -> list[JobStatus]:
    """This stack's newest jobs first (the trigger names them all with the stack's prefix)."""
    try:
        summaries = sagemaker.list_transform_jobs(
            NameContains=name_contains,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=max_results,
        )["TransformJobSummaries"]
    except (ClientError, BotoCoreError) as error:
        raise CliError(f"cannot list transform jobs named {name_contains!r}*: {error}") from error
    jobs = []
    for summary in summaries:
        name = str(summary["TransformJobName"])
        if not name.startswith(name_contains):
            continue
        jobs.append(
            JobStatus(
                name=name,
                state=str(summary.get("TransformJobStatus", "Unknown")),
                created=_utc(summary.get("CreationTime")) or dt.datetime.now(dt.UTC),
                started=None,
                ended=_utc(summary.get("TransformEndTime")),
                failure_reason=str(summary.get("FailureReason") or ""),
                instances="",
                input_uri="",
                output_uri="",
            )
        )
    # Newest first even where a listing's order is not guaranteed (equal times keep the order).
    return sorted(jobs, key=lambda job: job.created, reverse=True)


def render_job_list(jobs: list[JobStatus], *, now: dt.datetime, console: Any) -> None:
    """The newest jobs as a rich table (plain columns when piped)."""
    from rich.table import Table

    if not jobs:
        console.print("no transform jobs yet")
        return
    table = Table("job", "state", "elapsed", "failure", box=None, pad_edge=False)
    for job in jobs:
        table.add_row(
            job.name, job.state, format_duration(job.elapsed(now=now)), job.failure_reason
        )
    console.print(table)


def _job_exists(*, sagemaker: Any, job_name: str) -> bool:
    try:
        sagemaker.describe_transform_job(TransformJobName=job_name)
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", "")
        if "Could not find" in message or "does not exist" in message:
            return False
        raise CliError(f"cannot describe transform job {job_name!r}: {message}") from error
    return True


def wait_for_job(
    *,
    sagemaker: Any,
    job_name: str,
    interval_s: float,
    timeout_s: float,
    on_state: Callable[[str], object] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Waits until the job exists (the trigger starts it after the upload), then until it ends.

    The end is boto3's own waiter, `transform_job_completed_or_stopped` (botocore
    data/sagemaker/2017-07-24/waiters-2.json: success on Completed or Stopped, failure on Failed
    or on ValidationException, which is why the job must exist first).
    """
    from botocore.exceptions import WaiterError

    deadline = monotonic() + timeout_s
    while not _job_exists(sagemaker=sagemaker, job_name=job_name):
        if monotonic() >= deadline:
            raise CliError(
                f"transform job {job_name!r} has not started after {timeout_s:.0f}s; see the "
                "trigger's log group and dead-letter queue (README, 'When it cannot start')"
            )
        sleep(interval_s)
    if on_state is not None:
        on_state("started")
    remaining = max(interval_s, deadline - monotonic())
    waiter = sagemaker.get_waiter("transform_job_completed_or_stopped")
    try:
        waiter.wait(
            TransformJobName=job_name,
            WaiterConfig={
                "Delay": max(1, round(interval_s)),
                "MaxAttempts": max(1, int(remaining // max(1.0, interval_s)) + 1),
            },
        )
    except WaiterError as error:
        last = error.last_response or {}
        if last.get("TransformJobStatus") == "Failed":
            return  # a terminal state: the caller reports it and exits 1
        raise CliError(f"stopped waiting for transform job {job_name!r}: {error}") from error


def format_job_list(jobs: list[JobStatus], *, now: dt.datetime) -> str:
    if not jobs:
        return "no transform jobs yet"
    width = max(len("job"), *(len(job.name) for job in jobs))
    rows = [f"{'job':<{width}}  {'state':<10}  {'elapsed':>9}  failure"]
    for job in jobs:
        elapsed = format_duration(job.elapsed(now=now))
        rows.append(f"{job.name:<{width}}  {job.state:<10}  {elapsed:>9}  {job.failure_reason}")
    return "\n".join(rows)


def watch_job(
    *,
    sagemaker: Any,
    job_name: str,
    interval_s: float,
    write: Callable[[str], object],
    live: bool,
    quiet: bool = False,
    console: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> JobStatus:
    """Refreshes until the job reaches a terminal state; returns the final status.

    live (a terminal): a rich Live display on `console` redraws the status block in place.
    Otherwise (a pipe or a log): prints one line per change of state, so logs stay readable.
    quiet: prints nothing (--output json prints the final status as one document).
    """
    if live and not quiet:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        with Live(console=console or Console(), auto_refresh=False, transient=False) as display:

            def redraw(status: JobStatus, now: dt.datetime) -> None:
                display.update(Text(format_status(status, now=now)), refresh=True)

            return _poll(
                sagemaker=sagemaker,
                job_name=job_name,
                interval_s=interval_s,
                on_status=redraw,
                sleep=sleep,
                clock=clock,
            )
    last_state = ""

    def log_changes(status: JobStatus, now: dt.datetime) -> None:
        nonlocal last_state
        if quiet:
            return
        if status.state != last_state:
            elapsed = format_duration(status.elapsed(now=now))
            write(f"{now:%H:%M:%S}  {job_name}  {status.state}  elapsed {elapsed}\n")
        last_state = status.state
        if status.finished:
            write(format_status(status, now=now) + "\n")

    return _poll(
        sagemaker=sagemaker,
        job_name=job_name,
        interval_s=interval_s,
        on_status=log_changes,
        sleep=sleep,
        clock=clock,
    )


def _poll(
    *,
    sagemaker: Any,
    job_name: str,
    interval_s: float,
    on_status: Callable[[JobStatus, dt.datetime], None],
    sleep: Callable[[float], None],
    clock: Callable[[], dt.datetime],
) -> JobStatus:
    while True:
        status = describe_job(sagemaker=sagemaker, job_name=job_name)
        on_status(status, clock())
        if status.finished:
            return status
        sleep(interval_s)

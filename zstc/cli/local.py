"""`zstc local serve|batch`: the container's serving stack on this machine, without AWS."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from zstc.cli.context import info, output_option, progress_enabled, settings, stderr_console
from zstc.cli_errors import CliError

if TYPE_CHECKING:
    from zstc.local.batch import LocalBatchSummary, OutputTarget, Payload

# multi-model-server 1.1.11 refuses ports from 32767 up (zstc/local/endpoint.py, MAX_PORT);
# the same bound here stops such a port at the command line, with exit 2.
MAX_LOCAL_PORT = 32766
PORT = click.IntRange(1, MAX_LOCAL_PORT)


@click.group("local")
@output_option
def command() -> None:
    """The container's real serving stack, locally, without AWS."""


def model_options(function: click.decorators.FC) -> click.decorators.FC:
    function = click.option(
        "--work-dir",
        type=click.Path(path_type=Path),
        help="Where prepared model directories are kept (default: the user cache directory, "
        "see `zstc local serve --help`).",
    )(function)
    function = click.option(
        "--revision", help="Hub revision (commit hash, tag, branch) for a hub id."
    )(function)
    function = click.option(
        "--model",
        help="Model directory, unpacked or packed model.tar.gz, or Hugging Face id "
        "(default: the bundled all-MiniLM-L6-v2, embedding mode).",
    )(function)
    return function


@command.command("serve")
@model_options
@click.option("--port", type=PORT, default=8080, show_default=True, help="Port to listen on.")
@click.option(
    "--log-dir", type=click.Path(path_type=Path), help="Server log directory (default: temp)."
)
@click.option(
    "--as-batch-model",
    is_flag=True,
    help="Configure the server as the batch transform model (3600 s timeout, --max-payload-mb "
    "as its request limit) instead of the endpoint model (60 s), e.g. for `zstc local batch "
    "--url`.",
)
@click.option(
    "--max-payload-mb",
    type=click.IntRange(1, 100),
    default=6,
    show_default=True,
    help="With --as-batch-model: the transform job's MaxPayloadInMB.",
)
@click.option(
    "--unhealthy-exit-after",
    "unhealthy_exit_after",
    type=click.FloatRange(min=1),
    help="Stop with an error when GET /ping says Unhealthy for this many seconds (default: "
    "the model server timeout + 30, at most 600).",
)
@output_option
def serve(
    model: str | None,
    revision: str | None,
    work_dir: Path | None,
    port: int,
    log_dir: Path | None,
    as_batch_model: bool,
    max_payload_mb: int,
    unhealthy_exit_after: float | None,
) -> int:
    """Serve a model on localhost with the container's model server (GET /ping, POST
    /invocations) until Ctrl-C, SIGTERM or a closed terminal.

    Prepared model directories are cached under the user cache directory
    (platformdirs: ~/.cache/zstc/local-models on Linux), keyed on the model's content.
    """
    from zstc.local.endpoint import LocalEndpoint, LocalEndpointError
    from zstc.local.stop_signals import wait_for_stop
    from zstc.local.worker_health import (
        WorkerHealthWatch,
        default_unhealthy_limit_s,
        read_ping_status,
    )
    from zstc.models.model_sources import resolve_model

    started = time.monotonic()
    resolved = resolve_model(model=model, revision=revision, work_dir=work_dir)
    info(f"model: {resolved.description}\nmodel dir: {resolved.model_dir}")
    # Configured as the deployed model it stands for (zstc/model_server_settings.py).
    if as_batch_model:
        endpoint = LocalEndpoint.for_batch(
            resolved.model_dir,
            port=port,
            max_payload_mb=max_payload_mb,
            log_dir=log_dir,
            source=resolved.description,
        )
    else:
        endpoint = LocalEndpoint(
            resolved.model_dir, port=port, log_dir=log_dir, source=resolved.description
        )
    try:
        endpoint.start()
    except LocalEndpointError as error:
        raise CliError(str(error)) from error
    try:
        info(f"server log: {endpoint.server_log}")
        ready_s = time.monotonic() - started
        model_kind = "batch" if as_batch_model else "endpoint"
        timeout_s = endpoint.model_server.timeout_seconds
        if settings().json_output:
            # One line a script can read to learn where the server listens.
            document = {"url": endpoint.url, "model_dir": str(resolved.model_dir)}
            click.echo(
                json.dumps(
                    {
                        **document,
                        "ready_s": round(ready_s, 1),
                        "configured_as": model_kind,
                        "timeout_s": timeout_s,
                    }
                )
            )
        else:
            click.echo(
                f"serving at {endpoint.url} (GET /ping, POST /invocations) as the {model_kind} "
                f"model ({timeout_s} s timeout); ready in {ready_s:.1f}s; Ctrl-C to stop"
            )
        # Ctrl-C, SIGTERM and a closed terminal (SIGHUP) all stop the server in order; so does
        # a worker that stays Unhealthy behind a front end that still answers.
        watch = WorkerHealthWatch(
            read_status=lambda: read_ping_status(endpoint.url),
            unhealthy_limit_s=unhealthy_exit_after or default_unhealthy_limit_s(timeout_s),
        )
        wait_for_stop(
            still_running=lambda: endpoint.running,
            exit_reason=endpoint.exit_reason,
            health_problem=watch.problem,
        )
    finally:
        endpoint.stop()
        info("stopped")
    return 0


@command.command("batch")
@click.argument("file", metavar="FILE", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output-file",
    "output_file",
    required=True,
    metavar="OUT",
    type=click.Path(path_type=Path),
    help="File to write (JSON Lines, one line per input line).",
)
@click.option("--url", help="A running local endpoint (default: start one).")
@model_options
@click.option("--port", type=PORT, help="Port for the endpoint it starts (default: a free one).")
@click.option("--labels", help="Labels for lines that carry none, as batch submit --labels.")
@click.option(
    "--max-payload-mb",
    type=click.FloatRange(min=0, min_open=True),
    help="Largest request, as MaxPayloadInMB (default: what the project's cdk.json deploys: "
    "batch_max_payload_mb, or the model kind's default).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--fail-on-errors", is_flag=True, help="Exit 1 when any line is an error line.")
@output_option
def batch(
    file: Path,
    output_file: Path,
    url: str | None,
    model: str | None,
    revision: str | None,
    work_dir: Path | None,
    port: int | None,
    labels: str | None,
    max_payload_mb: float | None,
    no_progress: bool,
    fail_on_errors: bool,
) -> int:
    """Run FILE through a local endpoint with batch-transform semantics (MultiRecord payloads,
    one output line per input line, in order).

    OUT is written only when every line was answered: after a failure, Ctrl-C or SIGTERM there
    is no OUT (an older one is removed when the run starts) and no OUT.partial."""
    from zstc.endpoint_client import parse_labels
    from zstc.local.batch import OutputTarget, read_and_pack
    from zstc.local.stop_signals import EXIT_TERMINATED, Terminated, sigterm_raises

    if url and model:
        raise CliError("--url and --model are alternatives; give one", exit_code=2)
    if not file.is_file():
        raise CliError(f"FILE: {file} does not exist or is not a file", exit_code=2)
    default_labels = parse_labels(labels) if labels else None
    if max_payload_mb is None:
        # The limit the deployed jobs get (zstc/batch/limits.py), said so the user can check it.
        from zstc.batch.limits import configured_payload_limit
        from zstc.project_config import project_config

        limit = configured_payload_limit(project=project_config())
        max_payload_mb = float(limit.mb)
        info(f"MaxPayloadInMB {limit.mb}: {limit.source} (--max-payload-mb to change)")
    show_progress = not no_progress and progress_enabled()
    # Everything that can be checked is checked before a server starts.
    line_count, payloads = read_and_pack(
        input_path=file, max_payload_mb=max_payload_mb, default_labels=default_labels
    )
    output = OutputTarget(path=output_file)
    try:
        with sigterm_raises():
            output.prepare(expected_bytes=file.stat().st_size)
            summary = _run_batch(
                file=file,
                output=output,
                payloads=payloads,
                line_count=line_count,
                url=url,
                model=model,
                revision=revision,
                work_dir=work_dir,
                port=port,
                max_payload_mb=max_payload_mb,
                show_progress=show_progress,
            )
    except Terminated as stop:
        output.discard()
        raise CliError(
            f"terminated by {stop.signal_name}: the run stopped and {output_file} was not written",
            exit_code=EXIT_TERMINATED,
        ) from None
    except BaseException:
        output.discard()
        raise
    if settings().json_output:
        click.echo(json.dumps(summary.as_dict()))
    else:
        click.echo(summary.describe())
    return 1 if fail_on_errors and summary.errors else 0


def _run_batch(
    *,
    file: Path,
    output: OutputTarget,
    payloads: list[Payload],
    line_count: int,
    url: str | None,
    model: str | None,
    revision: str | None,
    work_dir: Path | None,
    port: int | None,
    max_payload_mb: float,
    show_progress: bool,
) -> LocalBatchSummary:
    """The run against --url, or against an endpoint started (and stopped) for it."""
    from zstc.local.batch import run_prepared_batch

    if url:
        return run_prepared_batch(
            input_path=file,
            output=output,
            payloads=payloads,
            line_count=line_count,
            url=url,
            progress=stderr_console() if show_progress else None,
        )
    from zstc.local.endpoint import LocalEndpoint, LocalEndpointError, find_free_port
    from zstc.models.model_sources import resolve_model

    resolved = resolve_model(model=model, revision=revision, work_dir=work_dir)
    info(f"starting a local endpoint on {resolved.description} ...")
    try:
        # The batch model's timeout and request size limit, as in a transform job.
        with LocalEndpoint.for_batch(
            resolved.model_dir,
            port=port or find_free_port(),
            max_payload_mb=max_payload_mb,
            source=resolved.description,
        ) as endpoint:
            info(f"local endpoint ready at {endpoint.url}")
            return run_prepared_batch(
                input_path=file,
                output=output,
                payloads=payloads,
                line_count=line_count,
                url=endpoint.url,
                progress=stderr_console() if show_progress else None,
            )
    except LocalEndpointError as error:
        raise CliError(str(error)) from error

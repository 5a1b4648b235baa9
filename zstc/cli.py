"""The `zstc` command: classify, batch submit/status/results, local serve/batch, package-model.

Every command prints one line naming the problem on stderr and exits non-zero when something
goes wrong (2 for bad input, 1 for a failure, 130 for Ctrl-C), and prints success only after
the thing happened.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zstc.cli_errors import CliError
from zstc.jsonl_validation import BAD_LINE_POLICIES, DEFAULT_MAX_LABELS

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# AWS access


def _session(args: argparse.Namespace) -> Any:
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.session.Session(region_name=args.region, profile_name=args.profile)
    except BotoCoreError as error:
        raise CliError(f"--profile: {error}", exit_code=2) from error


def _client(args: argparse.Namespace, service: str) -> Any:
    session = _session(args)
    # An empty AWS_REGION counts as none; botocore would build an invalid endpoint URL from it.
    if not session.region_name:
        raise CliError(
            "no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION", exit_code=2
        )
    return session.client(service)


def _stack_prefix(args: argparse.Namespace) -> str:
    from zstc.stack_outputs import resolve_stack_prefix

    return resolve_stack_prefix(flag=args.stack_prefix)


def _max_labels_default() -> int:
    from zstc.stack_outputs import read_cdk_context

    value = read_cdk_context().get("max_candidate_labels", DEFAULT_MAX_LABELS)
    return value if isinstance(value, int) and value > 0 else DEFAULT_MAX_LABELS


# ---------------------------------------------------------------------------------------------
# Commands


def cmd_classify(args: argparse.Namespace) -> int:
    from zstc.endpoint_client import build_request, classify, parse_labels
    from zstc.result_table import format_table

    if not args.text.strip():
        raise CliError("TEXT: is empty; give the text to classify", exit_code=2)
    request = build_request(
        text=args.text,
        labels=parse_labels(args.labels),
        multi_label=args.multi_label,
        template=args.template,
    )
    if args.local:
        response = classify(request=request, local_url=args.local)
    else:
        from zstc.stack_outputs import endpoint_name

        name = args.endpoint_name or endpoint_name(
            cloudformation=_client(args, "cloudformation"), stack_prefix=_stack_prefix(args)
        )
        response = classify(
            request=request, runtime=_client(args, "sagemaker-runtime"), endpoint_name=name
        )
    if args.json:
        print(json.dumps(response, ensure_ascii=False))
    else:
        print(format_table(response))
    return EXIT_OK


def _read_lines(path: Path) -> list[str]:
    from zstc.local_batch import read_input_lines

    if not path.is_file():
        raise CliError(f"FILE: {path} does not exist or is not a file", exit_code=2)
    return read_input_lines(path)


def cmd_batch_submit(args: argparse.Namespace) -> int:
    from zstc.batch_submit import (
        check_dataset_name,
        check_object_name,
        split_by_count,
        split_by_size,
        submit_dataset,
        submit_file,
    )
    from zstc.endpoint_client import parse_labels
    from zstc.jsonl_validation import format_report, validate_lines
    from zstc.stack_outputs import batch_resources, data_resources

    path = Path(args.file)
    lines = _read_lines(path)
    if not lines:
        raise CliError(f"FILE: {path} is empty; nothing to submit", exit_code=2)
    result = validate_lines(
        lines,
        policy=args.on_bad_lines,
        default_labels=parse_labels(args.labels) if args.labels else None,
        max_labels=args.max_labels,
    )
    if result.problems:
        _info(format_report(result))
    if result.refused:
        hint = (
            "; repair with --on-bad-lines fix, or leave bad lines out with --on-bad-lines drop"
            if args.on_bad_lines == "refuse"
            else "; leave them out with --on-bad-lines drop"
        )
        raise CliError(f"{path}: bad lines found, nothing uploaded{hint}", exit_code=2)
    if not result.lines:
        raise CliError(f"{path}: no valid lines left to upload", exit_code=2)
    dataset = args.parts is not None or args.split_mb is not None
    if dataset:
        parts = (
            split_by_count(result.lines, parts=args.parts)
            if args.parts is not None
            else split_by_size(result.lines, max_mb=args.split_mb)
        )
        dataset_name = check_dataset_name(args.dataset or path.name.removesuffix(".jsonl"))
    else:
        object_name = check_object_name(args.name or path.name)
    if args.dry_run:
        shape = f"{len(parts)} parts under datasets/{dataset_name}/" if dataset else object_name
        print(f"dry run: {len(result.lines)} valid lines would be uploaded as {shape}")
        return EXIT_OK
    cloudformation = _client(args, "cloudformation")
    prefix = _stack_prefix(args)
    data = data_resources(cloudformation=cloudformation, stack_prefix=prefix)
    batch = batch_resources(cloudformation=cloudformation, stack_prefix=prefix)
    s3 = _client(args, "s3")
    if dataset:
        submission = submit_dataset(
            s3=s3,
            bucket=data.bucket_name,
            kms_key_arn=data.kms_key_arn,
            job_name_prefix=batch.job_name_prefix,
            parts=parts,
            dataset_name=dataset_name,
            on_part_uploaded=lambda key: _info(f"uploaded s3://{data.bucket_name}/{key}"),
        )
    else:
        submission = submit_file(
            s3=s3,
            bucket=data.bucket_name,
            kms_key_arn=data.kms_key_arn,
            job_name_prefix=batch.job_name_prefix,
            lines=result.lines,
            object_name=object_name,
        )
    print(
        f"uploaded {submission.line_count} lines to {submission.input_uri} "
        f"(SSE-KMS, key {data.kms_key_arn})"
    )
    print(f"transform job: {submission.job_name}")
    print(f"follow it with: zstc batch status {submission.job_name} --watch")
    return EXIT_OK


def cmd_batch_status(args: argparse.Namespace) -> int:
    import datetime as dt

    from zstc.batch_status import (
        describe_job,
        format_job_list,
        format_status,
        recent_jobs,
        watch_job,
    )

    sagemaker = _client(args, "sagemaker")
    now = dt.datetime.now(dt.UTC)
    if args.job is None:
        if args.watch:
            raise CliError("--watch: needs a JOB name", exit_code=2)
        from zstc.stack_outputs import batch_resources

        batch = batch_resources(
            cloudformation=_client(args, "cloudformation"), stack_prefix=_stack_prefix(args)
        )
        jobs = recent_jobs(sagemaker=sagemaker, name_contains=batch.job_name_prefix)
        print(format_job_list(jobs, now=now))
        return EXIT_OK
    if args.watch:
        if args.interval <= 0:
            raise CliError(f"--interval: {args.interval} must be greater than 0", exit_code=2)
        status = watch_job(
            sagemaker=sagemaker,
            job_name=args.job,
            interval_s=args.interval,
            write=lambda text: (sys.stdout.write(text), sys.stdout.flush()),
            live=sys.stdout.isatty(),
        )
    else:
        status = describe_job(sagemaker=sagemaker, job_name=args.job)
        print(format_status(status, now=now))
    # A failed or stopped job is a failure for scripts that chain on the exit code.
    return EXIT_OK if status.state not in ("Failed", "Stopped") else EXIT_FAILURE


def cmd_batch_results(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from zstc.batch_results import download_results
    from zstc.stack_outputs import data_resources

    data = data_resources(
        cloudformation=_client(args, "cloudformation"), stack_prefix=_stack_prefix(args)
    )
    sagemaker = _client(args, "sagemaker")
    state = None
    try:
        state = sagemaker.describe_transform_job(TransformJobName=args.job)["TransformJobStatus"]
    except (ClientError, BotoCoreError):
        state = None  # the output may outlive the job record; the listing decides
    if state is not None and state != "Completed":
        # Output of a running or failed job is incomplete; a "complete" file would be a lie.
        raise CliError(
            f"transform job {args.job!r} is {state}; results are written when it completes"
        )
    summary = download_results(
        s3=_client(args, "s3"),
        bucket=data.bucket_name,
        job_name=args.job,
        output_path=Path(args.output),
        job_state=state,
    )
    print(summary.describe())
    return EXIT_OK if summary.errors == 0 or not args.fail_on_errors else EXIT_FAILURE


def cmd_local_serve(args: argparse.Namespace) -> int:
    from zstc.local_commands import resolve_model, wait_for_stop
    from zstc.local_endpoint import LocalEndpoint, LocalEndpointError

    started = time.monotonic()
    resolved = resolve_model(model=args.model, revision=args.revision, work_dir=args.work_dir)
    _info(f"model: {resolved.description}\nmodel dir: {resolved.model_dir}")
    endpoint = LocalEndpoint(
        resolved.model_dir, port=args.port, log_dir=args.log_dir, source=resolved.description
    )
    try:
        endpoint.start()
    except LocalEndpointError as error:
        raise CliError(str(error)) from error
    try:
        _info(f"server log: {endpoint.server_log}")
        print(
            f"serving at {endpoint.url} (GET /ping, POST /invocations); "
            f"ready in {time.monotonic() - started:.1f}s; Ctrl-C to stop",
            flush=True,
        )
        wait_for_stop(still_running=lambda: endpoint.running, exit_reason=endpoint.exit_reason)
    finally:
        endpoint.stop()
        _info("stopped")
    return EXIT_OK


def cmd_local_batch(args: argparse.Namespace) -> int:
    from zstc.local_batch import run_local_batch

    input_path = Path(args.file)
    if not input_path.is_file():
        raise CliError(f"FILE: {input_path} does not exist or is not a file", exit_code=2)
    if args.url:
        summary = run_local_batch(
            input_path=input_path,
            output_path=Path(args.output),
            url=args.url,
            max_payload_mb=args.max_payload_mb,
            progress=not args.no_progress,
        )
    else:
        from zstc.local_commands import resolve_model
        from zstc.local_endpoint import LocalEndpoint, LocalEndpointError, find_free_port

        resolved = resolve_model(model=args.model, revision=args.revision, work_dir=args.work_dir)
        _info(f"starting a local endpoint on {resolved.description} ...")
        try:
            port = args.port or find_free_port()
            # The batch model's timeout and request size limit, as in a transform job.
            with LocalEndpoint.for_batch(
                resolved.model_dir,
                port=port,
                max_payload_mb=args.max_payload_mb,
                source=resolved.description,
            ) as endpoint:
                _info(f"local endpoint ready at {endpoint.url}")
                summary = run_local_batch(
                    input_path=input_path,
                    output_path=Path(args.output),
                    url=endpoint.url,
                    max_payload_mb=args.max_payload_mb,
                    progress=not args.no_progress,
                )
        except LocalEndpointError as error:
            raise CliError(str(error)) from error
    print(summary.describe())
    return EXIT_OK


def cmd_package_model(args: argparse.Namespace) -> int:
    from zstc.local_commands import package_model

    path, digest = package_model(model=args.model, revision=args.revision, output=args.output)
    print(f"{path}  sha256={digest}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# Parser


def _add_aws_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AWS")
    group.add_argument("--region", help="AWS region (default: your AWS configuration)")
    group.add_argument("--profile", help="AWS named profile (default: your AWS configuration)")
    group.add_argument(
        "--stack-prefix",
        help="stack name prefix (default: $ZSTC_STACK_PREFIX, then cdk.json, then Zstc)",
    )


def _add_model_options(parser: argparse.ArgumentParser, *, work_dir: bool = True) -> None:
    parser.add_argument(
        "--model",
        help="model directory, unpacked or packed model.tar.gz, or Hugging Face id "
        "(default: the bundled all-MiniLM-L6-v2, embedding mode)",
    )
    parser.add_argument("--revision", help="hub revision (commit hash, tag, branch) for a hub id")
    if work_dir:
        parser.add_argument(
            "--work-dir",
            type=Path,
            help="where prepared model directories are kept (default: ~/.cache/zstc/local-models)",
        )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zstc",
        description="Zero-shot text classification on Amazon SageMaker: call the endpoint, run "
        "batches, and run everything locally first.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    classify = commands.add_parser(
        "classify",
        help="classify one text on the endpoint (or a local one)",
        description="Classify TEXT into the given labels and print labels and scores.",
    )
    classify.add_argument("text", metavar="TEXT", help="the text to classify")
    classify.add_argument("--labels", required=True, help="comma-separated labels, e.g. a,b,c")
    classify.add_argument(
        "--multi-label", action="store_true", help="score each label independently"
    )
    classify.add_argument("--template", help="hypothesis template with {}, e.g. 'This is {}.'")
    classify.add_argument("--local", metavar="URL", help="a local endpoint, e.g. localhost:8080")
    classify.add_argument("--endpoint-name", help="endpoint name (default: from the stack)")
    classify.add_argument("--json", action="store_true", help="print the raw JSON response")
    _add_aws_options(classify)
    classify.set_defaults(handler=cmd_classify)

    batch = commands.add_parser(
        "batch", help="submit batches and fetch results", description="Batch transform jobs."
    )
    batch_commands = batch.add_subparsers(dest="batch_command", metavar="COMMAND", required=True)

    submit = batch_commands.add_parser(
        "submit",
        help="validate a JSONL file and upload it; prints the job name",
        description="Validate FILE locally, upload it with SSE-KMS under input/ (or as parts "
        "under datasets/<name>/ with --parts/--split-mb) and print the transform job name the "
        "upload starts.",
    )
    submit.add_argument("file", metavar="FILE", help="JSON Lines file, one request per line")
    submit.add_argument("--labels", help="labels for lines that carry none, e.g. a,b,c")
    submit.add_argument(
        "--on-bad-lines",
        choices=BAD_LINE_POLICIES,
        default="refuse",
        help="refuse: upload nothing if a line is bad (default); fix: repair what can be "
        "repaired, else refuse; drop: repair, and leave out the rest; keep: repair, and upload "
        "the rest as is (they get error lines)",
    )
    submit.add_argument(
        "--max-labels",
        type=int,
        default=_max_labels_default(),
        help="most labels per line (default: max_candidate_labels in cdk.json)",
    )
    submit.add_argument("--name", help="object name under input/ (default: FILE's name)")
    split = submit.add_mutually_exclusive_group()
    split.add_argument("--parts", type=int, help="split into N parts, one job over all parts")
    split.add_argument(
        "--split-mb", type=_positive_float, help="split into parts of at most this many MB"
    )
    submit.add_argument("--dataset", help="dataset name for parts (default: FILE's stem)")
    submit.add_argument(
        "--dry-run", action="store_true", help="validate and plan only; upload nothing"
    )
    _add_aws_options(submit)
    submit.set_defaults(handler=cmd_batch_submit)

    status = batch_commands.add_parser(
        "status",
        help="state, elapsed time and failure reason of a job",
        description="Show a transform job's state, elapsed time and failure reason; without "
        "JOB, list this stack's newest jobs.",
    )
    status.add_argument("job", metavar="JOB", nargs="?", help="transform job name")
    status.add_argument("--watch", action="store_true", help="refresh until the job ends")
    status.add_argument(
        "--interval", type=float, default=15.0, help="seconds between refreshes (default 15)"
    )
    _add_aws_options(status)
    status.set_defaults(handler=cmd_batch_status)

    results = batch_commands.add_parser(
        "results",
        help="download a job's results as one file in input order",
        description="Download output/JOB/*.out, restore input order across parts and write "
        "one file; prints how many lines succeeded and failed.",
    )
    results.add_argument("job", metavar="JOB", help="transform job name")
    results.add_argument("-o", "--output", required=True, help="file to write (JSON Lines)")
    results.add_argument(
        "--fail-on-errors", action="store_true", help="exit 1 when any line is an error line"
    )
    _add_aws_options(results)
    results.set_defaults(handler=cmd_batch_results)

    local = commands.add_parser(
        "local",
        help="run the endpoint and batches on this machine",
        description="The container's real serving stack, locally, without AWS.",
    )
    local_commands = local.add_subparsers(dest="local_command", metavar="COMMAND", required=True)

    serve = local_commands.add_parser(
        "serve",
        help="start a local endpoint",
        description="Serve a model on localhost with the container's model server (GET /ping, "
        "POST /invocations) until Ctrl-C.",
    )
    _add_model_options(serve)
    serve.add_argument("--port", type=_port, default=8080, help="port (default 8080)")
    serve.add_argument("--log-dir", type=Path, help="server log directory (default: a temp dir)")
    serve.set_defaults(handler=cmd_local_serve)

    local_batch = local_commands.add_parser(
        "batch",
        help="run a JSONL file through a local endpoint",
        description="Run FILE through a local endpoint with batch-transform semantics "
        "(MultiRecord payloads, one output line per input line, in order).",
    )
    local_batch.add_argument("file", metavar="FILE", help="JSON Lines file")
    local_batch.add_argument("-o", "--output", required=True, help="file to write")
    local_batch.add_argument("--url", help="a running local endpoint (default: start one)")
    _add_model_options(local_batch)
    local_batch.add_argument(
        "--port", type=_port, help="port for the endpoint it starts (default: a free one)"
    )
    local_batch.add_argument(
        "--max-payload-mb",
        type=_positive_float,
        default=6.0,
        help="largest request, as MaxPayloadInMB (default 6)",
    )
    local_batch.add_argument("--no-progress", action="store_true", help="no progress bar")
    local_batch.set_defaults(handler=cmd_local_batch)

    package = commands.add_parser(
        "package-model",
        help="build model.tar.gz",
        description="Build a deterministic model.tar.gz: the inference code under code/, plus "
        "the model's files at the root when --model is given. Prints its path and sha256.",
    )
    _add_model_options(package, work_dir=False)
    package.add_argument(
        "-o", "--output", type=Path, default=Path("model.tar.gz"), help="archive to write"
    )
    package.set_defaults(handler=cmd_package_model)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        # --help exits 0, a usage error 2; both already printed their text.
        return int(exit_request.code or 0)
    if getattr(args, "command", None) == "local" and getattr(args, "url", None) and args.model:
        _info("zstc: error: --url and --model are alternatives; give one")
        return EXIT_BAD_INPUT
    try:
        exit_code: int = args.handler(args)
        return exit_code
    except CliError as error:
        _info(f"zstc: error: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        _info("zstc: interrupted")
        return EXIT_INTERRUPTED
    except Exception as error:
        # AWS errors (no credentials, access denied ...) and anything unforeseen: one line, as
        # for every other error; ZSTC_DEBUG=1 re-raises for the traceback.
        if os.environ.get("ZSTC_DEBUG"):
            raise
        _info(f"zstc: error: {type(error).__name__}: {error}")
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())

"""`zstc classify`: texts through the deployed endpoint (or a local one), as tables or JSON."""

from __future__ import annotations

import sys
from typing import Any

import click

from zstc.cli.context import global_options, info, progress_enabled, settings, stderr_console
from zstc.cli_errors import CliError

DEFAULT_BATCH_SIZE = 16


def _read_texts(source: str) -> list[str]:
    """One text per line from a file or stdin ("-"); lines split only on "\\n" (line_splitting)."""
    from zstc.batch.line_splitting import split_records

    try:
        if source == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(source, "rb") as handle:
                raw = handle.read()
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(
            f"--file: cannot read {source} as UTF-8 text ({error})", exit_code=2
        ) from error
    texts = split_records(text)
    blank = [number for number, line in enumerate(texts, start=1) if not line.strip()]
    if blank:
        raise CliError(
            f"--file: line {blank[0]} is blank; give one non-empty text per line", exit_code=2
        )
    if not texts:
        raise CliError(f"--file: {source} has no texts", exit_code=2)
    return texts


def pair_cap(*, local: bool) -> tuple[int, str]:
    """The most (text, label) pairs one request may carry, and where that number comes from.

    The deployed endpoint enforces the project's max_pairs_per_request (ZSTC_MAX_PAIRS_PER_REQUEST
    in its environment); a local endpoint runs with the contract's default unless told otherwise,
    so for it the smaller of the two is safe.
    """
    from zstc.bundled_code import request_contract
    from zstc.project_config import project_config

    project = project_config()
    configured = int(project.config.max_pairs_per_request)
    source = f"max_pairs_per_request from {project.origin}"
    if local:
        default = int(request_contract().DEFAULT_MAX_PAIRS_PER_REQUEST)
        if default < configured:
            return default, "the local endpoint's default max_pairs_per_request"
    return configured, source


def texts_per_request(*, labels: int, batch_size: int, cap: int, cap_source: str) -> int:
    """--batch-size texts, or fewer so that texts x labels stays within the pair cap."""
    fitting = cap // labels
    if fitting < 1:
        raise CliError(
            f"--labels: {labels} labels make {labels} pairs for one text, more than the "
            f"{cap} a request may carry ({cap_source}); use fewer labels, or `zstc batch "
            "submit` for large label sets",
            exit_code=2,
        )
    return min(batch_size, fitting)


def _send(
    request: dict[str, Any], *, local: str | None, endpoint_name: str | None, runtime: Any
) -> Any:
    from zstc.endpoint_client import classify

    if local:
        return classify(request=request, local_url=local)
    return classify(request=request, runtime=runtime, endpoint_name=endpoint_name)


def _deployed_endpoint(name: str | None, *, async_timeout: float) -> tuple[Any, str]:
    """The runtime to call and the endpoint's name, for every endpoint mode (the stack's
    EndpointMode output): async requests go through the data bucket and wait for the answer,
    with a progress line on stderr."""
    from zstc.endpoint_client import endpoint_runtime
    from zstc.stack_outputs import EndpointTarget, endpoint_target

    options = settings()
    if name is None:
        target = endpoint_target(
            cloudformation=options.client("cloudformation"),
            stack_prefix=options.resolved_stack_prefix(),
        )
    else:
        # A named endpoint outside the stack is invoked directly (realtime or serverless).
        target = EndpointTarget(name=name, mode="realtime")
    status = stderr_console().status("") if progress_enabled() else None

    def on_wait(message: str) -> None:
        if status is not None:
            status.update(message)
            status.start()

    def on_done() -> None:
        if status is not None:
            status.stop()

    runtime = endpoint_runtime(
        target=target,
        client=options.client,
        timeout_s=async_timeout,
        on_wait=on_wait,
        on_done=on_done,
    )
    return runtime, target.name


@click.command("classify")
@click.argument("text", required=False)
@click.option("--labels", required=True, help="Comma-separated labels, e.g. a,b,c.")
@click.option("--multi-label", is_flag=True, help="Score each label independently.")
@click.option("--template", help="Hypothesis template with {}, e.g. 'This is {}.'")
@click.option(
    "-f",
    "--file",
    "file_",
    metavar="PATH",
    help="Read texts from PATH, one per line ('-' for stdin), sent in batches.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 256),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Texts per request with --file (fewer when texts x labels would pass the "
    "endpoint's max_pairs_per_request).",
)
@click.option("--local", metavar="URL", help="A local endpoint, e.g. localhost:8080.")
@click.option("--endpoint-name", help="Endpoint name (default: from the stack).")
@click.option(
    "--async-timeout",
    type=click.FloatRange(1),
    default=900,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for each answer of an async endpoint.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --output json.")
@global_options
def command(
    text: str | None,
    labels: str,
    multi_label: bool,
    template: str | None,
    file_: str | None,
    batch_size: int,
    local: str | None,
    endpoint_name: str | None,
    async_timeout: float,
    as_json: bool,
) -> int:
    """Classify TEXT (or every line of --file) into the given labels.

    Prints a table of labels and scores per text, or the endpoint's JSON with --output json
    (one JSON document per line with --file).
    """
    from zstc.cli.json_output import echo_json
    from zstc.cli.result_table import render_response, render_responses
    from zstc.endpoint_client import build_request, parse_labels
    from zstc.label_language import language_hint

    options = settings()
    if (text is None) == (file_ is None):
        raise CliError("give TEXT or --file PATH (one of them)", exit_code=2)
    texts = _read_texts(file_) if file_ is not None else [text or ""]
    if file_ is None and not texts[0].strip():
        raise CliError("TEXT: is empty; give the text to classify", exit_code=2)
    label_list = parse_labels(labels)
    hint = language_hint(label_list)
    if hint is not None:
        info(hint)
    # Everything that can be refused is refused before the first request.
    build_request(text=texts[0], labels=label_list, multi_label=multi_label, template=template)
    runtime = None
    name = endpoint_name
    if not local:
        runtime, name = _deployed_endpoint(endpoint_name, async_timeout=async_timeout)
    json_output = as_json or options.json_output
    if file_ is None:
        request = build_request(
            text=texts[0], labels=label_list, multi_label=multi_label, template=template
        )
        response = _send(request, local=local, endpoint_name=name, runtime=runtime)
        if json_output:
            echo_json(response)
        else:
            render_response(response)
        return 0
    cap, cap_source = pair_cap(local=bool(local))
    per_request = texts_per_request(
        labels=len(label_list), batch_size=batch_size, cap=cap, cap_source=cap_source
    )
    if per_request < batch_size and len(texts) > per_request:
        info(
            f"{len(label_list)} labels: {per_request} texts per request, so each stays within "
            f"{cap} (text, label) pairs ({cap_source})"
        )
    batch_size = per_request
    responses: list[Any] = []
    from rich.progress import Progress

    # Transient: once done (or failed) the bar leaves no stale line above the table or error.
    with Progress(
        console=stderr_console(), disable=not progress_enabled(), transient=True
    ) as progress:
        task = progress.add_task("classifying", total=len(texts))
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            request = build_request(
                text=batch[0], labels=label_list, multi_label=multi_label, template=template
            )
            request["inputs"] = batch
            answer = _send(request, local=local, endpoint_name=name, runtime=runtime)
            if not isinstance(answer, list) or len(answer) != len(batch):
                raise CliError(
                    f"lines {start + 1}-{start + len(batch)}: the endpoint answered "
                    f"{len(answer) if isinstance(answer, list) else 'one object'} for "
                    f"{len(batch)} texts"
                )
            for response in answer:
                if json_output:
                    echo_json(response)
                else:
                    responses.append(response)
            progress.advance(task, len(batch))
    if not json_output:
        render_responses(responses)
    return 0

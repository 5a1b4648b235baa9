"""`zstc eval`: measure labels, templates and models on a labelled sample (zstc.evaluation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zstc.cli.context import (
    aws_options,
    output_option,
    progress_enabled,
    settings,
    stderr_console,
    stdout_console,
)


@click.command("eval")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="DIR|TAR|HUB_ID",
    help="Model to run in-process with the container's inference code; repeat to compare. "
    "Default: the bundled all-MiniLM-L6-v2.",
)
@click.option(
    "--sample",
    type=click.Choice(["en", "zh"]),
    help="A bundled labelled sample instead of FILE: en (the default) or zh, the same nine "
    "categories in Chinese.",
)
@click.option("--revision", help="Hub revision for hub --model ids.")
@click.option("--work-dir", type=click.Path(path_type=Path), help="Where models are prepared.")
@click.option("--local", metavar="URL", help="Classify on a local endpoint instead.")
@click.option("--endpoint", is_flag=True, help="Classify on the deployed endpoint instead.")
@click.option("--endpoint-name", help="Deployed endpoint name (implies --endpoint).")
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    metavar="OUT",
    help="Score a finished batch job's output over FILE (zstc batch results); no model.",
)
@click.option(
    "--template", "templates", multiple=True, help="Hypothesis template with {}; repeat to compare."
)
@click.option(
    "--wording",
    "wordings",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="JSON",
    help='Wording sent -> label in FILE, e.g. {"money and saving": "Finance"}; repeat to compare.',
)
@click.option("--labels", help="Candidate labels, e.g. a,b,c (default: FILE's labels).")
@click.option(
    "--threshold", type=float, default=0.5, show_default=True, help="Multi-label threshold."
)
@click.option(
    "--top-k", type=click.IntRange(2), multiple=True, help="Top-k accuracy (default: 2 and 3)."
)
@click.option("--resamples", type=click.IntRange(100), default=2000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option(
    "--report", type=click.Path(path_type=Path), metavar="DIR", help="Write PNGs and report.html."
)
@click.option("--per-text", is_flag=True, help="List every text: predicted against expected.")
@output_option
@aws_options(used="with --endpoint")
def command(file: Path | None, **options: Any) -> int:
    """Classify a labelled sample and report accuracy, macro-F1, top-k, per-label scores, the
    confusion matrix and the worst mistakes.

    FILE holds batch-input lines plus "label" (or "labels", a list, for multi-label); default:
    the bundled New Year's resolutions (--sample zh: the Chinese ones). Several --template,
    --wording and --model values are scored on the same texts and compared with a paired
    bootstrap.
    """
    from zstc.cli_errors import CliError
    from zstc.endpoint_client import parse_labels
    from zstc.evaluation.labelled_sample import BUNDLED_SAMPLES
    from zstc.evaluation.options import EvalOptions, run_eval

    chosen = settings()
    if options["sample"] is not None:
        if file is not None:
            raise CliError("give FILE or --sample, not both", exit_code=2)
        file = BUNDLED_SAMPLES[options["sample"]]

    def open_endpoint() -> tuple[Any, str]:
        # Any endpoint mode: an async endpoint's runtime uploads each request and waits for its
        # answer (zstc.endpoint_client.AsyncEndpointRuntime).
        from zstc.endpoint_client import endpoint_runtime
        from zstc.stack_outputs import EndpointTarget, endpoint_target

        if options["endpoint_name"]:
            target = EndpointTarget(name=options["endpoint_name"], mode="realtime")
        else:
            target = endpoint_target(
                cloudformation=chosen.client("cloudformation"),
                stack_prefix=chosen.resolved_stack_prefix(),
            )
        return endpoint_runtime(target=target, client=chosen.client), target.name

    deployed = options["endpoint"] or options["endpoint_name"]
    return run_eval(
        EvalOptions(
            file=file,
            models=options["models"],
            revision=options["revision"],
            work_dir=options["work_dir"],
            local_url=options["local"],
            open_endpoint=open_endpoint if deployed else None,
            results=options["results"],
            templates=options["templates"],
            wording_files=options["wordings"],
            labels=parse_labels(options["labels"]) if options["labels"] else None,
            threshold=options["threshold"],
            top_k=options["top_k"] or (2, 3),
            resamples=options["resamples"],
            seed=options["seed"],
            output=chosen.output,
            report_dir=options["report"],
            per_text=options["per_text"],
            progress=progress_enabled(),
        ),
        stdout=stdout_console(),
        stderr=stderr_console(),
    )

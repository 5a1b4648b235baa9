"""What `zstc eval` does with its options: the CLI's glue is a call to `run_eval`.

Where the texts are classified, by option:
- --results FILE: nowhere; the output of a finished batch job over the same sample is scored;
- --local URL: a running local endpoint (`zstc local serve`);
- --endpoint: the deployed endpoint (its name from the stack, or --endpoint-name);
- otherwise, in this process, each --model (default: the bundled all-MiniLM-L6-v2) with the
  same inference code the container runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from zstc.cli_errors import CliError
from zstc.evaluation.classifiers import (
    InProcessInference,
    LocalEndpointClassifier,
    SageMakerEndpointClassifier,
)
from zstc.evaluation.labelled_sample import BUNDLED_SAMPLE, read_labelled_sample
from zstc.evaluation.metrics import DEFAULT_THRESHOLD
from zstc.evaluation.report import EvaluationReport, report_as_json
from zstc.evaluation.run import Progress, Target, evaluate, evaluate_batch_output
from zstc.evaluation.wordings import as_written, read_wording

OUTPUT_FORMATS = ("table", "json")


class RichProgressBar(Progress):
    """One bar per configuration on stderr; nothing when stderr is not a terminal."""

    def __init__(self, console: Console) -> None:
        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task: Any = None

    def start(self, description: str, total: int) -> None:
        self._bar.start()
        self._task = self._bar.add_task(description, total=total)

    def advance(self, done: int) -> None:
        self._bar.advance(self._task, done)

    def finish(self) -> None:
        self._bar.stop()
        # The stopped bar's last frame stays on the terminal; the next configuration's bar must
        # not draw this task again (a stale duplicate line under the first).
        self._bar.remove_task(self._task)


@dataclass(kw_only=True)
class EvalOptions:
    file: Path | None = None
    models: Sequence[str] = ()
    revision: str | None = None
    work_dir: Path | None = None
    local_url: str | None = None
    # Returns (sagemaker-runtime client, endpoint name); given for the deployed endpoint.
    open_endpoint: Callable[[], tuple[Any, str]] | None = None
    results: Path | None = None
    templates: Sequence[str] = ()
    wording_files: Sequence[Path] = ()
    labels: Sequence[str] | None = None
    threshold: float = DEFAULT_THRESHOLD
    top_k: Sequence[int] = (2, 3)
    resamples: int = 2000
    seed: int = 0
    output: str = "table"
    report_dir: Path | None = None
    per_text: bool = False
    progress: bool = True


def _in_process_target(model: str | None, *, revision: str | None, work_dir: Path | None) -> Target:
    from zstc.models.model_sources import resolve_model

    resolved = resolve_model(model=model, revision=revision, work_dir=work_dir)
    return Target(
        description=model or "all-MiniLM-L6-v2 (bundled)",
        open=lambda: InProcessInference(resolved.model_dir, description=resolved.description),
    )


def _targets(options: EvalOptions) -> list[Target]:
    remote = [options.local_url is not None, options.open_endpoint is not None]
    if sum(remote) > 1:
        raise CliError("--local and --endpoint are alternatives; give one", exit_code=2)
    if any(remote) and options.models:
        raise CliError(
            "--model: the endpoint serves its own model; --model is for in-process runs",
            exit_code=2,
        )
    if options.local_url is not None:
        url = options.local_url
        return [
            Target(description=f"local endpoint {url}", open=lambda: LocalEndpointClassifier(url))
        ]
    if options.open_endpoint is not None:
        runtime, name = options.open_endpoint()
        return [
            Target(
                description=f"endpoint {name}",
                open=lambda: SageMakerEndpointClassifier(runtime=runtime, endpoint_name=name),
            )
        ]
    models: Sequence[str | None] = options.models or [None]
    if len(set(models)) != len(models):
        raise CliError("--model: the same model is given twice", exit_code=2)
    return [
        _in_process_target(model, revision=options.revision, work_dir=options.work_dir)
        for model in models
    ]


def build_report(options: EvalOptions, *, console: Console) -> EvaluationReport:
    if options.output not in OUTPUT_FORMATS:
        raise CliError(
            f"--output: {options.output!r} is not one of {', '.join(OUTPUT_FORMATS)}", exit_code=2
        )
    if not 0 <= options.threshold <= 1:
        raise CliError(f"--threshold: {options.threshold} must be between 0 and 1", exit_code=2)
    sample = read_labelled_sample(options.file or BUNDLED_SAMPLE, labels=options.labels)
    wordings = [as_written(sample.labels)]
    wordings += [read_wording(path, labels=sample.labels) for path in options.wording_files]
    if len({wording.name for wording in wordings}) != len(wordings):
        raise CliError("--wording: two wordings have the same name; rename a file", exit_code=2)
    if options.results is not None:
        if options.templates or options.models or options.local_url or options.open_endpoint:
            raise CliError(
                "--results: scores a finished batch job as it ran; --template, --model, --local "
                "and --endpoint do not apply",
                exit_code=2,
            )
        if len(wordings) > 2:
            raise CliError(
                "--results: give at most one --wording (the one the job sent)", exit_code=2
            )
        return evaluate_batch_output(
            sample,
            results_path=options.results,
            wording=wordings[-1],
            threshold=options.threshold,
            top_k=options.top_k,
            resamples=options.resamples,
            seed=options.seed,
        )
    show_progress = options.progress and console.is_terminal
    return evaluate(
        sample,
        targets=_targets(options),
        templates=options.templates,
        wordings=wordings,
        threshold=options.threshold,
        top_k=options.top_k,
        resamples=options.resamples,
        seed=options.seed,
        progress=RichProgressBar(console) if show_progress else None,
    )


def run_eval(
    options: EvalOptions, *, stdout: Console | None = None, stderr: Console | None = None
) -> int:
    """Evaluates, prints the tables or the JSON, writes the report; returns the exit code."""
    from zstc.evaluation.terminal_report import print_report

    stdout = stdout or Console()
    stderr = stderr or Console(stderr=True)
    report = build_report(options, console=stderr)
    if options.output == "json":
        stdout.file.write(json.dumps(report_as_json(report), ensure_ascii=False) + "\n")
    else:
        print_report(report, console=stdout, per_text=options.per_text)
    if options.report_dir is not None:
        from zstc.evaluation.report_files import write_report

        files = write_report(report, options.report_dir)
        images = f"{files.confusion_png.name}, {files.comparison_png.name}"
        stderr.print(f"report: {files.html} (images: {images})")
    return 0

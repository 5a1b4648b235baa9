"""`make demo`: zstc end to end on this machine, offline, with a real model.

1. lays out the model like an unpacked model.tar.gz under demo-output/model/ (default: the
   bundled all-MiniLM-L6-v2, embedding mode; --model, or MODEL= with make, takes a directory or
   a hub id): first, so a model that cannot be had (a hub id offline) stops the demo at once;
2. synthesizes the CDK stacks (the real app, no AWS credentials) into demo-output/cdk.out;
3. starts the local endpoint (the container's real model server);
4. classifies the bundled New Year's resolutions, one text at a time and as a JSON Lines batch
   with batch-transform semantics;
5. evaluates the model on the labelled sample through the same endpoint (`zstc eval`): the
   accuracy, predicted against expected for each text with the misses marked, and a comparison
   of three hypothesis templates, with a PNG and HTML report;
6. stops the server (also on Ctrl-C or errors), and prints where the files are and what to try
   next.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zstc.cli_errors import CliError
from zstc.evaluation.labelled_sample import BUNDLED_SAMPLE as LABELLED_SAMPLE
from zstc.evaluation.metrics import SingleLabelMetrics
from zstc.evaluation.report import EvaluationReport
from zstc.evaluation.report_files import ReportFiles
from zstc.label_language import language_hint
from zstc.reference_categories import REFERENCE_CATEGORIES

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
SAMPLE_FILE = PACKAGE_DIR / "data" / "new_years_resolutions.jsonl"
DEFAULT_OUTPUT_DIR = REPO_ROOT / "demo-output"
CDK_CLI = REPO_ROOT / "node_modules" / ".bin" / "cdk"
CATEGORIES = REFERENCE_CATEGORIES
SYNTH_TIMEOUT_S = 600.0
# Tables printed in the one-at-a-time step; every text is still classified and saved.
SHOWN_ONE_AT_A_TIME = 3
# The templates the demo compares; the first is the server's default.
DEMO_TEMPLATES = (
    "This example is {}.",
    "This text is about {}.",
    "The goal of this New Year's resolution is {}.",
)
# {zstc} is the zstc command of this environment, as it can be typed here (zstc_command()).
NEXT_COMMANDS = (
    ("{zstc} eval", "the labelled sample, in-process, with the bundled model"),
    (
        "{zstc} eval MY.jsonl --template 'This text is about {{}}.' --template 'Topic: {{}}.' "
        "--report eval-report",
        "your own labelled texts; compare templates",
    ),
    ("{zstc} eval MY.jsonl --wording plain.json", "compare label wordings"),
    ("{zstc} eval MY.jsonl --model DIR --model DIR2", "compare models"),
    ("{zstc} local serve", "serve the model locally; then `{zstc} eval --local URL`"),
    ("make deploy && {zstc} eval --endpoint", "the same measurement on the deployed endpoint"),
    (
        "{zstc} batch results JOB -o out.jsonl && {zstc} eval MY.jsonl --results out.jsonl",
        "score a finished batch job, no model needed",
    ),
)


def _say(message: str) -> None:
    from zstc.cli.context import wrap_prose

    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    print(wrap_prose(message, width=width), flush=True)


def zstc_command(*, cwd: Path | None = None, path: str | None = None) -> tuple[str, str | None]:
    """The zstc command of this Python environment as it can be typed in `cwd`, and, where plain
    `zstc` would not run it, how to put it on PATH.

    `make demo` runs .venv/bin/python; its zstc is .venv/bin/zstc, which is on PATH only in an
    activated venv. A bare `zstc` that finds another installation would run other code.
    """
    script = Path(sys.executable).parent / "zstc"
    found = shutil.which("zstc", path=path)
    if found is not None and Path(found).resolve() == script.resolve():
        return "zstc", None
    here = (cwd or Path.cwd()).resolve()
    try:
        shown = os.path.join(".", str(script.relative_to(here)))
    except ValueError:
        shown = str(script)
    activate = script.parent / "activate"
    hint = (
        f"(or put zstc on PATH for this shell: source {os.path.relpath(activate, here)})"
        if activate.is_file()
        else f"(or add {script.parent} to PATH)"
    )
    return shlex.quote(shown), hint


@contextmanager
def step(title: str, *, say: Callable[[str], None] = _say) -> Iterator[None]:
    """Prints the step, then how long it took (or that it failed)."""
    say(f"\n==> {title}")
    started = time.monotonic()
    try:
        yield
    except BaseException:
        say(f"    failed after {time.monotonic() - started:.1f}s")
        raise
    say(f"    done in {time.monotonic() - started:.1f}s")


def load_sample(path: Path = SAMPLE_FILE) -> list[dict[str, Any]]:
    """The bundled sample texts: one {"id", "inputs"} object per line."""
    records = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        record = json.loads(line)
        if not isinstance(record, dict) or not isinstance(record.get("inputs"), str):
            raise ValueError(f"{path}: line {line_number} has no string 'inputs'")
        records.append(record)
    return records


# -- 1. synth ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SynthesizedStack:
    name: str
    template: Path


def stacks_in_manifest(cdk_out: Path) -> list[SynthesizedStack]:
    """The CloudFormation stacks of a cloud assembly, from its manifest.json."""
    manifest = json.loads((cdk_out / "manifest.json").read_text(encoding="utf-8"))
    stacks = []
    for artifact_id, artifact in sorted(manifest.get("artifacts", {}).items()):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = artifact.get("properties", {}).get(
            "templateFile", f"{artifact_id}.template.json"
        )
        name = artifact.get("displayName") or artifact_id
        stacks.append(SynthesizedStack(name=name, template=cdk_out / template))
    return stacks


def synthesize(
    *, cdk_out: Path, cdk_cli: Path = CDK_CLI, timeout_s: float = SYNTH_TIMEOUT_S
) -> list[SynthesizedStack]:
    """Runs the real CDK app through the pinned CDK CLI (no credentials needed)."""
    if not cdk_cli.is_file():
        raise CliError(f"{cdk_cli}: the CDK CLI is not installed; run `make install`")
    env = dict(os.environ)
    # The pinned Node.js from package.json comes first, so jsii never runs on an old Node.
    env["PATH"] = f"{cdk_cli.parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    cdk_out.parent.mkdir(parents=True, exist_ok=True)
    log = cdk_out.parent / "cdk-synth.log"
    command = [str(cdk_cli), "synth", "--quiet", "--output", str(cdk_out)]
    try:
        with log.open("wb") as log_file:
            completed = subprocess.run(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                check=False,
            )
    except subprocess.TimeoutExpired as error:
        raise CliError(f"cdk synth did not finish within {timeout_s:g}s; see {log}") from error
    if completed.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise CliError(f"cdk synth failed (exit {completed.returncode}); see {log}:\n{tail}")
    return stacks_in_manifest(cdk_out)


# -- 2. model ---------------------------------------------------------------------------------


def _is_hub_id(model: str) -> bool:
    return not Path(model).expanduser().exists() and "/" in model


def model_dir_name(model: str | None) -> str:
    if model is None:
        return "all-MiniLM-L6-v2"
    if not _is_hub_id(model):
        return Path(model).expanduser().resolve().name
    return model.replace("/", "--")


def hub_failure_message(model: str, error: Exception) -> str:
    """Why a hub model cannot be had, and what to do in the demo's own terms (MODEL=)."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    cause = error.__cause__
    if isinstance(cause, LocalEntryNotFoundError):
        why = "it is not in the local Hugging Face cache, and the hub cannot be reached"
    else:
        why = str(error)
    return (
        f"MODEL={model} (--model): cannot get it from the Hugging Face hub: {why}. Offline, "
        "run `make demo` without MODEL= (the bundled all-MiniLM-L6-v2), or set MODEL= to a "
        "local model directory"
    )


def lay_out_model(*, model: str | None, revision: str | None, models_dir: Path) -> tuple[Path, str]:
    """Lays out the model like the unpacked model.tar.gz; returns (model dir, description).

    Each model gets its own folder, so files of a model used earlier never mix in.
    """
    from zstc.models.artifact import ModelArtifactError, prepare_model_dir
    from zstc.models.hub_snapshot import HubDownloadError
    from zstc.models.model_sources import bundled_model_dir, is_unpacked_archive

    target = models_dir / model_dir_name(model)
    try:
        if model is None:
            source = bundled_model_dir()
            return prepare_model_dir(
                target, weights_dir=source
            ), "all-MiniLM-L6-v2 (bundled; embedding mode)"
        path = Path(model).expanduser()
        if path.is_dir():
            if is_unpacked_archive(path):
                # Already laid out; its own code/ is what the user wants served.
                return path.resolve(), str(path)
            return prepare_model_dir(target, weights_dir=path.resolve()), str(path)
        revision = revision or "main"
        return prepare_model_dir(
            target, hub_model_id=model, hub_revision=revision
        ), f"{model}@{revision} (Hugging Face hub)"
    except HubDownloadError as error:
        if model is not None and _is_hub_id(model):
            raise CliError(hub_failure_message(model, error), exit_code=2) from error
        raise CliError(f"--model: {error}", exit_code=2) from error
    except ModelArtifactError as error:
        raise CliError(f"--model: {error}", exit_code=2) from error


# -- 4. classify ------------------------------------------------------------------------------


def classify_one_by_one(
    *,
    url: str,
    records: Sequence[dict[str, Any]],
    labels: Sequence[str],
    top: int,
    shown: int = SHOWN_ONE_AT_A_TIME,
) -> list[dict[str, Any]]:
    """One real-time request per text, the first `shown` printed as tables; returns them all."""
    from rich.padding import Padding

    from zstc.cli.context import stdout_console
    from zstc.cli.result_table import response_table
    from zstc.endpoint_client import build_request, classify

    console = stdout_console()

    responses = []
    for record in records:
        request = build_request(
            text=record["inputs"], labels=list(labels), multi_label=False, template=None
        )
        response = classify(request=request, local_url=url)
        responses.append({"id": record.get("id"), **response})
        if len(responses) > shown:
            continue
        best = {**response, "labels": response["labels"][:top], "scores": response["scores"][:top]}
        _say(f"\n[{record.get('id')}] {record['inputs']}")
        console.print(Padding(response_table(best, bar_width=20), (0, 0, 0, 4), expand=False))
    if len(responses) > shown:
        _say(f"\n    ... and {len(responses) - shown} more, all saved (see Files below)")
    return responses


def write_batch_input(
    *, records: Sequence[dict[str, Any]], labels: Sequence[str], path: Path
) -> int:
    """The sample as a batch file, labels filled in as `zstc batch submit --labels` does."""
    from zstc.batch.jsonl_validation import validate_lines

    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    result = validate_lines(lines, policy="refuse", default_labels=list(labels))
    if result.refused:
        raise CliError(f"the demo's own sample failed validation: {result.problems[0].describe()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in result.lines), encoding="utf-8")
    return len(result.lines)


def top_labels_agree(*, single: Sequence[dict[str, Any]], batch_output: Path) -> tuple[int, int]:
    """How many texts got the same top label in the batch as one at a time."""
    batch = [json.loads(line) for line in batch_output.read_text(encoding="utf-8").splitlines()]
    same = sum(
        1
        for one, many in zip(single, batch, strict=True)
        if "labels" in many and one["labels"][0] == many["labels"][0]
    )
    return same, len(single)


# -- 5. evaluate ------------------------------------------------------------------------------


def bundled_model_language_hint(*, model: str | None, labels: Sequence[str]) -> str | None:
    """The bundled all-MiniLM-L6-v2 knows English only; a model the user names may know more,
    so only the bundled one gets the hint (zstc.label_language)."""
    if model is not None:
        return None
    return language_hint(labels, model="the demo's model, the bundled all-MiniLM-L6-v2,")


def evaluate_on_labelled_sample(
    *, url: str, sample: Path, report_dir: Path
) -> tuple[EvaluationReport, ReportFiles]:
    """`zstc eval --local URL` over the labelled sample with the demo's templates; prints the
    default template's accuracy and every text, then the comparison, and writes the report."""
    from zstc.cli.context import stdout_console
    from zstc.evaluation.classifiers import LocalEndpointClassifier
    from zstc.evaluation.labelled_sample import read_labelled_sample
    from zstc.evaluation.report_files import write_report
    from zstc.evaluation.run import Target, evaluate
    from zstc.evaluation.terminal_report import comparison_table, per_text_table
    from zstc.evaluation.wordings import as_written

    labelled = read_labelled_sample(sample)
    evaluation = evaluate(
        labelled,
        targets=[
            Target(description=f"local endpoint {url}", open=lambda: LocalEndpointClassifier(url))
        ],
        templates=DEMO_TEMPLATES,
        wordings=[as_written(labelled.labels)],
    )
    default = evaluation.results[0]
    metrics = default.metrics
    assert isinstance(metrics, SingleLabelMetrics)  # the bundled sample is single-label
    right = round(metrics.accuracy * metrics.examples)
    console = stdout_console()
    _say(
        f"    accuracy with the default template {DEMO_TEMPLATES[0]!r}: {metrics.accuracy:.3f} "
        f"({right} of {metrics.examples} right; chance is 1 in {len(labelled.labels)}), "
        f"macro-F1 {metrics.macro_f1:.3f}"
    )
    console.print(per_text_table(evaluation, default))
    console.print(comparison_table(evaluation))
    _say(f"    {evaluation.comparison.verdict()}")
    report = write_report(evaluation, report_dir)
    _say(f"    report: {report.html}")
    return evaluation, report


# -- the demo ---------------------------------------------------------------------------------


def print_next_commands() -> None:
    """What to try next, with the zstc of this environment; commands are never folded, so one
    copied from the terminal runs as it is."""
    _say("\nNext, try:")
    zstc, path_hint = zstc_command()
    for command, purpose in NEXT_COMMANDS:
        print(f"    {command.format(zstc=zstc)}", flush=True)
        _say(f"        {purpose.format(zstc=zstc)}")
    if path_hint is not None:
        _say(f"    {path_hint}")


@dataclass(frozen=True, kw_only=True)
class DemoResult:
    stacks: list[SynthesizedStack]
    model_dir: Path
    single_results: Path
    batch_input: Path
    batch_output: Path
    agreeing_top_labels: int
    texts: int
    evaluation: EvaluationReport
    report: ReportFiles
    failed_steps: list[str]


def run_demo(
    *,
    model: str | None = None,
    revision: str | None = None,
    output_dir: Path = DEFAULT_OUTPUT_DIR,
    port: int | None = None,
    synth: bool = True,
    top: int = 3,
    sample: Path = SAMPLE_FILE,
    labelled_sample: Path = LABELLED_SAMPLE,
) -> DemoResult:
    from zstc.cli.context import stderr_console
    from zstc.local.batch import run_local_batch
    from zstc.local.endpoint import LocalEndpoint, LocalEndpointError, find_free_port

    started = time.monotonic()
    failed: list[str] = []
    stacks: list[SynthesizedStack] = []
    output_dir = output_dir.resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    # The model first: a model that cannot be had stops the demo before synth spends its time.
    with step("1/6 laying out the model like an unpacked model.tar.gz"):
        model_dir, description = lay_out_model(
            model=model, revision=revision, models_dir=output_dir / "model"
        )
        _say(f"    model: {description}\n    dir:   {model_dir}")

    if synth:
        try:
            with step("2/6 synthesizing the CDK stacks (real app, no AWS credentials)"):
                stacks = synthesize(cdk_out=output_dir / "cdk.out")
                for stack in stacks:
                    _say(f"    {stack.name:<20} {stack.template}")
        except CliError as error:
            # The offline classification does not depend on the templates: go on, but the
            # demo ends with a non-zero exit and says which step failed.
            _say(f"    synth failed: {error}")
            failed.append("synth")
    else:
        _say("\n==> 2/6 synthesizing the CDK stacks: skipped (--skip-synth)")

    records = load_sample(sample)
    endpoint = LocalEndpoint(model_dir, port=port or find_free_port(), log_dir=output_dir / "logs")
    with step("3/6 starting the local endpoint (multi-model-server + the toolkit's handler)"):
        try:
            endpoint.start()
        except LocalEndpointError as error:
            raise CliError(str(error)) from error
        _say(f"    serving at {endpoint.url}; server log {endpoint.server_log}")
    try:
        single_path = output_dir / "single-results.jsonl"
        with step(f"4/6 (a) classifying {len(records)} texts one at a time (real-time requests)"):
            single = classify_one_by_one(
                url=endpoint.url, records=records, labels=CATEGORIES, top=top
            )
            single_path.write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in single),
                encoding="utf-8",
            )
        batch_input = output_dir / "batch-input.jsonl"
        batch_output = output_dir / "batch-output.jsonl"
        with step(f"4/6 (b) classifying the same {len(records)} texts as one JSON Lines batch"):
            write_batch_input(records=records, labels=CATEGORIES, path=batch_input)
            summary = run_local_batch(
                input_path=batch_input,
                output_path=batch_output,
                url=endpoint.url,
                progress=stderr_console(),
            )
            _say(f"    {summary.describe()}")
            same, total = top_labels_agree(single=single, batch_output=batch_output)
            _say(f"    batch and one-at-a-time agree on the top label for {same} of {total} texts")
        with step("5/6 evaluating on the labelled sample through the same endpoint (zstc eval)"):
            from zstc.evaluation.labelled_sample import read_labelled_sample

            hint = bundled_model_language_hint(
                model=model, labels=read_labelled_sample(labelled_sample).labels
            )
            if hint is not None:
                _say(f"    {hint}")
            evaluation, report = evaluate_on_labelled_sample(
                url=endpoint.url, sample=labelled_sample, report_dir=output_dir / "eval-report"
            )
    finally:
        with step("6/6 stopping the local endpoint"):
            endpoint.stop()

    _say("\nFiles:")
    if stacks:
        _say(f"    templates:          {output_dir / 'cdk.out'}")
    _say(f"    model dir:          {model_dir}")
    _say(f"    one-at-a-time:      {single_path}")
    _say(f"    batch input/output: {batch_input}\n                        {batch_output}")
    _say(f"    server log:         {output_dir / 'logs'}")
    _say(f"    eval report:        {report.html}")
    _say(f"                        {report.confusion_png}")
    _say(f"                        {report.comparison_png}")
    print_next_commands()
    outcome = "finished" if not failed else f"finished with failed step(s): {', '.join(failed)}"
    _say(f"\nDemo {outcome} in {time.monotonic() - started:.1f}s")
    return DemoResult(
        stacks=stacks,
        model_dir=model_dir,
        single_results=single_path,
        batch_input=batch_input,
        batch_output=batch_output,
        agreeing_top_labels=same,
        texts=total,
        evaluation=evaluation,
        report=report,
        failed_steps=failed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m zstc.demo",
        description="Offline demo: synthesize the stacks, serve a model locally, classify "
        "the bundled New Year's resolutions one at a time and as a batch, and evaluate the "
        "model on the labelled sample (zstc eval).",
    )
    parser.add_argument(
        "--model",
        help="model directory or Hugging Face id, e.g. facebook/bart-large-mnli (needs hub "
        "access; default: the bundled all-MiniLM-L6-v2, embedding mode)",
    )
    parser.add_argument("--revision", help="hub revision for a hub --model (default: main)")
    parser.add_argument(
        "--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="default: demo-output/"
    )
    parser.add_argument("--port", type=int, help="local endpoint port (default: a free one)")
    parser.add_argument("--skip-synth", action="store_true", help="skip the CDK synth step")
    parser.add_argument("--top", type=int, default=3, help="labels shown per text (default 3)")
    parser.add_argument(
        "--labelled-sample",
        type=Path,
        default=LABELLED_SAMPLE,
        help="labelled sample for the evaluation step (default: the bundled English one; "
        "zstc/data/new_years_resolutions_labelled_zh.jsonl is the Chinese one)",
    )
    args = parser.parse_args(argv)
    try:
        result = run_demo(
            model=args.model,
            revision=args.revision,
            output_dir=args.output_dir,
            port=args.port,
            synth=not args.skip_synth,
            top=args.top,
            labelled_sample=args.labelled_sample,
        )
    except CliError as error:
        print(f"demo: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("demo: interrupted; the local endpoint was stopped", file=sys.stderr)
        return 130
    return 0 if not result.failed_steps else 1


if __name__ == "__main__":
    sys.exit(main())

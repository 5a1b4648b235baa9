"""`zstc eval`: every configuration on the same sample, scored, compared and reported.

A configuration is one model x one hypothesis template x one label wording. The CLI and the demo
call `evaluate` (classify) or `evaluate_batch_output` (a finished batch job, no model at all).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zstc.cli_errors import CliError
from zstc.evaluation.classifiers import JsonLinesClassifier
from zstc.evaluation.comparison import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Comparison,
    compare,
)
from zstc.evaluation.evaluation_run import predictions_from_output_lines, run_configuration
from zstc.evaluation.labelled_sample import LabelledExample, LabelledSample
from zstc.evaluation.metrics import (
    DEFAULT_THRESHOLD,
    LabelPrediction,
    Mistake,
    MultiLabelMetrics,
    SingleLabelMetrics,
    multi_label_metrics,
    per_example_scores,
    single_label_metrics,
    worst_mistakes,
)
from zstc.evaluation.wordings import Wording

# What the server uses when a request names no template (DESIGN.md, request contract).
DEFAULT_TEMPLATE = "This example is {}."
WORST_MISTAKES = 5


@dataclass(frozen=True, kw_only=True)
class Target:
    """A place to classify: its description, and how to open it (a model loads only when used)."""

    description: str
    open: Callable[[], JsonLinesClassifier]


@dataclass(frozen=True, kw_only=True)
class ConfigurationResult:
    name: str
    model: str
    template: str
    wording: str
    metrics: SingleLabelMetrics | MultiLabelMetrics
    predictions: tuple[LabelPrediction, ...]
    mistakes: tuple[Mistake, ...]
    seconds: float

    @property
    def headline(self) -> float:
        """The compared score: accuracy, or the mean per-text F1 for multi-label."""
        metrics = self.metrics
        return metrics.accuracy if isinstance(metrics, SingleLabelMetrics) else metrics.samples_f1


@dataclass(frozen=True, kw_only=True)
class TextOutcome:
    example: LabelledExample
    # The top label (single-label) or the labels at or above the threshold, with scores.
    predicted: tuple[tuple[str, float], ...]
    error: str | None
    right: bool

    def describe_prediction(self) -> str:
        if self.error is not None:
            return f"error: {self.error}"
        return ", ".join(f"{label} ({score:.2f})" for label, score in self.predicted) or "(none)"


@dataclass(frozen=True, kw_only=True)
class EvaluationReport:
    sample: LabelledSample
    source: str
    results: tuple[ConfigurationResult, ...]
    comparison: Comparison

    @property
    def headline_name(self) -> str:
        return "per-text F1" if self.sample.multi_label else "accuracy"

    def result(self, name: str) -> ConfigurationResult:
        return next(result for result in self.results if result.name == name)

    @property
    def leader(self) -> ConfigurationResult:
        """The top-ranked configuration (marked best only when comparison.best says so)."""
        return self.result(self.comparison.ranking[0].name)

    def outcomes(self, result: ConfigurationResult) -> Iterator[TextOutcome]:
        """Each text's expected and predicted labels, and whether the prediction is right."""
        metrics = result.metrics
        for example, prediction in zip(self.sample.examples, result.predictions, strict=True):
            if prediction.error is not None:
                chosen: tuple[str, ...] = ()
            elif isinstance(metrics, MultiLabelMetrics):
                chosen = tuple(
                    label
                    for label in prediction.ranked
                    if prediction.scores[label] >= metrics.threshold
                )
            else:
                chosen = prediction.ranked[:1]
            yield TextOutcome(
                example=example,
                predicted=tuple((label, prediction.scores[label]) for label in chosen),
                error=prediction.error,
                right=prediction.error is None and set(chosen) == set(example.true_labels),
            )


class Progress:
    """What the run reports as it goes; the CLI draws a bar, tests and scripts pass nothing."""

    def start(self, description: str, total: int) -> None:
        del description, total

    def advance(self, done: int) -> None:
        del done

    def finish(self) -> None:
        pass


def _names(
    models: Sequence[str], templates: Sequence[str], wordings: Sequence[str]
) -> Iterator[tuple[str, str, str, str]]:
    """(name, model, template, wording) for each configuration; names hold what varies."""
    for model in models:
        for template in templates:
            for wording in wordings:
                parts = []
                if len(models) > 1:
                    parts.append(model)
                if len(templates) > 1 or (len(models) == 1 and len(wordings) == 1):
                    parts.append(repr(template))
                if len(wordings) > 1:
                    parts.append(f"labels {wording}")
                yield " | ".join(parts), model, template, wording


def _score(
    sample: LabelledSample,
    predictions: Sequence[LabelPrediction],
    *,
    threshold: float,
    top_k: Sequence[int],
) -> tuple[SingleLabelMetrics | MultiLabelMetrics, list[Mistake]]:
    truths = [example.true_labels for example in sample.examples]
    metrics: SingleLabelMetrics | MultiLabelMetrics
    if sample.multi_label:
        metrics = multi_label_metrics(
            true_labels=truths, predictions=predictions, labels=sample.labels, threshold=threshold
        )
    else:
        metrics = single_label_metrics(
            true_labels=[truth[0] for truth in truths],
            predictions=predictions,
            labels=sample.labels,
            top_k=top_k,
        )
    mistakes = worst_mistakes(
        texts=[(example.line_number, example.text) for example in sample.examples],
        true_labels=truths,
        predictions=predictions,
        multi_label=sample.multi_label,
        threshold=threshold,
        limit=WORST_MISTAKES,
    )
    return metrics, mistakes


def _report(
    sample: LabelledSample,
    source: str,
    results: list[ConfigurationResult],
    *,
    resamples: int,
    confidence: float,
    seed: int,
) -> EvaluationReport:
    comparison = compare(
        {result.name: per_example_scores(result.metrics) for result in results},
        resamples=resamples,
        confidence=confidence,
        seed=seed,
    )
    return EvaluationReport(
        sample=sample, source=source, results=tuple(results), comparison=comparison
    )


@contextmanager
def _progress_bar(progress: Progress, description: str, total: int) -> Iterator[Progress]:
    progress.start(description, total)
    try:
        yield progress
    finally:
        progress.finish()


def evaluate(
    sample: LabelledSample,
    *,
    targets: Sequence[Target],
    templates: Sequence[str] = (),
    wordings: Sequence[Wording],
    threshold: float = DEFAULT_THRESHOLD,
    top_k: Sequence[int] = (2, 3),
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
) -> EvaluationReport:
    """Classifies the sample under every configuration and compares them."""
    if not targets or not wordings:
        raise ValueError("evaluate: needs at least one target and one wording")
    for template in templates:
        if "{}" not in template:
            raise CliError(
                f"--template: {template!r} has no '{{}}' where the label goes; expected e.g. "
                f"{DEFAULT_TEMPLATE!r}",
                exit_code=2,
            )
    if len(set(templates)) != len(templates):
        raise CliError("--template: the same template is given twice", exit_code=2)
    progress = progress or Progress()
    shown_templates = list(templates) or [DEFAULT_TEMPLATE]
    wording_by_name = {wording.name: wording for wording in wordings}
    configurations = list(
        _names([target.description for target in targets], shown_templates, list(wording_by_name))
    )
    results: list[ConfigurationResult] = []
    for target in targets:
        classifier = target.open()
        for name, model, template, wording_name in configurations:
            if model != target.description:
                continue
            started = time.monotonic()
            with _progress_bar(progress, name or template, len(sample.examples)) as bar:
                predictions = run_configuration(
                    classifier,
                    sample,
                    # No --template: each line's own template, else the server's default.
                    template=template if templates else None,
                    wording=wording_by_name[wording_name],
                    advance=bar.advance,
                )
            metrics, mistakes = _score(sample, predictions, threshold=threshold, top_k=top_k)
            results.append(
                ConfigurationResult(
                    name=name,
                    model=model,
                    template=template,
                    wording=wording_name,
                    metrics=metrics,
                    predictions=tuple(predictions),
                    mistakes=tuple(mistakes),
                    seconds=time.monotonic() - started,
                )
            )
        del classifier  # one model in memory at a time
    source = ", ".join(target.description for target in targets)
    return _report(sample, source, results, resamples=resamples, confidence=confidence, seed=seed)


def evaluate_batch_output(
    sample: LabelledSample,
    *,
    results_path: Path,
    wording: Wording,
    threshold: float = DEFAULT_THRESHOLD,
    top_k: Sequence[int] = (2, 3),
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> EvaluationReport:
    """Scores a finished batch job's output (`zstc batch results -o FILE`); classifies nothing."""
    if not results_path.is_file():
        raise CliError(f"--results: {results_path} does not exist or is not a file", exit_code=2)
    try:
        lines = results_path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"--results: cannot read {results_path} ({error})", exit_code=2) from error
    started = time.monotonic()
    predictions = predictions_from_output_lines(
        lines, sample=sample, wording=wording, source=str(results_path)
    )
    metrics, mistakes = _score(sample, predictions, threshold=threshold, top_k=top_k)
    result = ConfigurationResult(
        name=f"batch output {results_path.name}",
        model="(batch job)",
        template="(as sent in the job)",
        wording=wording.name,
        metrics=metrics,
        predictions=tuple(predictions),
        mistakes=tuple(mistakes),
        seconds=time.monotonic() - started,
    )
    return _report(
        sample,
        f"batch output {results_path}",
        [result],
        resamples=resamples,
        confidence=confidence,
        seed=seed,
    )


def report_as_json(report: EvaluationReport) -> dict[str, Any]:
    """Everything the terminal shows, for scripts (`--output json`)."""
    from dataclasses import asdict

    comparison = report.comparison
    return {
        "sample": str(report.sample.path),
        "texts": len(report.sample.examples),
        "multi_label": report.sample.multi_label,
        "labels": list(report.sample.labels),
        "source": report.source,
        "compared_on": report.headline_name,
        "best": comparison.best,
        "verdict": comparison.verdict(),
        "comparison": {
            "ranking": [asdict(entry) for entry in comparison.ranking],
            "lead": comparison.lead,
            "lead_interval": asdict(comparison.lead_interval) if comparison.lead_interval else None,
            "confidence": comparison.confidence,
            "interval_method": comparison.interval_method,
            "lead_interval_method": "paired percentile bootstrap",
            "resamples": comparison.resamples,
            "seed": comparison.seed,
        },
        "configurations": [
            {
                "name": result.name,
                "model": result.model,
                "template": result.template,
                "wording": result.wording,
                "seconds": round(result.seconds, 3),
                "metrics": {
                    key: value
                    for key, value in asdict(result.metrics).items()
                    if key != "per_example"
                },
                "worst_mistakes": [asdict(mistake) for mistake in result.mistakes],
                "predictions": [
                    {
                        "line": example.line_number,
                        "id": example.record_id,
                        "expected": list(example.true_labels),
                        "predicted": list(prediction.ranked[:3]),
                        "scores": [prediction.scores[label] for label in prediction.ranked[:3]],
                        "error": prediction.error,
                    }
                    for example, prediction in zip(
                        report.sample.examples, result.predictions, strict=True
                    )
                ],
            }
            for result in report.results
        ],
    }

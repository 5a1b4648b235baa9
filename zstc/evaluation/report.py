"""The result of `zstc eval`: every configuration's scores, predictions and comparison.

`run` builds it; `terminal_report`, `report_files` and `report_as_json` (here) show it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from zstc.evaluation.comparison import Comparison
from zstc.evaluation.labelled_sample import LabelledExample, LabelledSample
from zstc.evaluation.metrics import (
    LabelPrediction,
    Mistake,
    MultiLabelMetrics,
    SingleLabelMetrics,
)


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

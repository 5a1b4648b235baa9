"""Classification metrics, in plain numpy, with scikit-learn's definitions.

The definitions follow scikit-learn's (sklearn.metrics: accuracy_score, f1_score with
average="macro", precision_recall_fscore_support, confusion_matrix, top_k_accuracy_score,
precision_recall_curve; https://scikit-learn.org/stable/modules/model_evaluation.html), and the
tests check equality with scikit-learn on fixed inputs. scikit-learn is not needed at run time.

Conventions:
- a ratio with a zero denominator is 0 (scikit-learn's zero_division=0), e.g. the precision of a
  label that was never predicted;
- macro averages run over every label of the evaluation (scikit-learn's labels=...);
- a text the model failed on (an error line) has no prediction: it counts as a miss, never as
  left out, so errors cannot flatter a score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

NO_ANSWER = "(no answer)"
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True, kw_only=True)
class LabelPrediction:
    """One text's answer, in the file's labels: ranked best first, with each label's score."""

    ranked: tuple[str, ...]
    scores: Mapping[str, float]
    error: str | None = None

    @property
    def top(self) -> str | None:
        return self.ranked[0] if self.ranked else None


@dataclass(frozen=True, kw_only=True)
class LabelScores:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, kw_only=True)
class ConfusionMatrix:
    """counts[i][j]: texts whose true label is labels[i] and whose top label is columns[j]."""

    labels: tuple[str, ...]
    columns: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]


@dataclass(frozen=True, kw_only=True)
class Mistake:
    line_number: int
    text: str
    true_labels: tuple[str, ...]
    # The labels the model gave (top one, or all above the threshold) with their scores.
    predicted: tuple[tuple[str, float], ...]
    error: str | None
    # How sure the model was of what it got wrong (0 for a failed text, which sorts first).
    confidence: float


@dataclass(frozen=True, kw_only=True)
class SingleLabelMetrics:
    examples: int
    errors: int
    accuracy: float
    macro_f1: float
    top_k_accuracy: Mapping[int, float]
    per_label: tuple[LabelScores, ...]
    confusion: ConfusionMatrix
    # 1.0 for each text whose top label is right, else 0.0: what the bootstrap resamples.
    per_example: tuple[float, ...]


@dataclass(frozen=True, kw_only=True)
class MultiLabelMetrics:
    examples: int
    errors: int
    threshold: float
    micro_f1: float
    macro_f1: float
    samples_f1: float
    per_label: tuple[LabelScores, ...]
    best_threshold: float
    best_micro_f1: float
    # counts[i][j]: texts with true label i among whose predicted labels is j.
    confusion: ConfusionMatrix
    # Each text's own F1 (1.0 when it has no true label and none is predicted).
    per_example: tuple[float, ...]


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return _ratio(2 * precision * recall, precision + recall)


def _label_scores(
    labels: Sequence[str], true_matrix: np.ndarray, predicted_matrix: np.ndarray
) -> tuple[LabelScores, ...]:
    """Per-label precision, recall, F1 and support from 0/1 matrices (texts x labels)."""
    true_positive = (true_matrix & predicted_matrix).sum(axis=0)
    predicted = predicted_matrix.sum(axis=0)
    support = true_matrix.sum(axis=0)
    rows = []
    for index, label in enumerate(labels):
        precision = _ratio(true_positive[index], predicted[index])
        recall = _ratio(true_positive[index], support[index])
        rows.append(
            LabelScores(
                label=label,
                precision=precision,
                recall=recall,
                f1=_f1(precision, recall),
                support=int(support[index]),
            )
        )
    return tuple(rows)


def single_label_metrics(
    *,
    true_labels: Sequence[str],
    predictions: Sequence[LabelPrediction],
    labels: Sequence[str],
    top_k: Sequence[int] = (2, 3),
) -> SingleLabelMetrics:
    if len(true_labels) != len(predictions) or not true_labels:
        raise ValueError("single_label_metrics: needs one prediction per true label, at least one")
    index_of = {label: index for index, label in enumerate(labels)}
    count = len(true_labels)
    true_matrix = np.zeros((count, len(labels)), dtype=bool)
    predicted_matrix = np.zeros((count, len(labels)), dtype=bool)
    for row, (truth, prediction) in enumerate(zip(true_labels, predictions, strict=True)):
        true_matrix[row, index_of[truth]] = True
        if prediction.top is not None:
            predicted_matrix[row, index_of[prediction.top]] = True
    correct = [
        float(prediction.top == truth)
        for truth, prediction in zip(true_labels, predictions, strict=True)
    ]
    per_label = _label_scores(labels, true_matrix, predicted_matrix)
    errors = sum(1 for prediction in predictions if prediction.top is None)
    columns = tuple(labels) + ((NO_ANSWER,) if errors else ())
    column_of = {label: index for index, label in enumerate(columns)}
    counts = np.zeros((len(labels), len(columns)), dtype=int)
    for truth, prediction in zip(true_labels, predictions, strict=True):
        counts[index_of[truth], column_of[prediction.top or NO_ANSWER]] += 1
    top_k_accuracy = {
        k: float(
            np.mean(
                [
                    truth in prediction.ranked[:k]
                    for truth, prediction in zip(true_labels, predictions, strict=True)
                ]
            )
        )
        for k in top_k
        if k < len(labels)
    }
    return SingleLabelMetrics(
        examples=count,
        errors=errors,
        accuracy=float(np.mean(correct)),
        macro_f1=float(np.mean([row.f1 for row in per_label])),
        top_k_accuracy=top_k_accuracy,
        per_label=per_label,
        confusion=ConfusionMatrix(
            labels=tuple(labels),
            columns=columns,
            counts=tuple(tuple(int(c) for c in row) for row in counts),
        ),
        per_example=tuple(correct),
    )


def best_threshold(true_matrix: np.ndarray, score_matrix: np.ndarray) -> tuple[float, float]:
    """The threshold t that maximises micro-F1 of "score >= t" over every (text, label) decision.

    Every distinct score is a candidate, as in scikit-learn's precision_recall_curve over the
    flattened decisions. Among equal F1s the highest threshold wins: as good, with the fewest
    labels predicted. Returns (threshold, micro-F1 there).
    """
    truth = true_matrix.ravel().astype(bool)
    scores = score_matrix.ravel().astype(float)
    positives = int(truth.sum())
    if positives == 0:
        # No true label anywhere: predicting nothing is right, and any threshold above every
        # score does it.
        return float(np.nextafter(scores.max(), np.inf)), 0.0
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores = scores[order]
    true_positives = np.cumsum(truth[order])
    # The last position of each distinct score: "score >= t" takes everything up to there.
    last_of_each = np.flatnonzero(np.r_[sorted_scores[1:] != sorted_scores[:-1], True])
    predicted = last_of_each + 1
    hits = true_positives[last_of_each]
    f1 = 2 * hits / (predicted + positives)
    best = int(np.argmax(f1))  # the first, so the highest threshold, among equal F1s
    return float(sorted_scores[last_of_each[best]]), float(f1[best])


def multi_label_metrics(
    *,
    true_labels: Sequence[Sequence[str]],
    predictions: Sequence[LabelPrediction],
    labels: Sequence[str],
    threshold: float = DEFAULT_THRESHOLD,
) -> MultiLabelMetrics:
    if len(true_labels) != len(predictions) or not true_labels:
        raise ValueError("multi_label_metrics: needs one prediction per text, at least one")
    index_of = {label: index for index, label in enumerate(labels)}
    count = len(true_labels)
    true_matrix = np.zeros((count, len(labels)), dtype=bool)
    # A failed text scores 0 for every label: nothing predicted, every true label missed.
    score_matrix = np.zeros((count, len(labels)), dtype=float)
    for row, (truth, prediction) in enumerate(zip(true_labels, predictions, strict=True)):
        for label in truth:
            true_matrix[row, index_of[label]] = True
        for label, score in prediction.scores.items():
            score_matrix[row, index_of[label]] = score
    predicted_matrix = score_matrix >= threshold
    failed = np.array([prediction.error is not None for prediction in predictions])
    predicted_matrix[failed] = False
    per_label = _label_scores(labels, true_matrix, predicted_matrix)
    hits = (true_matrix & predicted_matrix).sum()
    micro_f1 = _ratio(2 * hits, true_matrix.sum() + predicted_matrix.sum())
    per_example = []
    for truth_row, predicted_row in zip(true_matrix, predicted_matrix, strict=True):
        wanted = truth_row.sum() + predicted_row.sum()
        per_example.append(_ratio(2 * (truth_row & predicted_row).sum(), wanted) if wanted else 1.0)
    threshold_found, best_f1 = best_threshold(true_matrix, score_matrix)
    return MultiLabelMetrics(
        examples=count,
        errors=int(failed.sum()),
        threshold=threshold,
        micro_f1=micro_f1,
        macro_f1=float(np.mean([row.f1 for row in per_label])),
        samples_f1=float(np.mean(per_example)),
        per_label=per_label,
        best_threshold=threshold_found,
        best_micro_f1=best_f1,
        confusion=ConfusionMatrix(
            labels=tuple(labels),
            columns=tuple(labels),
            counts=tuple(
                tuple(int(c) for c in row)
                for row in true_matrix.astype(int).T @ predicted_matrix.astype(int)
            ),
        ),
        per_example=tuple(per_example),
    )


def worst_mistakes(
    *,
    texts: Sequence[tuple[int, str]],
    true_labels: Sequence[Sequence[str]],
    predictions: Sequence[LabelPrediction],
    multi_label: bool,
    threshold: float = DEFAULT_THRESHOLD,
    limit: int = 5,
) -> list[Mistake]:
    """The texts the model got wrong, the most confidently wrong first.

    Single-label: the confidence is the wrong top label's score. Multi-label: the largest
    distance from the threshold among its wrong decisions. Failed texts come first.
    """
    mistakes = []
    for (line_number, text), truth, prediction in zip(texts, true_labels, predictions, strict=True):
        if prediction.error is not None:
            mistakes.append(
                Mistake(
                    line_number=line_number,
                    text=text,
                    true_labels=tuple(truth),
                    predicted=(),
                    error=prediction.error,
                    confidence=0.0,
                )
            )
            continue
        if multi_label:
            chosen = {label for label, score in prediction.scores.items() if score >= threshold}
            wrong = chosen.symmetric_difference(truth)
            if not wrong:
                continue
            confidence = max(abs(prediction.scores.get(label, 0.0) - threshold) for label in wrong)
            predicted = tuple(
                (label, prediction.scores[label]) for label in prediction.ranked if label in chosen
            )
        else:
            top = prediction.ranked[0]
            if top == truth[0]:
                continue
            confidence = prediction.scores[top]
            predicted = ((top, confidence),)
        mistakes.append(
            Mistake(
                line_number=line_number,
                text=text,
                true_labels=tuple(truth),
                predicted=predicted,
                error=None,
                confidence=confidence,
            )
        )
    mistakes.sort(key=lambda mistake: (mistake.error is None, -mistake.confidence))
    return mistakes[:limit]


def per_example_scores(metrics: SingleLabelMetrics | MultiLabelMetrics) -> np.ndarray:
    return np.asarray(metrics.per_example, dtype=float)

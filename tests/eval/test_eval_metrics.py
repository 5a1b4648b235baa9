"""The eval metrics equal scikit-learn's (sklearn.metrics) on fixed and on generated inputs.

scikit-learn is the reference here only; zstc computes the metrics in numpy at run time.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)
from sklearn.preprocessing import MultiLabelBinarizer

from zstc.evaluation.metrics import (
    NO_ANSWER,
    LabelPrediction,
    SingleLabelMetrics,
    best_threshold,
    multi_label_metrics,
    single_label_metrics,
    worst_mistakes,
)

LABELS = ["Health", "Career", "Finance", "Leisure"]
# Four labels, twelve texts: every label has support, one is never predicted (Leisure), one is
# over-predicted (Career), so zero-division and macro averaging are exercised. No row has tied
# scores: the order of tied labels is a convention, and not what these tests compare.
TRUE = ["Health", "Health", "Health", "Career", "Career", "Finance", "Finance", "Finance",
        "Leisure", "Leisure", "Career", "Health"]  # fmt: skip
SCORES = np.array(
    [
        [0.70, 0.10, 0.15, 0.05],
        [0.20, 0.50, 0.19, 0.11],
        [0.40, 0.35, 0.15, 0.10],
        [0.10, 0.80, 0.05, 0.05],
        [0.05, 0.25, 0.60, 0.10],
        [0.10, 0.20, 0.65, 0.05],
        [0.15, 0.45, 0.30, 0.10],
        [0.05, 0.05, 0.85, 0.05],
        [0.30, 0.35, 0.06, 0.29],
        [0.50, 0.10, 0.10, 0.30],
        [0.20, 0.55, 0.15, 0.10],
        [0.25, 0.30, 0.35, 0.10],
    ]
)


def _prediction(row: np.ndarray, labels: list[str] = LABELS) -> LabelPrediction:
    scores = {label: float(score) for label, score in zip(labels, row, strict=True)}
    return LabelPrediction(
        ranked=tuple(sorted(scores, key=lambda label: -scores[label])), scores=scores
    )


def _top(row: np.ndarray) -> str:
    return LABELS[int(np.argmax(row))]


@pytest.fixture(scope="module")
def single() -> SingleLabelMetrics:
    return single_label_metrics(
        true_labels=TRUE, predictions=[_prediction(row) for row in SCORES], labels=LABELS
    )


def test_accuracy_and_macro_f1_equal_scikit_learn(single: SingleLabelMetrics) -> None:
    predicted = [_top(row) for row in SCORES]
    assert single.accuracy == pytest.approx(accuracy_score(TRUE, predicted))
    expected_macro = f1_score(TRUE, predicted, labels=LABELS, average="macro", zero_division=0)
    assert single.macro_f1 == pytest.approx(expected_macro)
    # The fixed case is not degenerate: some texts are wrong and one label is never predicted.
    assert 0 < single.accuracy < 1 and "Leisure" not in predicted


def test_per_label_precision_recall_f1_and_support_equal_scikit_learn(
    single: SingleLabelMetrics,
) -> None:
    predicted = [_top(row) for row in SCORES]
    precision, recall, f1, support = precision_recall_fscore_support(
        TRUE, predicted, labels=LABELS, zero_division=0
    )
    rows = single.per_label
    assert [row.label for row in rows] == LABELS
    assert [row.precision for row in rows] == pytest.approx(list(precision))
    assert [row.recall for row in rows] == pytest.approx(list(recall))
    assert [row.f1 for row in rows] == pytest.approx(list(f1))
    assert [row.support for row in rows] == list(support)


def test_confusion_matrix_equals_scikit_learn(single: SingleLabelMetrics) -> None:
    predicted = [_top(row) for row in SCORES]
    confusion = single.confusion
    assert confusion.labels == tuple(LABELS) == confusion.columns
    assert np.array_equal(confusion.counts, confusion_matrix(TRUE, predicted, labels=LABELS))


def test_top_k_accuracy_equals_scikit_learn(single: SingleLabelMetrics) -> None:
    # scikit-learn wants the score columns in sorted label order.
    order = np.argsort(LABELS)
    for k in (2, 3):
        expected = top_k_accuracy_score(TRUE, SCORES[:, order], k=k, labels=sorted(LABELS))
        assert single.top_k_accuracy[k] == pytest.approx(expected)


def test_a_failed_text_is_a_miss_in_its_own_column_not_left_out() -> None:
    predictions = [_prediction(row) for row in SCORES]
    predictions[0] = LabelPrediction(ranked=(), scores={}, error="boom")
    metrics = single_label_metrics(true_labels=TRUE, predictions=predictions, labels=LABELS)
    predicted = [NO_ANSWER] + [_top(row) for row in SCORES[1:]]
    assert metrics.errors == 1
    assert metrics.accuracy == pytest.approx(accuracy_score(TRUE, predicted))
    _, recall, _, _ = precision_recall_fscore_support(
        TRUE, predicted, labels=LABELS, zero_division=0
    )
    assert [row.recall for row in metrics.per_label] == pytest.approx(list(recall))
    assert metrics.confusion.columns[-1] == NO_ANSWER
    assert metrics.confusion.counts[0][-1] == 1


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.integers(0, 4),
            st.lists(st.integers(0, 1000), min_size=5, max_size=5, unique=True),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_single_label_metrics_equal_scikit_learn_on_any_sample(
    data: list[tuple[int, list[int]]],
) -> None:
    labels = ["a", "b", "c", "d", "e"]
    truth = [labels[index] for index, _ in data]
    scores = np.array([row for _, row in data], dtype=float) / 1000
    predictions = [_prediction(row, labels) for row in scores]
    predicted = [labels[int(np.argmax(row))] for row in scores]
    metrics = single_label_metrics(
        true_labels=truth, predictions=predictions, labels=labels, top_k=(2,)
    )
    assert metrics.accuracy == pytest.approx(accuracy_score(truth, predicted))
    assert metrics.macro_f1 == pytest.approx(
        f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)
    )
    assert np.array_equal(
        metrics.confusion.counts, confusion_matrix(truth, predicted, labels=labels)
    )
    assert metrics.top_k_accuracy[2] == pytest.approx(
        top_k_accuracy_score(truth, scores, k=2, labels=labels)
    )


MULTI_TRUE = [["Health"], ["Health", "Leisure"], [], ["Career", "Finance"], ["Finance"],
              ["Leisure"], ["Career"], ["Health", "Finance"]]  # fmt: skip
MULTI_SCORES = np.array(
    [
        [0.91, 0.12, 0.33, 0.46],
        [0.62, 0.08, 0.18, 0.44],
        [0.21, 0.57, 0.09, 0.14],
        [0.15, 0.73, 0.52, 0.05],
        [0.11, 0.27, 0.39, 0.07],
        [0.48, 0.03, 0.02, 0.81],
        [0.06, 0.66, 0.54, 0.13],
        [0.71, 0.24, 0.49, 0.17],
    ]
)


def _indicators(sets: list[list[str]]) -> np.ndarray:
    return MultiLabelBinarizer(classes=LABELS).fit_transform(sets)


def test_multi_label_scores_at_the_threshold_equal_scikit_learn() -> None:
    metrics = multi_label_metrics(
        true_labels=MULTI_TRUE,
        predictions=[_prediction(row) for row in MULTI_SCORES],
        labels=LABELS,
        threshold=0.5,
    )
    truth = _indicators(MULTI_TRUE)
    predicted = (MULTI_SCORES >= 0.5).astype(int)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, zero_division=0
    )
    assert [row.precision for row in metrics.per_label] == pytest.approx(list(precision))
    assert [row.recall for row in metrics.per_label] == pytest.approx(list(recall))
    assert [row.f1 for row in metrics.per_label] == pytest.approx(list(f1))
    assert [row.support for row in metrics.per_label] == list(support)
    assert metrics.micro_f1 == pytest.approx(
        f1_score(truth, predicted, average="micro", zero_division=0)
    )
    assert metrics.macro_f1 == pytest.approx(
        f1_score(truth, predicted, average="macro", zero_division=0)
    )
    # A text with no true label and nothing predicted is fully right (zero_division=1 there).
    assert metrics.samples_f1 == pytest.approx(
        f1_score(truth, predicted, average="samples", zero_division=1)
    )
    assert np.array_equal(metrics.confusion.counts, truth.T @ predicted)


def _reference_best_threshold(truth: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """scikit-learn's precision-recall curve over every (text, label) decision, argmax of F1."""
    precision, recall, thresholds = precision_recall_curve(truth.ravel(), scores.ravel())
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    best = int(np.argmax(f1))
    return float(thresholds[best]), float(f1[best])


def test_threshold_search_equals_scikit_learns_precision_recall_curve() -> None:
    truth = _indicators(MULTI_TRUE)
    found, f1 = best_threshold(truth, MULTI_SCORES)
    expected_threshold, expected_f1 = _reference_best_threshold(truth, MULTI_SCORES)
    assert (found, f1) == pytest.approx((expected_threshold, expected_f1))
    # The threshold really gives that micro-F1, and it is better than the default 0.5 here.
    predicted = np.greater_equal(MULTI_SCORES, found).astype(int)
    assert f1_score(truth, predicted, average="micro") == pytest.approx(f1)
    assert f1 > f1_score(truth, (MULTI_SCORES >= 0.5).astype(int), average="micro")


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.lists(st.booleans(), min_size=3, max_size=3),
            st.lists(st.integers(0, 20), min_size=3, max_size=3),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_threshold_search_equals_scikit_learn_on_any_sample(
    rows: list[tuple[list[bool], list[int]]],
) -> None:
    truth = np.array([flags for flags, _ in rows], dtype=int)
    # Coarse scores, so ties between decisions are common.
    scores = np.array([values for _, values in rows], dtype=float) / 20
    if truth.sum() == 0:
        return  # no positive anywhere: scikit-learn's curve is undefined (recall 0/0)
    found, f1 = best_threshold(truth, scores)
    _, expected_f1 = _reference_best_threshold(truth, scores)
    assert f1 == pytest.approx(expected_f1)
    # Where several thresholds tie, any of them is as good: the one found must reach that F1.
    assert f1_score(truth, (scores >= found).astype(int), average="micro") == pytest.approx(f1)


def test_worst_mistakes_put_failures_first_then_the_most_confident_miss() -> None:
    predictions = [_prediction(row) for row in SCORES]
    predictions[3] = LabelPrediction(ranked=(), scores={}, error="too long")
    mistakes = worst_mistakes(
        texts=[(number, f"text {number}") for number in range(1, len(TRUE) + 1)],
        true_labels=[[label] for label in TRUE],
        predictions=predictions,
        multi_label=False,
        limit=3,
    )
    assert [mistake.line_number for mistake in mistakes] == [4, 5, 2]
    assert mistakes[0].error == "too long"
    assert mistakes[1].predicted == (("Finance", 0.6),)
    assert mistakes[1].true_labels == ("Career",)

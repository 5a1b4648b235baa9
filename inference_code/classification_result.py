"""What a classifier returns for one text: ranked labels with scores, or why it failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from request_contract import TextTask


@dataclass(frozen=True, kw_only=True)
class Classification:
    """The response object of the contract: labels sorted by score, highest first."""

    sequence: str
    labels: tuple[str, ...]
    scores: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"sequence": self.sequence, "labels": list(self.labels), "scores": list(self.scores)}


@dataclass(frozen=True, kw_only=True)
class TaskFailure:
    """A text that could not be classified; in JSON Lines it becomes that line's error."""

    message: str


Outcome = Classification | TaskFailure


class ZeroShotClassifier(Protocol):
    """What the inference handler (and the benchmark) needs from either classifier kind."""

    kind: str

    def classify_tasks(self, tasks: Sequence[TextTask]) -> list[Outcome]: ...

    def classify(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        hypothesis_template: str = ...,
        multi_label: bool = ...,
    ) -> list[dict[str, Any]]: ...


def ranked(*, sequence: str, labels: Sequence[str], scores: np.ndarray) -> Classification:
    """Sorts labels by score exactly as the pipeline does, ties included (reversed argsort)."""
    order = list(reversed(scores.argsort()))
    return Classification(
        sequence=sequence,
        labels=tuple(labels[index] for index in order),
        scores=tuple(float(scores[index]) for index in order),
    )


def results_or_raise(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """Result dicts for callers that want an exception, not a failure object, for a bad text."""
    results = []
    for outcome in outcomes:
        if isinstance(outcome, TaskFailure):
            raise ValueError(outcome.message)
        results.append(outcome.to_dict())
    return results

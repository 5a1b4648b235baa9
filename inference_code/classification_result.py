"""What a classifier returns for one text: ranked labels with scores, or why it failed."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from request_contract import (
    DEFAULT_HYPOTHESIS_TEMPLATE,
    ClassificationParameters,
    TextTask,
    bounded_message,
)
from request_deadline import Deadline


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
    """A text that could not be classified; in JSON Lines it becomes that line's error.

    server_error: the failure is the server's (already logged with the server error marker),
    not the caller's; a JSON request then fails as a server error, not as a bad request.
    """

    message: str
    server_error: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", bounded_message(self.message))


Outcome = Classification | TaskFailure


class ZeroShotClassifier(ABC):
    """What the inference handler (and the benchmark) needs from either classifier kind."""

    kind: str

    @abstractmethod
    def classify_tasks(
        self, tasks: Sequence[TextTask], *, deadline: Deadline | None = None
    ) -> list[Outcome]:
        """One outcome per task, in order; a text that cannot be classified fails alone.

        deadline: checked between token batches; DeadlineExceeded abandons the whole call.
        """

    def classify(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        hypothesis_template: str = DEFAULT_HYPOTHESIS_TEMPLATE,
        multi_label: bool = False,
    ) -> list[dict[str, Any]]:
        """The public entry point for scripts and benchmarks: one result dict per text."""
        parameters = ClassificationParameters(
            candidate_labels=tuple(labels),
            multi_label=multi_label,
            hypothesis_template=hypothesis_template,
        )
        return results_or_raise(
            self.classify_tasks([TextTask(text=text, parameters=parameters) for text in texts])
        )


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

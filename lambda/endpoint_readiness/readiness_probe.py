"""The readiness probe: one tiny classification request, and what a correct answer looks like.

The request has the shape of the SageMaker JumpStart zero-shot request that the endpoint serves
(README, "Request and response"); the answer to one string is one object whose labels are the
candidate labels sorted by score, highest first, with single-label scores that sum to 1.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

PROBE_TEXT = "The battery of this phone lasts two full days and the screen stays bright."
PROBE_LABELS = ("technology", "cooking", "travel")
PROBE_CONTENT_TYPE = "application/json"
# Single-label scores are a softmax; fp16 or bf16 inference rounds them, so allow a little.
SCORE_SUM_TOLERANCE = 1e-2


def probe_request_body() -> bytes:
    """The JSON request body the readiness check sends."""
    request = {
        "inputs": PROBE_TEXT,
        "parameters": {"candidate_labels": list(PROBE_LABELS), "multi_label": False},
    }
    return json.dumps(request).encode("utf-8")


def _is_score(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0.0 <= value <= 1.0
    )


def answer_problem(body: bytes) -> str | None:
    """What is wrong with the endpoint's answer to the probe, or None when it is correct."""
    try:
        answer = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"the answer is not JSON: {error}"
    if not isinstance(answer, dict):
        return f"expected one JSON object for one input text, got {type(answer).__name__}"
    if answer.get("sequence") != PROBE_TEXT:
        return f"sequence: expected the probe text, got {answer.get('sequence')!r}"
    labels, scores = answer.get("labels"), answer.get("scores")
    if not isinstance(labels, list) or sorted(labels) != sorted(PROBE_LABELS):
        return f"labels: expected each of {list(PROBE_LABELS)} once, got {labels!r}"
    if not isinstance(scores, list) or len(scores) != len(labels):
        return f"scores: expected {len(labels)} scores, one per label, got {scores!r}"
    if not all(_is_score(score) for score in scores):
        return f"scores: expected numbers between 0 and 1, got {scores!r}"
    if any(later > earlier for earlier, later in itertools.pairwise(scores)):
        return f"labels are not sorted by score, highest first: scores {scores!r}"
    total = math.fsum(scores)
    if abs(total - 1.0) > SCORE_SUM_TOLERANCE:
        return f"scores: single-label scores must sum to 1, they sum to {total:.4f}"
    return None

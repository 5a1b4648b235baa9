"""Serializing predictions: a JSON object or list, or one JSON Lines line per input line.

The response format follows the request format: a JSON Lines request always gets JSON Lines
back, one line per input line in input order, since batch transform (AssembleWith=Line) relies
on that. The toolkit sets the response Content-Type header to the request's Accept header, so
JSON Lines callers (and transform jobs) should send Accept: application/jsonlines.

JSON Lines output lines carry the input line's "id" (null when it had none), then either the
classification ("sequence", "labels", "scores") or "error".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from request_contract import RequestError

_ACCEPTABLE_MEDIA_TYPES = (
    "application/json",
    "application/jsonlines",
    "application/x-jsonlines",
    "application/jsonl",
    "application/*",
    "*/*",
)


@dataclass(frozen=True, kw_only=True)
class JsonPrediction:
    results: tuple[dict[str, Any], ...]
    inputs_is_list: bool


@dataclass(frozen=True, kw_only=True)
class JsonLinesPrediction:
    lines: tuple[dict[str, Any], ...]


Prediction = JsonPrediction | JsonLinesPrediction


def check_accept(accept: str | None) -> None:
    """Rejects an Accept header that allows neither JSON nor JSON Lines."""
    if not accept:
        return
    media_types = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if not any(media_type in _ACCEPTABLE_MEDIA_TYPES for media_type in media_types):
        raise RequestError(
            f"Accept {accept!r} is not supported: use application/json (JSON requests) or "
            "application/jsonlines (JSON Lines requests)"
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def encode_prediction(*, prediction: Prediction, accept: str | None) -> str:
    check_accept(accept)
    if isinstance(prediction, JsonLinesPrediction):
        return "".join(_dumps(line) + "\n" for line in prediction.lines)
    if prediction.inputs_is_list:
        return _dumps(list(prediction.results))
    return _dumps(prediction.results[0])

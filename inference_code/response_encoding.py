"""Serializing predictions: a JSON object or list, or one JSON Lines line per input line.

The response format follows the request format: a JSON Lines request always gets JSON Lines
back, one line per input line in input order, since batch transform relies on that.

The response Content-Type is not ours to set: the toolkit labels every successful response with
the request's Accept header as it came, or application/json when there is none or it is */*
(sagemaker-huggingface-inference-toolkit 2.6.0, handler_service.py, HuggingFaceHandlerService
.handle: `context.set_response_content_type(0, accept)` after output_fn returned). The `accept`
output_fn receives is that same value. So the body is only sent when that label is the body's
real media type: application/json for JSON requests, application/jsonlines for JSON Lines
requests (optionally with charset=utf-8). Anything else, such as "application/*", a list of
types, or a JSON Lines request without Accept: application/jsonlines, is a 400 that says what to
send, rather than a body under a wrong or made-up Content-Type.

JSON Lines output lines carry the input line's "id" (null when it had none), then either the
classification ("sequence", "labels", "scores") or "error". The body has no newline after its
last line: batch transform with AssembleWith=Line adds one after each payload's response, so a
trailing newline of our own would leave a blank line in the .out file between payloads
(docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformOutput.html, AssembleWith).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from request_contract import (
    JSON_CONTENT_TYPE,
    JSON_LINES_CONTENT_TYPE,
    RequestError,
    escape_lone_surrogates,
)

# The toolkit's stand-in for a missing Accept header (content_types.JSON in the toolkit).
TOOLKIT_DEFAULT_ACCEPT = JSON_CONTENT_TYPE


@dataclass(frozen=True, kw_only=True)
class JsonPrediction:
    results: tuple[dict[str, Any], ...]
    inputs_is_list: bool


@dataclass(frozen=True, kw_only=True)
class JsonLinesPrediction:
    lines: tuple[dict[str, Any], ...]


Prediction = JsonPrediction | JsonLinesPrediction


def media_type_of(prediction: Prediction) -> str:
    """The media type of the body encode_prediction writes for this prediction."""
    if isinstance(prediction, JsonLinesPrediction):
        return JSON_LINES_CONTENT_TYPE
    return JSON_CONTENT_TYPE


def check_accept(accept: str | None, *, media_type: str) -> None:
    """Rejects an Accept header that the toolkit would copy into a wrong Content-Type."""
    label = accept or TOOLKIT_DEFAULT_ACCEPT
    requested, _, parameters = label.partition(";")
    names_media_type = requested.strip().lower() == media_type and "," not in label
    only_utf8 = all(
        parameter.replace(" ", "").lower() in ("charset=utf-8", 'charset="utf-8"')
        for parameter in parameters.split(";")
        if parameter.strip()
    )
    if names_media_type and only_utf8:
        return
    request_kind = "JSON Lines" if media_type == JSON_LINES_CONTENT_TYPE else "JSON"
    raise RequestError(
        f"Accept {accept!r} does not fit the response to a {request_kind} request, which is "
        f"{media_type}: the model server labels the response with the Accept header as sent "
        f"(application/json when there is none or it is */*). Send Accept: {media_type}"
    )


def _dumps(value: Any) -> str:
    encoded = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return escape_lone_surrogates(encoded)


def encode_prediction(*, prediction: Prediction, accept: str | None) -> str:
    check_accept(accept, media_type=media_type_of(prediction))
    if isinstance(prediction, JsonLinesPrediction):
        return "\n".join(_dumps(line) for line in prediction.lines)
    if prediction.inputs_is_list:
        return _dumps(list(prediction.results))
    return _dumps(prediction.results[0])

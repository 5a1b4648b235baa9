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

Response size: multi-model-server refuses a worker reply larger than max_response_size
(mms 1.1.11, ConfigManager.getMaxResponseSize: `getIntProperty(MMS_MAX_RESPONSE_SIZE,
6553500)`; WorkerThread decodes the reply with ModelResponseDecoder(maxResponseSize), which
fails with "Message size exceed limit"), answers HTTP 500 "Worker died." and restarts the
worker, about 5 s without service. The environment variable MMS_MAX_RESPONSE_SIZE sets it
(the toolkit enables enable_envvars_config). An answer that would not fit is refused here
instead: a 400 that names the limit, and the worker lives on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
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
MAX_RESPONSE_SIZE_ENV = "MMS_MAX_RESPONSE_SIZE"
MMS_DEFAULT_MAX_RESPONSE_BYTES = 6_553_500


def max_response_bytes_from_env(environ: Mapping[str, str] | None = None) -> int:
    """MMS's response limit as the model server reads it: MMS_MAX_RESPONSE_SIZE or 6,553,500."""
    environ = os.environ if environ is None else environ
    raw = environ.get(MAX_RESPONSE_SIZE_ENV, "").strip()
    if not raw:
        return MMS_DEFAULT_MAX_RESPONSE_BYTES
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ValueError(f"{MAX_RESPONSE_SIZE_ENV}={raw!r} is not allowed: use a positive integer")
    return limit


def check_response_size(body: str, *, max_response_bytes: int) -> None:
    size = len(body.encode("utf-8"))
    if size > max_response_bytes:
        raise RequestError(
            f"the answer would be {size} bytes, more than the model server's response limit "
            f"of {max_response_bytes} bytes ({MAX_RESPONSE_SIZE_ENV}, multi-model-server's "
            "max_response_size): send fewer records, texts or labels per request"
        )


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


def encode_prediction(
    *,
    prediction: Prediction,
    accept: str | None,
    max_response_bytes: int = MMS_DEFAULT_MAX_RESPONSE_BYTES,
) -> str:
    check_accept(accept, media_type=media_type_of(prediction))
    if isinstance(prediction, JsonLinesPrediction):
        body = "\n".join(_dumps(line) for line in prediction.lines)
    elif prediction.inputs_is_list:
        body = _dumps(list(prediction.results))
    else:
        body = _dumps(prediction.results[0])
    check_response_size(body, max_response_bytes=max_response_bytes)
    return body

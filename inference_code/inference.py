"""The entry points the SageMaker Hugging Face inference toolkit loads from code/inference.py.

model_fn -> input_fn -> predict_fn -> output_fn; each does one step. The toolkit puts code/ at
the front of sys.path before importing this module, so the sibling modules import as top-level
modules. The toolkit turns any exception here into HTTP 400 with str(exception) as the message
(sagemaker-huggingface-inference-toolkit 2.6.0, handler_service.py, handle). So:
- a caller's mistake is a RequestError whose message names the problem;
- anything else is the server's failure: logged once with SERVER_ERROR_MARKER (see
  server_error_log.py) and answered with a fixed message, never the exception's text.

Environment: ZSTC_MODEL_ID, ZSTC_MODEL_REVISION, ZSTC_MODEL_KIND, ZSTC_PRECISION,
ZSTC_MAX_BATCH_TOKENS, ZSTC_MAX_CANDIDATE_LABELS, ZSTC_MAX_PAIRS_PER_REQUEST (see
model_loading.py, precision.py, token_batching.py and request_contract.py); from the container:
SAGEMAKER_BATCH (set in transform jobs: JSON Lines payloads are then bounded by MaxPayloadInMB,
not by the real-time cap), SAGEMAKER_MODEL_SERVER_TIMEOUT[_SECONDS] (request_deadline.py) and
MMS_MAX_RESPONSE_SIZE (response_encoding.py).

One worker process serves one request at a time (mms 1.1.11, model_service_worker.py handles
its socket's messages in a loop), so the deadline of the request in progress is kept here
between input_fn and predict_fn.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from classification_result import TaskFailure, ZeroShotClassifier
from model_loading import load_classifier_from_env
from request_contract import (
    JsonLinesRequest,
    ParsedRequest,
    RequestError,
    compact_line_error,
    max_candidate_labels_from_env,
    max_pairs_per_request_from_env,
    parse_request,
)
from request_deadline import Deadline
from response_encoding import (
    JsonLinesPrediction,
    JsonPrediction,
    Prediction,
    encode_prediction,
    max_response_bytes_from_env,
)
from server_error_log import ServerError, log_server_error
from toolkit_body_decoding import take_over_body_decoding

# Bodies of every content type reach input_fn as bytes (toolkit_body_decoding.py).
take_over_body_decoding()
BATCH_ENV = "SAGEMAKER_BATCH"

_current_deadline: Deadline | None = None


def in_batch_transform() -> bool:
    """SageMaker sets SAGEMAKER_BATCH=true in a transform job's container
    (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-batch-code.html)."""
    return os.environ.get(BATCH_ENV, "").strip().lower() == "true"


@contextmanager
def server_errors_logged(stage: str) -> Iterator[None]:
    """Lets a RequestError through as it is; logs anything else once, as a server error."""
    try:
        yield
    except (RequestError, ServerError):
        raise
    except Exception as error:
        log_server_error(stage=stage, error=error)
        raise ServerError() from None


def model_fn(model_dir: str, context: Any = None) -> ZeroShotClassifier:
    try:
        # Fail at start-up, not on every request, when a limit is misconfigured.
        max_candidate_labels_from_env()
        max_pairs_per_request_from_env()
        max_response_bytes_from_env()
        gpu_id = None
        if context is not None and getattr(context, "system_properties", None):
            raw_gpu_id = context.system_properties.get("gpu_id")
            gpu_id = int(raw_gpu_id) if raw_gpu_id is not None else None
        return load_classifier_from_env(model_dir=model_dir, gpu_id=gpu_id)
    except Exception as error:
        # A model that cannot load is the server's failure, so it is marked for the alarm; the
        # exception itself goes on unchanged, since its message (a ModelLoadError names the
        # model directory and what is missing) is what the operator starting the server needs.
        log_server_error(stage="model_fn", error=error)
        raise


def input_fn(input_data: bytes | str, content_type: str | None) -> ParsedRequest:
    global _current_deadline
    # The model server's clock for this request started when the worker received it.
    _current_deadline = Deadline.from_env()
    with server_errors_logged("input_fn"):
        return parse_request(
            body=input_data,
            content_type=content_type,
            max_candidate_labels=max_candidate_labels_from_env(),
            max_pairs_per_request=max_pairs_per_request_from_env(),
            cap_json_lines=not in_batch_transform(),
        )


def _take_deadline() -> Deadline:
    global _current_deadline
    deadline, _current_deadline = _current_deadline, None
    return deadline or Deadline.from_env()


def predict_fn(data: ParsedRequest, model: ZeroShotClassifier) -> Prediction:
    deadline = _take_deadline()
    with server_errors_logged("predict_fn"):
        if isinstance(data, JsonLinesRequest):
            return predict_json_lines(request=data, model=model, deadline=deadline)
        outcomes = model.classify_tasks(data.tasks, deadline=deadline)
        results = []
        for outcome in outcomes:
            if isinstance(outcome, TaskFailure):
                # Logged where it happened when it is the server's failure.
                raise ServerError() if outcome.server_error else RequestError(outcome.message)
            results.append(outcome.to_dict())
        return JsonPrediction(results=tuple(results), inputs_is_list=data.inputs_is_list)


def predict_json_lines(
    *, request: JsonLinesRequest, model: ZeroShotClassifier, deadline: Deadline
) -> Prediction:
    """Classifies all good lines in one batched call; bad lines keep their error, in place."""
    positions = [index for index, record in enumerate(request.records) if record.task is not None]
    tasks = [request.records[index].task for index in positions]
    outcomes = model.classify_tasks([task for task in tasks if task is not None], deadline=deadline)
    outcome_at = dict(zip(positions, outcomes, strict=True))
    lines: list[dict[str, Any]] = []
    for index, record in enumerate(request.records):
        outcome = outcome_at.get(index)
        if outcome is None:
            lines.append({"id": record.record_id, "error": record.error})
        elif isinstance(outcome, TaskFailure):
            message = compact_line_error(outcome.message, source_bytes=record.source_bytes)
            lines.append({"id": record.record_id, "error": message})
        else:
            lines.append({"id": record.record_id, **outcome.to_dict()})
    return JsonLinesPrediction(lines=tuple(lines))


def output_fn(prediction: Prediction, accept: str | None) -> str:
    with server_errors_logged("output_fn"):
        return encode_prediction(
            prediction=prediction, accept=accept, max_response_bytes=max_response_bytes_from_env()
        )

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
model_loading.py, precision.py, token_batching.py and request_contract.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from classification_result import TaskFailure, ZeroShotClassifier
from model_loading import load_classifier_from_env
from request_contract import (
    JsonLinesRequest,
    ParsedRequest,
    RequestError,
    max_candidate_labels_from_env,
    max_pairs_per_request_from_env,
    parse_request,
)
from response_encoding import JsonLinesPrediction, JsonPrediction, Prediction, encode_prediction
from server_error_log import ServerError, log_server_error


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
    with server_errors_logged("input_fn"):
        return parse_request(
            body=input_data,
            content_type=content_type,
            max_candidate_labels=max_candidate_labels_from_env(),
            max_pairs_per_request=max_pairs_per_request_from_env(),
        )


def predict_fn(data: ParsedRequest, model: ZeroShotClassifier) -> Prediction:
    with server_errors_logged("predict_fn"):
        if isinstance(data, JsonLinesRequest):
            return predict_json_lines(request=data, model=model)
        outcomes = model.classify_tasks(data.tasks)
        results = []
        for outcome in outcomes:
            if isinstance(outcome, TaskFailure):
                # Logged where it happened when it is the server's failure.
                raise ServerError() if outcome.server_error else RequestError(outcome.message)
            results.append(outcome.to_dict())
        return JsonPrediction(results=tuple(results), inputs_is_list=data.inputs_is_list)


def predict_json_lines(*, request: JsonLinesRequest, model: ZeroShotClassifier) -> Prediction:
    """Classifies all good lines in one batched call; bad lines keep their error, in place."""
    positions = [index for index, record in enumerate(request.records) if record.task is not None]
    tasks = [request.records[index].task for index in positions]
    outcomes = model.classify_tasks([task for task in tasks if task is not None])
    outcome_at = dict(zip(positions, outcomes, strict=True))
    lines: list[dict[str, Any]] = []
    for index, record in enumerate(request.records):
        outcome = outcome_at.get(index)
        if outcome is None:
            lines.append({"id": record.record_id, "error": record.error})
        elif isinstance(outcome, TaskFailure):
            lines.append({"id": record.record_id, "error": outcome.message})
        else:
            lines.append({"id": record.record_id, **outcome.to_dict()})
    return JsonLinesPrediction(lines=tuple(lines))


def output_fn(prediction: Prediction, accept: str | None) -> str:
    with server_errors_logged("output_fn"):
        return encode_prediction(prediction=prediction, accept=accept)

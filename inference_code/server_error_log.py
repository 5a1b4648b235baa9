"""Failures that are not the caller's mistake, logged with one stable marker.

The Hugging Face toolkit answers every exception from the *_fn hooks with HTTP 400
(sagemaker-huggingface-inference-toolkit 2.6.0, handler_service.py, HuggingFaceHandlerService
.handle: `except Exception as e: raise PredictionException(str(e), 400)`). A CUDA out-of-memory
error or a bug therefore looks like a bad request to SageMaker's 4XX/5XX metrics. Every such
failure is logged once with SERVER_ERROR_MARKER at the start of a line, and a CloudWatch Logs
metric filter on the endpoint's log group counts them (stacks/endpoint_alarms.py), with an alarm
on that count. The worker's Python logging goes to stdout
(mms 1.1.11, mms/model_service_worker.py: logging.basicConfig(stream=sys.stdout, ...)), which
the model server copies into its log, and SageMaker sends that log to CloudWatch Logs.

A caller's mistake is a RequestError: a 400 with a message naming the problem, never logged with
the marker. The caller of a server failure gets a fixed message, never the exception's text.

This module imports nothing but the standard library: the CDK app imports the marker from it to
build the metric filter (stacks/endpoint_alarms.py).
"""

from __future__ import annotations

import logging

SERVER_ERROR_MARKER = "ZSTC_SERVER_ERROR"
SERVER_ERROR_MESSAGE = (
    "the server failed while handling this request; this is not a problem with the request. "
    "The failure is in the endpoint's log; retry later or report it"
)

logger = logging.getLogger(__name__)


class ServerError(RuntimeError):
    """A failure already logged with the marker; its message is what the caller sees."""

    def __init__(self, message: str = SERVER_ERROR_MESSAGE) -> None:
        super().__init__(message)


def log_server_error(*, stage: str, error: BaseException) -> None:
    """One log record: the marker, the stage and the exception on the first line, then the
    traceback. The exception text goes to the log only, never to the caller."""
    # One line, at most 300 characters, and encodable (a lone surrogate becomes \\udXXX).
    summary = " ".join(str(error).split())[:300].encode("utf-8", "backslashreplace").decode()
    logger.error(
        "%s stage=%s error=%s: %s",
        SERVER_ERROR_MARKER,
        stage,
        type(error).__name__,
        summary,
        exc_info=(type(error), error, error.__traceback__),
    )

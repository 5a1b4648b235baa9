"""Failures that are not the caller's mistake, logged with one stable marker.

The Hugging Face toolkit answers every exception from the *_fn hooks with HTTP 400
(sagemaker-huggingface-inference-toolkit 2.6.0, handler_service.py, HuggingFaceHandlerService
.handle: `except Exception as e: raise PredictionException(str(e), 400)`). A CUDA out-of-memory
error or a bug therefore looks like a bad request to SageMaker's 4XX/5XX metrics. Every such
failure is logged once with SERVER_ERROR_MARKER at the start of a line, and a CloudWatch metric
filter on the endpoint's log group counts them. The worker's Python logging goes to stdout
(mms 1.1.11, mms/model_service_worker.py: logging.basicConfig(stream=sys.stdout, ...)), which
the model server copies into its log, and SageMaker sends that log to CloudWatch Logs.

A caller's mistake is a RequestError: a 400 with a message naming the problem, never logged with
the marker. The caller of a server failure gets a fixed message, never the exception's text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from request_contract import RequestError, bounded_message

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
    summary = bounded_message(" ".join(str(error).split()), limit=300)
    logger.error(
        "%s stage=%s error=%s: %s",
        SERVER_ERROR_MARKER,
        stage,
        type(error).__name__,
        summary,
        exc_info=(type(error), error, error.__traceback__),
    )


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

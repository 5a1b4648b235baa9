"""The deadline of the request being served, so a request the model server gave up on stops.

multi-model-server gives the worker `default_response_timeout` to answer; when it runs out, the
client gets HTTP 500 "Worker died." and MMS starts a replacement worker, but it does not stop the
old process, which keeps computing beside its replacement (mms 1.1.11, frontend
wlm/WorkerThread.java::runWorker: `replies.poll(responseTimeout, TimeUnit.SECONDS)` after it
sent the request to the worker). The clock therefore starts when the worker receives the
request, which input_fn's start is within milliseconds of.

The worker learns the timeout from the environment it inherits from the model server: the
SageMaker inference toolkit turns SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS, or else
SAGEMAKER_MODEL_SERVER_TIMEOUT, into that property (sagemaker-inference 1.10.1,
environment.py, Environment.model_server_timeout_seconds and model_server_timeout; the
minutes quirk of MMS 1.1.11 is explained in zstc/model_server_settings.py, which sets both).

The classifiers check the deadline between token batches and give up with a DeadlineExceeded,
a 400 that names the timeout. They give up DEADLINE_MARGIN before the model server would, so
the caller gets that message instead of "Worker died.", and the worker lives on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from request_contract import RequestError

TIMEOUT_SECONDS_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS"
TIMEOUT_MINUTES_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
# The toolkit's default when neither is set (sagemaker-inference environment.py,
# DEFAULT_MODEL_SERVER_TIMEOUT = "60"), which MMS 1.1.11 reads as minutes.
DEFAULT_TIMEOUT_SECONDS = 60 * 60
# Give up this share of the timeout early, at most MAX_MARGIN_SECONDS: enough for the answer
# to reach the model server before it stops waiting.
MARGIN_SHARE = 0.1
MAX_MARGIN_SECONDS = 5.0


class DeadlineExceeded(RequestError):
    """The request needs more time than the model server gives it."""


def model_server_timeout_seconds(environ: Mapping[str, str] | None = None) -> float:
    environ = os.environ if environ is None else environ
    seconds = environ.get(TIMEOUT_SECONDS_ENV, "").strip()
    minutes = environ.get(TIMEOUT_MINUTES_ENV, "").strip()
    try:
        if seconds:
            return float(int(seconds))
        if minutes:
            return float(int(minutes) * 60)
    except ValueError:
        pass
    return float(DEFAULT_TIMEOUT_SECONDS)


@dataclass(frozen=True, kw_only=True)
class Deadline:
    """When the request must be abandoned, on the monotonic clock."""

    timeout_seconds: float
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "started", self.clock())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Deadline:
        return cls(timeout_seconds=model_server_timeout_seconds(environ))

    @property
    def budget_seconds(self) -> float:
        return self.timeout_seconds - min(MAX_MARGIN_SECONDS, MARGIN_SHARE * self.timeout_seconds)

    def check(self) -> None:
        """Raises DeadlineExceeded once the budget is spent."""
        elapsed = self.clock() - self.started
        if elapsed > self.budget_seconds:
            raise DeadlineExceeded(
                f"the request was abandoned after {elapsed:.0f} s: it needs more than the "
                f"model server's timeout of {self.timeout_seconds:.0f} s allows "
                f"({TIMEOUT_SECONDS_ENV}); send fewer texts or labels per request, or shorter "
                "texts"
            )


def no_deadline() -> Deadline:
    """For callers outside the model server (scripts, benchmarks): never abandons."""
    return Deadline(timeout_seconds=float("inf"))

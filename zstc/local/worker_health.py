"""Notices a local model server that answers /ping but whose worker stays Unhealthy.

multi-model-server answers GET /ping with HTTP 200 whatever the worker's state; only the body
says {"status": "Unhealthy"} (mms 1.1.11, http/InferenceRequestHandler.java: "ping" calls
ModelManager.workerStatus, which sends 200 with the status in the body). When
the worker's processes die in an unlucky order (the listening worker process first, then the
forked process that holds the model), the Java front end retries the dead socket for minutes
and never starts a new worker: /ping keeps its 200, invocations hang, and a process check
alone sees a live server. `zstc local serve` therefore reads the body, and stops the server
with a message once the worker has stayed unhealthy longer than a worker restart takes.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable

HEALTHY = "Healthy"
# How long a worker may stay unhealthy: long enough for MMS to start a new worker and load the
# model again (bounded by the model server timeout, as MMS bounds a load by it), plus slack;
# at most MAX_UNHEALTHY_SECONDS, so a stuck server is noticed within minutes, not an hour.
RESTART_SLACK_SECONDS = 30
MAX_UNHEALTHY_SECONDS = 600
PING_INTERVAL_SECONDS = 2.0


def default_unhealthy_limit_s(model_server_timeout_s: float) -> float:
    return float(min(model_server_timeout_s + RESTART_SLACK_SECONDS, MAX_UNHEALTHY_SECONDS))


def read_ping_status(url: str, *, timeout_s: float = 5.0) -> str | None:
    """The "status" of GET {url}/ping's body ("Healthy", "Unhealthy"), None when unreachable."""
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=timeout_s) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        body = error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None
    try:
        status = json.loads(body).get("status")
    except (ValueError, AttributeError):
        return None
    return status if isinstance(status, str) else None


class WorkerHealthWatch:
    """Polled often; reads /ping at most every interval_s; says when to give up."""

    def __init__(
        self,
        *,
        read_status: Callable[[], str | None],
        unhealthy_limit_s: float,
        interval_s: float = PING_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read_status = read_status
        self.unhealthy_limit_s = unhealthy_limit_s
        self.interval_s = interval_s
        self.clock = clock
        self._last_read: float | None = None
        self._unhealthy_since: float | None = None
        self._last_status: str | None = HEALTHY

    def problem(self) -> str | None:
        """None while the worker is healthy or not unhealthy for long; else why to stop."""
        now = self.clock()
        if self._last_read is not None and now - self._last_read < self.interval_s:
            return None
        self._last_read = now
        status = self.read_status()
        self._last_status = status
        if status == HEALTHY:
            self._unhealthy_since = None
            return None
        if self._unhealthy_since is None:
            self._unhealthy_since = now
        unhealthy_for = now - self._unhealthy_since
        if unhealthy_for < self.unhealthy_limit_s:
            return None
        shown = f'{{"status": "{status}"}}' if status else "no answer"
        return (
            f"the model worker stayed unhealthy for {unhealthy_for:.0f} s (GET /ping: {shown}); "
            "requests would hang, so the server was stopped. Start it again; the server log "
            "says why the worker died"
        )

"""How `zstc local serve` and `local batch` stop: on a stop signal, when the server dies on its
own, or when its worker stays unhealthy; SIGTERM unwinds like Ctrl-C so cleanup runs."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from zstc.cli_errors import CliError

# What asks `local serve` to stop: Ctrl-C, a service manager or kill, and a closed terminal or a
# dropped SSH session (the kernel sends SIGHUP to the terminal's foreground process group).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def wait_for_stop(
    *,
    still_running: Callable[[], bool],
    stop: threading.Event | None = None,
    exit_reason: Callable[[], str] | None = None,
    health_problem: Callable[[], str | None] | None = None,
) -> int | None:
    """Blocks until SIGINT, SIGTERM or SIGHUP (or `stop` is set, for callers in a thread).

    Returns the signal that asked to stop, or None when `stop` was set. The caller then stops
    the server in order. Should this process die instead (SIGKILL), the server's supervisor
    ends the server on its own (zstc/local/server_supervisor.py).
    Raises CliError when the server dies on its own, so `serve` never sits on a dead server;
    exit_reason() says why, when given. Raises CliError too when health_problem() names one
    (a worker that stays Unhealthy behind a live front end, zstc/local/worker_health.py).
    """
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    received: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            previous[signum] = signal.signal(signum, request_stop)
    try:
        while not stop.wait(0.5):
            if not still_running():
                reason = exit_reason() if exit_reason is not None else "see its server log"
                raise CliError(f"the local endpoint stopped unexpectedly: {reason}")
            problem = health_problem() if health_problem is not None else None
            if problem is not None:
                raise CliError(problem)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return received[0] if received else None


# 128 + the signal number, as a shell reports a process that SIGTERM ended.
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like KeyboardInterrupt, so cleanup code runs on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signal_name = signal.Signals(signum).name


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises Terminated (as SIGINT raises KeyboardInterrupt).

    Python's default for SIGTERM ends the process at once, with no message and no cleanup
    (exit -15): a service manager or `kill` would then leave partial output behind.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

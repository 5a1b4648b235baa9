"""How `zstc local serve` waits: until a stop signal, or until the server dies on its own."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
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
) -> int | None:
    """Blocks until SIGINT, SIGTERM or SIGHUP (or `stop` is set, for callers in a thread).

    Returns the signal that asked to stop, or None when `stop` was set. The caller then stops
    the server in order. Should this process die instead (SIGKILL), the server's supervisor
    ends the server on its own (zstc/local/server_supervisor.py).
    Raises CliError when the server dies on its own, so `serve` never sits on a dead server;
    exit_reason() says why, when given.
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
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return received[0] if received else None

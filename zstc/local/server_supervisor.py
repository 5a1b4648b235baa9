"""Keeps the local model server's process tree from outliving its front end or its owner.

Run as: python -I server_supervisor.py LIFELINE_FD [--remove-if-orphaned PATH]... -- COMMAND...
(isolated from the caller's environment and working directory: the standard library and psutil).

multi-model-server (MMS) 1.1.11 is three generations of processes: the launcher
(multi-model-server --foreground), the Java front end it starts, and the Python model worker the
front end starts. None of them exits when its parent does:
- the worker outlives a front end that died, or that failed to bind its port: MMS starts the
  workers while loading the models, before it binds the ports, and exits on a bind failure
  without stopping them (awslabs/multi-model-server v1.1.11, frontend/server/src/main/java/com/
  amazonaws/ml/mms/ModelServer.java: start() calls initModelStore() before initializeServer()
  binds, and main() ends in System.exit(1));
- the whole tree outlives a zstc process that was killed (SIGKILL) or lost its terminal.
PR_SET_PDEATHSIG would not do: it reaches one generation only (the kernel clears it in forked
children), fires when the parent *thread* exits, and exists on Linux only.

So this supervisor starts COMMAND as the leader of a new process group, which the front end and
its workers inherit, and ends the whole group as soon as one of these happens:
- the launcher exits: the front end is gone, so its workers must go too;
- LIFELINE_FD says stop: the owner writes STOP_REQUEST, then closes its end;
- LIFELINE_FD reaches end of file without it: the owner died; the kernel closes a dead
  process's descriptors however it died, SIGKILL included. Nobody is left to clean up, so the
  supervisor also removes the --remove-if-orphaned paths (the server's temporary directories);
- the supervisor gets SIGTERM.
The owner starts the supervisor in a session of its own, so a terminal's SIGINT and SIGHUP reach
only the owner, which decides what to do. Exit status: 1 when the front end exited on its own,
else 0.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import psutil

# The front end and its workers get this long to exit on SIGTERM before SIGKILL.
GRACE_SECONDS = 2.0
# After SIGKILL, how long to wait for the group to be gone (reaped) before giving up.
KILL_WAIT_SECONDS = 10.0
_POLL_SECONDS = 0.2
# What the owner writes on the lifeline before closing it, when it stops the server on purpose.
STOP_REQUEST = b"s"
REMOVE_IF_ORPHANED = "--remove-if-orphaned"


def _say(message: str) -> None:
    print(f"zstc server supervisor: {message}", file=sys.stderr, flush=True)


def _group_is_alive(process_group: int) -> bool:
    """Whether a process of the group still runs; zombies only wait for their parent to reap them.

    Orphans are reaped by init, which some hosts do only every few seconds.
    """
    try:
        os.killpg(process_group, 0)
    except (ProcessLookupError, PermissionError):
        return False
    for process in psutil.process_iter(["status"]):
        with contextlib.suppress(OSError, psutil.Error):
            if (
                os.getpgid(process.pid) == process_group
                and process.info["status"] != psutil.STATUS_ZOMBIE
            ):
                return True
    return False


def _signal_group(process_group: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process_group, signum)


def _wait_until_gone(launcher: subprocess.Popen[bytes], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        # The launcher is our child: reap it, or it stays in the group as a zombie. Its own
        # children are reaped by it, or by init once it is gone.
        launcher.poll()
        if not _group_is_alive(launcher.pid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def end_process_group(launcher: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the launcher's whole group, then SIGKILL to whatever is left.

    The group id stays ours while any member lives: POSIX never reuses a process group id
    before the group's last member is gone, even after its leader was reaped.
    """
    _signal_group(launcher.pid, signal.SIGTERM)
    if _wait_until_gone(launcher, GRACE_SECONDS):
        return
    _signal_group(launcher.pid, signal.SIGKILL)
    if not _wait_until_gone(launcher, KILL_WAIT_SECONDS):
        _say(
            f"process group {launcher.pid} still has members {KILL_WAIT_SECONDS:g} s after SIGKILL"
        )


def supervise(lifeline_fd: int, command: list[str], *, remove_if_orphaned: list[Path]) -> int:
    stop_requested = False
    orphaned = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    # Only the owner reacts to the terminal; it closes the lifeline when it means to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    launcher = subprocess.Popen(command, stdin=subprocess.DEVNULL, process_group=0)
    exit_status = 0
    try:
        while not stop_requested:
            if launcher.poll() is not None:
                _say(
                    f"the model server front end exited (launcher status {launcher.returncode}); "
                    "stopping its workers"
                )
                exit_status = 1
                break
            readable, _, _ = select.select([lifeline_fd], [], [], _POLL_SECONDS)
            if readable:
                orphaned = os.read(lifeline_fd, len(STOP_REQUEST)) != STOP_REQUEST
                break
    finally:
        end_process_group(launcher)
        if orphaned:
            for path in remove_if_orphaned:
                shutil.rmtree(path, ignore_errors=True)
    return exit_status


def main(argv: list[str]) -> int:
    usage = f"usage: server_supervisor.py LIFELINE_FD [{REMOVE_IF_ORPHANED} PATH]... -- COMMAND..."
    if "--" not in argv or not argv or not argv[0].isdigit():
        _say(usage)
        return 2
    separator = argv.index("--")
    options, command = argv[1:separator], argv[separator + 1 :]
    if not command or len(options) % 2 or set(options[::2]) - {REMOVE_IF_ORPHANED}:
        _say(usage)
        return 2
    return supervise(
        int(argv[0]), command, remove_if_orphaned=[Path(path) for path in options[1::2]]
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

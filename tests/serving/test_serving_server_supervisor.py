"""The supervisor on its own, with real processes shaped like MMS's tree and no Java: fast.

A shell stands for the launcher; the `sleep` it starts in the background stands for a worker
that, like MMS's Python worker, does not exit when its parent does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from zstc.local.endpoint import SUPERVISOR
from zstc.local.server_supervisor import REMOVE_IF_ORPHANED, STOP_REQUEST


def _start(
    tmp_path: Path, launcher_script: str, *, temporary: Path | None = None
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """Starts the supervisor as LocalEndpoint does; returns it, the lifeline, the pid file."""
    pid_file = tmp_path / "worker.pid"
    lifeline_read, lifeline_write = os.pipe()
    removals = [REMOVE_IF_ORPHANED, str(temporary)] if temporary is not None else []
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-I",
            str(SUPERVISOR),
            str(lifeline_read),
            *removals,
            "--",
            "/bin/sh",
            "-c",
            launcher_script.format(pid_file=pid_file),
        ],
        pass_fds=(lifeline_read,),
        start_new_session=True,
    )
    os.close(lifeline_read)
    deadline = time.monotonic() + 30
    while not pid_file.is_file() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, "the stand-in worker never started"
        time.sleep(0.05)
    return supervisor, lifeline_write, pid_file


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gone_within(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_launcher_that_exits_takes_its_orphaned_worker_with_it(tmp_path: Path) -> None:
    supervisor, lifeline, pid_file = _start(
        tmp_path, "sleep 300 & echo $! > {pid_file}; sleep 0.5; exit 0"
    )
    worker = int(pid_file.read_text())
    try:
        assert supervisor.wait(timeout=30) == 1, "the front end went on its own"
        assert _gone_within(worker, 15)
    finally:
        os.close(lifeline)
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)


def test_an_owner_that_dies_takes_the_group_and_the_temporary_directory(tmp_path: Path) -> None:
    temporary = tmp_path / "server-temp"
    temporary.mkdir()
    supervisor, lifeline, pid_file = _start(
        tmp_path, "sleep 300 & echo $! > {pid_file}; wait", temporary=temporary
    )
    worker = int(pid_file.read_text())
    launcher = psutil.Process(supervisor.pid).children()[0].pid
    try:
        assert _alive(worker) and _alive(launcher)
        # What the kernel does for an owner that dies, however it dies: end of file.
        os.close(lifeline)
        assert supervisor.wait(timeout=30) == 0
        assert _gone_within(worker, 15) and _gone_within(launcher, 15)
        assert not temporary.exists()
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)


def test_a_stop_request_ends_the_group_and_leaves_the_directories_to_the_owner(
    tmp_path: Path,
) -> None:
    temporary = tmp_path / "server-temp"
    temporary.mkdir()
    supervisor, lifeline, pid_file = _start(
        tmp_path, "sleep 300 & echo $! > {pid_file}; wait", temporary=temporary
    )
    worker = int(pid_file.read_text())
    try:
        os.write(lifeline, STOP_REQUEST)
        os.close(lifeline)
        assert supervisor.wait(timeout=30) == 0
        assert _gone_within(worker, 15)
        # The owner keeps a failed server's log for the user; it decides.
        assert temporary.is_dir()
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)


def test_terminal_signals_do_not_reach_the_supervisor(tmp_path: Path) -> None:
    supervisor, lifeline, pid_file = _start(tmp_path, "sleep 300 & echo $! > {pid_file}; wait")
    worker = int(pid_file.read_text())
    try:
        # The owner decides what a hang-up means; the supervisor keeps the server until then.
        supervisor.send_signal(signal.SIGHUP)
        supervisor.send_signal(signal.SIGINT)
        time.sleep(1.0)
        assert supervisor.poll() is None and _alive(worker)
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
        assert _gone_within(worker, 15)
    finally:
        os.close(lifeline)
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)

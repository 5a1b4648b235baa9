"""`zstc local serve` notices a worker that stays Unhealthy behind a front end that answers.

The reproducer: kill the worker's listening process, then the forked process that holds the
model. multi-model-server's Java front end then retries the dead socket for minutes and never
starts a new worker; /ping keeps answering HTTP 200 with {"status": "Unhealthy"} and requests
hang. `serve` must stop the server and exit with a message, leaving no server process.
"""

from __future__ import annotations

import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
from server_processes import server_processes

from zstc.local.endpoint import find_free_port
from zstc.local.worker_health import WorkerHealthWatch, default_unhealthy_limit_s

ZSTC = Path(sys.executable).parent / "zstc"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _watch(statuses: Iterator[str | None], clock: FakeClock) -> WorkerHealthWatch:
    return WorkerHealthWatch(
        read_status=lambda: next(statuses), unhealthy_limit_s=10, interval_s=2, clock=clock
    )


def test_the_watch_gives_up_only_after_the_limit_of_unbroken_unhealthy_answers() -> None:
    clock = FakeClock()
    statuses = iter(["Healthy", "Unhealthy", "Unhealthy", "Healthy"] + ["Unhealthy"] * 20)
    watch = _watch(statuses, clock)
    problems = []
    for second in range(0, 40, 2):
        clock.now = float(second)
        problems.append(watch.problem())

    # 2 s and 4 s unhealthy, a healthy answer at 6 s resets, then unhealthy from 8 s on.
    first = next(index for index, problem in enumerate(problems) if problem)
    assert first * 2 == 18, problems
    assert problems[first] is not None and '{"status": "Unhealthy"}' in problems[first]


def test_the_watch_reads_ping_at_most_every_interval() -> None:
    clock = FakeClock()
    reads: list[float] = []

    def read() -> str:
        reads.append(clock.now)
        return "Healthy"

    watch = WorkerHealthWatch(read_status=read, unhealthy_limit_s=10, interval_s=2, clock=clock)
    for tenth in range(50):
        clock.now = tenth / 10
        watch.problem()

    assert reads == [0.0, 2.0, 4.0]


def test_no_answer_counts_as_unhealthy_and_the_default_limit_is_bounded() -> None:
    clock = FakeClock()
    watch = _watch(iter([None] * 10), clock)
    for second in (0, 5, 11):
        clock.now = float(second)
        problem = watch.problem()
    assert problem is not None and "no answer" in problem
    assert default_unhealthy_limit_s(60) == 90
    assert default_unhealthy_limit_s(3600) == 600


def _read_line_until(process: subprocess.Popen[str], marker: str, timeout_s: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            line = process.stdout.readline()
            if marker in line:
                return line
            if not line and process.poll() is not None:
                break
    raise AssertionError(f"no {marker!r} line")


def _worker_processes(log_dir: Path) -> tuple[psutil.Process, psutil.Process]:
    """The worker's listening process and the forked process that holds the model."""
    workers = [
        process
        for process in server_processes(log_dir)
        if any("model_service_worker" in part for part in process.cmdline())
    ]
    listening = [p for p in workers if p.ppid() not in {w.pid for w in workers}]
    assert len(listening) == 1, workers
    forked = [p for p in workers if p.ppid() == listening[0].pid]
    assert len(forked) == 1, workers
    return listening[0], forked[0]


def test_serve_exits_with_a_message_when_the_worker_stays_unhealthy(
    tiny_nli_model_dir: Path, tmp_path: Path
) -> None:
    log_dir = tmp_path / "logs"
    port = find_free_port()
    command = [str(ZSTC), "local", "serve", "--model", str(tiny_nli_model_dir), "--port",
               str(port), "--work-dir", str(tmp_path / "work"), "--log-dir", str(log_dir),
               "--unhealthy-exit-after", "5"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _read_line_until(process, "serving at", timeout_s=150)
        listening, forked = _worker_processes(log_dir)
        listening.kill()
        listening.wait(10)
        forked.kill()

        _, stderr = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 1, stderr
    assert "the model worker stayed unhealthy" in stderr and "server was stopped" in stderr
    deadline = time.monotonic() + 30
    while server_processes(log_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server_processes(log_dir) == []

"""`zstc local serve` in a real subprocess: it answers /ping and /invocations, and Ctrl-C stops it.

A closed terminal (SIGHUP) stops it as cleanly, and when zstc itself dies (SIGKILL), its server
(MMS launcher, Java front end, Python worker) goes too. Server processes are found by their own
environment (LOG_LOCATION is the --log-dir), not by zstc's bookkeeping.

Also the --model forms it accepts, including a hub id exercised up to the network boundary.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
from server_processes import server_processes

from zstc.cli_errors import CliError
from zstc.local.endpoint import find_free_port
from zstc.local.stop_signals import wait_for_stop
from zstc.models.model_sources import resolve_model

ZSTC = Path(sys.executable).parent / "zstc"


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
    raise AssertionError(
        f"no {marker!r} line; stderr: {process.stderr.read() if process.stderr else ''}"
    )


def _ping(url: str) -> int | None:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
            return int(response.status)
    except (urllib.error.URLError, ConnectionError):
        return None


def _wait_until_no_server(log_dir: Path, *, timeout_s: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    while (left := server_processes(log_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _start_serve(
    model_dir: Path, tmp_path: Path, *options: str
) -> tuple[subprocess.Popen[str], str, Path]:
    port = find_free_port()
    log_dir = tmp_path / "logs"
    process = subprocess.Popen(
        [
            str(ZSTC),
            "local",
            "serve",
            "--model",
            str(model_dir),
            "--port",
            str(port),
            "--work-dir",
            str(tmp_path / "work"),
            "--log-dir",
            str(log_dir),
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    serving_line = _read_line_until(process, "serving at", timeout_s=150)
    if "--as-batch-model" in options:
        assert "as the batch model (3600 s timeout)" in serving_line
    else:
        assert "as the endpoint model (60 s timeout)" in serving_line
    url = f"http://127.0.0.1:{port}"
    assert _ping(url) == 200
    assert len(server_processes(log_dir)) >= 4, "supervisor, launcher, Java, worker"
    return process, url, log_dir


@pytest.mark.parametrize("stop_signal", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_wait_for_stop_returns_on_each_stop_signal_and_restores_handlers(
    stop_signal: signal.Signals,
) -> None:
    before = signal.getsignal(stop_signal)
    threading.Timer(0.2, os.kill, args=(os.getpid(), stop_signal)).start()

    assert wait_for_stop(still_running=lambda: True) == stop_signal
    assert signal.getsignal(stop_signal) == before


def test_wait_for_stop_says_why_the_server_is_gone() -> None:
    with pytest.raises(CliError, match="stopped unexpectedly: port: 8080 is in use"):
        wait_for_stop(still_running=lambda: False, exit_reason=lambda: "port: 8080 is in use")


def test_serve_stops_cleanly_when_its_terminal_hangs_up(
    tiny_nli_model_dir: Path, tmp_path: Path
) -> None:
    process, url, log_dir = _start_serve(tiny_nli_model_dir, tmp_path)
    try:
        process.send_signal(signal.SIGHUP)
        assert process.wait(timeout=60) == 0
        assert process.stderr is not None and "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        left = server_processes(log_dir)
        for leftover in left:
            leftover.kill()
    # stop() returned only once everything had gone and the port was free.
    assert left == [], [p.cmdline()[:2] for p in left]
    assert _ping(url) is None


def test_serve_as_the_batch_model_takes_batch_sized_payloads(
    tiny_nli_model_dir: Path, tmp_path: Path
) -> None:
    # 8 MB: above MMS's default limit (6.5 MB, answered 413 by the front end) and SageMaker's
    # real-time 6 MB, within a transform job's MaxPayloadInMB of 10, which SageMaker passes to
    # the container as SAGEMAKER_MAX_PAYLOAD_IN_MB (the toolkit's max_request_size). The empty
    # label list makes the handler answer at once, which proves the body got through.
    body = json.dumps(
        {"inputs": "word " * (8 * 1024 * 1024 // 5), "parameters": {"candidate_labels": []}}
    ).encode()
    process, url, log_dir = _start_serve(
        tiny_nli_model_dir, tmp_path, "--as-batch-model", "--max-payload-mb", "10"
    )
    try:
        request = urllib.request.Request(
            f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=120)
        assert raised.value.code == 400
        assert "candidate_labels" in raised.value.read().decode()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    assert server_processes(log_dir) == []


def test_the_server_goes_when_zstc_is_killed(tiny_nli_model_dir: Path, tmp_path: Path) -> None:
    process, url, log_dir = _start_serve(tiny_nli_model_dir, tmp_path)
    # The server's private temporary directory (MMS's pid file and sockets).
    run_dir = Path(
        next(p for p in server_processes(log_dir) if p.name() == "java").environ()["TMPDIR"]
    )
    assert run_dir.is_dir()
    try:
        # No handler runs on SIGKILL; the supervisor sees its lifeline close.
        process.kill()
        process.wait(timeout=30)
        left = _wait_until_no_server(log_dir, timeout_s=30)
        assert left == [], [p.cmdline()[:2] for p in left]
        assert _ping(url) is None
        assert not run_dir.exists()
        assert (log_dir / "server.log").is_file(), "a --log-dir given is the user's: kept"
    finally:
        for leftover in server_processes(log_dir):
            leftover.kill()


def test_serve_answers_until_ctrl_c_then_stops(tiny_nli_model_dir: Path, tmp_path: Path) -> None:
    port = find_free_port()
    process = subprocess.Popen(
        [
            str(ZSTC),
            "local",
            "serve",
            "--model",
            str(tiny_nli_model_dir),
            "--port",
            str(port),
            "--work-dir",
            str(tmp_path / "work"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _read_line_until(process, "serving at", timeout_s=150)
        url = f"http://127.0.0.1:{port}"
        assert url in line
        assert _ping(url) == 200
        request = urllib.request.Request(
            f"{url}/invocations",
            data=json.dumps(
                {"inputs": "hi", "parameters": {"candidate_labels": ["a", "b"]}}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert sorted(json.loads(response.read())["labels"]) == ["a", "b"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert _ping(url) is None
    # The prepared model dir is the unpacked model.tar.gz layout: weights at the root + code/.
    prepared = next(path for path in (tmp_path / "work").iterdir() if path.is_dir())
    assert (prepared / "config.json").is_file()
    assert (prepared / "code" / "inference.py").is_file()


def test_an_unpacked_model_tar_gz_is_served_as_it_is(tmp_path: Path) -> None:
    unpacked = tmp_path / "unpacked"
    (unpacked / "code").mkdir(parents=True)
    (unpacked / "code" / "inference.py").write_text("# the user's own code\n")
    resolved = resolve_model(model=str(unpacked), revision=None, work_dir=tmp_path / "work")
    assert resolved.model_dir == unpacked.resolve()
    assert not (tmp_path / "work").exists()


def test_a_hub_id_downloads_the_snapshot_at_the_revision(
    tiny_nli_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    calls: list[dict[str, Any]] = []

    def fake_snapshot_download(**kwargs: Any) -> str:
        # The network boundary: what a real download would be asked for, answered from disk.
        calls.append(kwargs)
        return str(tiny_nli_model_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    resolved = resolve_model(
        model="someorg/tiny-nli", revision="0123abc", work_dir=tmp_path / "work"
    )
    assert calls and {c["repo_id"] for c in calls} == {"someorg/tiny-nli"}
    assert {c["revision"] for c in calls} == {"0123abc"}
    assert (resolved.model_dir / "model.safetensors").is_file()
    assert (resolved.model_dir / "code" / "inference.py").is_file()
    assert "someorg/tiny-nli@0123abc" in resolved.description


def test_a_hub_id_without_hub_access_fails_with_a_clear_message(tmp_path: Path) -> None:
    # HF_HUB_OFFLINE=1 (set for the whole suite) stands for "no network to the hub".
    with pytest.raises(CliError) as raised:
        resolve_model(model="facebook/bart-large-mnli", revision=None, work_dir=tmp_path)
    message = str(raised.value)
    assert message.startswith("--model: hub_model_id 'facebook/bart-large-mnli'")
    assert "HF_HUB_OFFLINE" in message
    assert raised.value.exit_code == 2


def test_something_that_is_neither_dir_nor_hub_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="neither a model directory"):
        resolve_model(model="not a model!", revision=None, work_dir=tmp_path)


def test_local_batch_with_model_starts_and_stops_its_own_server(
    tiny_nli_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from zstc.cli import main

    source = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": i, "inputs": f"text {i}", "parameters": {"candidate_labels": ["a", "b"]}})
        for i in range(3)
    ]
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    args = ["local", "batch", str(source), "-o", str(out), "--no-progress"]
    assert main([*args, "--model", str(tiny_nli_model_dir), "--work-dir", str(tmp_path)]) == 0
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [0, 1, 2]
    captured = capsys.readouterr()
    assert "3 lines, 3 ok, 0 errors" in captured.out
    url = next(word for word in captured.err.split() if word.startswith("http://"))
    assert _ping(url) is None

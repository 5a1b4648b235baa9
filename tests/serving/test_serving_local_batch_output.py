"""`zstc local batch`: its output, its interruptions and its progress.

- The output location is checked before any server starts, and errors name the file.
- After a failure, Ctrl-C or SIGTERM there is no OUT.partial, no OUT (an older OUT is not left
  to pass for this run's result) and no folder the run created.
- SIGTERM is handled like SIGINT: a message, cleanup, exit 143 (128 + 15).
- Payloads stay within the endpoint's per-request work cap, so the progress moves with the lines.

The endpoint for the signal test is a small HTTP server in this process that answers the first
payload and then holds the second: what is tested is the client's handling of the interruption,
not the model. The real model server is in test_serving_bounded_requests.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from zstc.bundled_code import request_contract
from zstc.cli import main
from zstc.local.batch import OutputTarget, line_work_units, pack_payloads
from zstc.local.endpoint import LocalEndpoint

LABELS = [f"label {index}" for index in range(9)]
UNREACHABLE_URL = "http://127.0.0.1:9"


def _write_input(path: Path, lines: int, labels: list[str] = LABELS) -> Path:
    records = (
        json.dumps({"id": i, "inputs": f"text {i}", "parameters": {"candidate_labels": labels}})
        for i in range(lines)
    )
    path.write_text("".join(record + "\n" for record in records), encoding="utf-8")
    return path


def test_payloads_stay_within_the_per_request_cap_so_progress_moves(tmp_path: Path) -> None:
    # 5,000 lines of 9 labels once went as one payload: 0% for 14 s, then 100%.
    lines = _write_input(tmp_path / "in.jsonl", 5_000).read_text().splitlines()
    cap = request_contract().DEFAULT_MAX_PAIRS_PER_REQUEST

    payloads = list(pack_payloads(lines, max_payload_mb=6))

    assert len(payloads) == -(-5_000 // (cap // 9))
    for payload in payloads:
        assert sum(line_work_units(line) for line in payload.lines) <= cap
    assert [line for payload in payloads for line in payload.lines] == lines
    # Error lines cost one unit each, as the endpoint counts them.
    assert line_work_units("{}") == line_work_units("") == 1


def test_an_unwritable_output_location_is_refused_before_a_server_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_server(self: LocalEndpoint) -> LocalEndpoint:
        raise AssertionError("a server was started before the output location was checked")

    monkeypatch.setattr(LocalEndpoint, "start", no_server)
    source = _write_input(tmp_path / "in.jsonl", 3)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    real_access = os.access
    if real_access(locked, os.W_OK):
        # root may write anywhere, so the kernel would allow it: answer as it does for any
        # other user (EACCES on a 0o500 folder), for this folder only.
        def access_as_a_user(path: object, mode: int, **kwargs: object) -> bool:
            if Path(str(path)) == locked and mode & os.W_OK:
                return False
            return real_access(path, mode, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "access", access_as_a_user)
    try:
        code = main(["local", "batch", str(source), "-o", str(locked / "out.jsonl"),
                     "--model", str(tmp_path)])  # fmt: skip
    finally:
        locked.chmod(0o700)

    assert code == 2
    assert f"cannot write in {locked}" in capsys.readouterr().err


def test_an_output_under_a_file_is_refused_before_a_server_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_server(self: LocalEndpoint) -> LocalEndpoint:
        raise AssertionError("a server was started before the output location was checked")

    monkeypatch.setattr(LocalEndpoint, "start", no_server)
    source = _write_input(tmp_path / "in.jsonl", 3)

    code = main(["local", "batch", str(source), "-o", str(source / "sub" / "out.jsonl"),
                 "--model", str(tmp_path)])  # fmt: skip

    assert code == 2
    assert f"--output-file: {source} is not a directory" in capsys.readouterr().err


def test_a_full_disk_is_refused_before_a_server_starts_naming_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from zstc.cli_errors import CliError

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=10))
    target = OutputTarget(path=tmp_path / "new" / "out.jsonl")

    with pytest.raises(CliError, match=f"{tmp_path} has 10 bytes free"):
        target.prepare(expected_bytes=1000)

    assert not (tmp_path / "new").exists()


def test_a_failed_run_leaves_no_output_no_older_output_and_no_new_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write_input(tmp_path / "in.jsonl", 3)
    older = tmp_path / "older.jsonl"
    older.write_text('{"id": 0, "labels": ["from an older run"]}\n')
    fresh = tmp_path / "new" / "deeper" / "out.jsonl"

    for out in (older, fresh):
        code = main(["local", "batch", str(source), "-o", str(out), "--url", UNREACHABLE_URL,
                     "--no-progress"])  # fmt: skip
        assert code == 1
        assert "cannot reach the local endpoint" in capsys.readouterr().err

    assert not older.exists(), "an older output must not pass for this run's result"
    assert not (tmp_path / "new").exists(), "a folder created for the output must go again"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]


class _HoldingEndpoint(BaseHTTPRequestHandler):
    """Answers the first payload at once (one error line per record) and holds the rest."""

    # Payloads received; the second and later are held until release.
    answered = 0
    release = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).answered += 1
        if type(self).answered > 1:
            type(self).release.wait(60)
        lines = body.decode().rstrip("\n").split("\n")
        answer = "\n".join(json.dumps({"id": None, "error": "held"}) for _ in lines).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/jsonlines")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def holding_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HoldingEndpoint)
    _HoldingEndpoint.answered = 0
    _HoldingEndpoint.release.clear()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _HoldingEndpoint.release.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_is_handled_like_sigint(
    holding_endpoint: str, tmp_path: Path, signum: int, exit_code: int
) -> None:
    source = _write_input(tmp_path / "in.jsonl", 100)
    out = tmp_path / "out.jsonl"
    out.write_text("an older result\n")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zstc.cli",
            "local",
            "batch",
            str(source),
            "-o",
            str(out),
            "--url",
            holding_endpoint,
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    partial = tmp_path / "out.jsonl.partial"
    deadline = time.monotonic() + 60
    while _HoldingEndpoint.answered < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _HoldingEndpoint.answered >= 2, "the run never reached its second payload"
    assert partial.exists() and not out.exists()

    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == exit_code, stderr
    if signum == signal.SIGTERM:
        assert "terminated by SIGTERM" in stderr and str(out) in stderr
    else:
        assert "interrupted" in stderr
    assert not partial.exists() and not out.exists()

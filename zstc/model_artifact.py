"""Builds model.tar.gz, the model artifact that the SageMaker endpoint and batch transform serve.

The layout is the one the Hugging Face inference toolkit expects once SageMaker has unpacked the
archive into /opt/ml/model:

    config.json, tokenizer files, model.safetensors   (at the root, only when weights are packaged)
    code/inference.py (+ the rest of inference_code/)  (always)

The archive is byte-for-byte deterministic (sorted entries, fixed metadata, a gzip header without
time or file name), so the CDK asset hash only changes when the code or the weights change.
`prepare_model_dir` lays out the same files in a plain directory, for the local endpoint.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from zstc.hub_snapshot import download_snapshot, select_model_files

INFERENCE_CODE_DIR = Path(__file__).resolve().parent.parent / "inference_code"
CODE_PREFIX = "code"

# Fixed metadata for every entry. 2020-01-01T00:00:00Z rather than 0, because some tools treat a
# 1970 timestamp as "missing".
FIXED_MTIME = 1_577_836_800
FILE_MODE = 0o644
DIR_MODE = 0o755
# gzip -6 is the usual speed/size balance; safetensors barely compress, so more buys nothing.
GZIP_LEVEL = 6

_SKIPPED_DIR_NAMES = frozenset({"__pycache__", ".git", ".cache", ".ipynb_checkpoints"})
_SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})


class ModelArtifactError(ValueError):
    """The inputs cannot make a valid model artifact."""


@dataclass(frozen=True)
class ArchiveEntry:
    """One regular file of the model directory: where it goes and where its bytes come from."""

    arcname: str
    source: Path


def _is_skipped(relative: PurePosixPath) -> bool:
    return any(part in _SKIPPED_DIR_NAMES for part in relative.parts[:-1]) or (
        relative.suffix in _SKIPPED_SUFFIXES or relative.name in _SKIPPED_DIR_NAMES
    )


def _walk_files(root: Path) -> Iterator[tuple[PurePosixPath, Path]]:
    """Regular files under root (symlinks followed, as a hub cache snapshot is all symlinks)."""
    for path in sorted(root.rglob("*")):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        if path.is_file() and not _is_skipped(relative):
            yield relative, path


def _code_entries(code_dir: Path) -> list[ArchiveEntry]:
    if not (code_dir / "inference.py").is_file():
        raise ModelArtifactError(
            f"code_dir: {str(code_dir)!r} has no inference.py; expected the directory that holds "
            "the toolkit's model_fn/input_fn/predict_fn/output_fn (inference_code/)"
        )
    return [
        ArchiveEntry(arcname=f"{CODE_PREFIX}/{relative}", source=path)
        for relative, path in _walk_files(code_dir)
    ]


def _weights_entries(weights_dir: Path) -> list[ArchiveEntry]:
    if not weights_dir.is_dir():
        raise ModelArtifactError(
            f"weights_dir: {str(weights_dir)!r} is not a directory; expected a directory with "
            "config.json, the tokenizer files and the weights"
        )
    if not (weights_dir / "config.json").is_file():
        raise ModelArtifactError(
            f"weights_dir: {str(weights_dir)!r} has no config.json; expected a model saved with "
            "save_pretrained (config.json, tokenizer files, model.safetensors)"
        )
    entries = []
    for relative, path in _walk_files(weights_dir):
        # A weights dir made by prepare_model_dir already holds a code/ folder; zstc's own
        # inference code always replaces it, so an old copy never shadows the current one.
        if relative.parts[0] == CODE_PREFIX:
            continue
        entries.append(ArchiveEntry(arcname=relative.as_posix(), source=path))
    return entries


def _hub_entries(
    *, model_id: str, revision: str | None, cache_dir: Path | None
) -> list[ArchiveEntry]:
    if not revision:
        raise ModelArtifactError(
            f"hub_revision: missing for hub_model_id {model_id!r}; expected a commit hash, tag or "
            "branch so the packaged model is pinned"
        )
    snapshot_dir = download_snapshot(model_id=model_id, revision=revision, cache_dir=cache_dir)
    return [
        ArchiveEntry(arcname=path.relative_to(snapshot_dir).as_posix(), source=path)
        for path in select_model_files(snapshot_dir)
    ]


def collect_entries(
    *,
    code_dir: Path = INFERENCE_CODE_DIR,
    weights_dir: Path | None = None,
    hub_model_id: str | None = None,
    hub_revision: str | None = None,
    hub_cache_dir: Path | None = None,
) -> list[ArchiveEntry]:
    """Every file of the model directory, sorted by archive name.

    No weights: the code only (the container downloads the model at start-up). weights_dir: that
    directory's files at the root. hub_model_id + hub_revision: the snapshot's needed files.
    """
    if weights_dir is not None and hub_model_id is not None:
        raise ModelArtifactError(
            f"weights_dir ({str(weights_dir)!r}) and hub_model_id ({hub_model_id!r}) were both "
            "given; expected at most one source of weights"
        )
    entries = _code_entries(code_dir)
    if weights_dir is not None:
        entries += _weights_entries(weights_dir)
    elif hub_model_id is not None:
        entries += _hub_entries(
            model_id=hub_model_id, revision=hub_revision, cache_dir=hub_cache_dir
        )
    elif hub_revision is not None:
        raise ModelArtifactError(
            f"hub_revision: {hub_revision!r} was given without hub_model_id; expected both or "
            "neither"
        )
    return sorted(entries, key=lambda entry: entry.arcname)


def _directories(entries: Sequence[ArchiveEntry]) -> list[str]:
    names = set()
    for entry in entries:
        parent = PurePosixPath(entry.arcname).parent
        while str(parent) != ".":
            names.add(str(parent))
            parent = parent.parent
    return sorted(names)


def _tar_info(name: str, *, is_dir: bool, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = DIR_MODE if is_dir else FILE_MODE
    info.size = size
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _write_archive(entries: Sequence[ArchiveEntry], destination: Path) -> None:
    members: list[tuple[str, Path | None]] = [(name, None) for name in _directories(entries)]
    members += [(entry.arcname, entry.source) for entry in entries]
    with (
        destination.open("wb") as raw,
        # filename="" and mtime=0 keep the gzip header free of anything that varies per build.
        gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL
        ) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for name, source in sorted(members, key=lambda member: member[0]):
            if source is None:
                archive.addfile(_tar_info(name, is_dir=True))
                continue
            with source.open("rb") as content:
                size = os.fstat(content.fileno()).st_size
                archive.addfile(_tar_info(name, is_dir=False, size=size), content)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as content:
        for block in iter(lambda: content.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_model_archive(
    output_path: Path,
    *,
    code_dir: Path = INFERENCE_CODE_DIR,
    weights_dir: Path | None = None,
    hub_model_id: str | None = None,
    hub_revision: str | None = None,
    hub_cache_dir: Path | None = None,
) -> Path:
    """Writes model.tar.gz to output_path and returns output_path.

    The file is only replaced when its content changes, so its mtime (and anything keyed on it)
    stays put across identical rebuilds.
    """
    entries = collect_entries(
        code_dir=code_dir,
        weights_dir=weights_dir,
        hub_model_id=hub_model_id,
        hub_revision=hub_revision,
        hub_cache_dir=hub_cache_dir,
    )
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(
        prefix=f".{output_path.name}.", suffix=".tmp", dir=output_path.parent
    )
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        _write_archive(entries, temporary)
        if output_path.is_file() and file_sha256(output_path) == file_sha256(temporary):
            temporary.unlink()
        else:
            os.chmod(temporary, FILE_MODE)
            os.replace(temporary, output_path)
    finally:
        temporary.unlink(missing_ok=True)
    return output_path


def _same_size_and_mtime(copy: Path, source: Path) -> bool:
    if not copy.is_file():
        return False
    copied, original = copy.stat(), source.stat()
    return copied.st_size == original.st_size and copied.st_mtime_ns == original.st_mtime_ns


def prepare_model_dir(
    target: Path,
    *,
    code_dir: Path = INFERENCE_CODE_DIR,
    weights_dir: Path | None = None,
    hub_model_id: str | None = None,
    hub_revision: str | None = None,
    hub_cache_dir: Path | None = None,
) -> Path:
    """Lays out target exactly like the unpacked model.tar.gz; returns target (absolute).

    code/ is always copied fresh. A weights file is copied only when the target lacks it or
    differs in size or modification time, since a bart-large checkpoint is 1.6 GB. Files already
    in target that the archive would not hold are left alone.
    """
    entries = collect_entries(
        code_dir=code_dir,
        weights_dir=weights_dir,
        hub_model_id=hub_model_id,
        hub_revision=hub_revision,
        hub_cache_dir=hub_cache_dir,
    )
    target = Path(target).resolve()
    if weights_dir is not None and target == Path(weights_dir).resolve():
        raise ModelArtifactError(
            f"target: {str(target)!r} is the weights_dir itself; expected a separate directory"
        )
    shutil.rmtree(target / CODE_PREFIX, ignore_errors=True)
    for entry in entries:
        destination = target / entry.arcname
        destination.parent.mkdir(parents=True, exist_ok=True)
        is_code = entry.arcname.startswith(f"{CODE_PREFIX}/")
        if not is_code and _same_size_and_mtime(destination, entry.source):
            continue
        # copy2 keeps the source's mtime, which is what the next call compares.
        shutil.copy2(entry.source, destination)
    return target

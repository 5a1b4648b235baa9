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
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from zstc.bundled_code import inference_code_dir, inference_module
from zstc.models.hub_snapshot import download_snapshot, select_model_files

# inference_code/ of the source checkout, or its installed copy (zstc/bundled_code.py).
INFERENCE_CODE_DIR = inference_code_dir()
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
    # The same selection as for a hub snapshot: config, tokenizer and weights, and no README,
    # notebooks, optimizer states or other checkpoints that the server never reads.
    # A weights dir made by prepare_model_dir holds a code/ folder too; the selection leaves it
    # out, since zstc's own inference code always replaces it.
    return [
        ArchiveEntry(arcname=path.relative_to(weights_dir).as_posix(), source=path)
        for path in select_model_files(weights_dir)
    ]


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


def _check_entries_serve_zero_shot(model_files: Sequence[ArchiveEntry]) -> None:
    """Lays the model's config files out as the archive will, then checks them."""
    with tempfile.TemporaryDirectory(prefix="zstc-model-check-") as scratch:
        for entry in model_files:
            if entry.arcname.endswith(".json"):
                destination = Path(scratch) / entry.arcname
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(entry.source, destination)
        check_serves_zero_shot(Path(scratch))


# transformers' PretrainedConfig gives a config without label2id two classes of these names.
_DEFAULT_LABEL2ID = {"LABEL_0": 0, "LABEL_1": 1}


def check_serves_zero_shot(model_dir: Path) -> None:
    """Refuses a model the endpoint could not serve, with the endpoint's own message.

    The decision is the server's (inference_code/model_loading.py detect_kind, and
    nli_classifier.find_entailment_id for an NLI model), so packaging fails exactly where the
    endpoint would fail at start-up, minutes and a deployment later.
    """
    loading = inference_module("model_loading")
    if loading.detect_kind(model_dir=model_dir, requested="auto") == "embedding":
        return
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelArtifactError(
            f"the model's config.json cannot be read as JSON ({error})"
        ) from None
    label2id = config.get("label2id") if isinstance(config, dict) else None
    nli = inference_module("nli_classifier")
    try:
        nli.find_entailment_id(label2id or _DEFAULT_LABEL2ID)
    except nli.ModelLoadError as error:
        raise ModelArtifactError(str(error)) from None


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
    stays put across identical rebuilds. A model that cannot serve zero-shot classification is
    refused before anything is written.
    """
    entries = collect_entries(
        code_dir=code_dir,
        weights_dir=weights_dir,
        hub_model_id=hub_model_id,
        hub_revision=hub_revision,
        hub_cache_dir=hub_cache_dir,
    )
    model_files = [entry for entry in entries if not entry.arcname.startswith(f"{CODE_PREFIX}/")]
    if model_files:
        _check_entries_serve_zero_shot(model_files)
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


# What prepare_model_dir knows about the copies it made: per file, the source's stat and the
# content's sha256, and the copy's stat. Kept beside the target, so the target holds exactly
# the archive's files.
CACHE_MANIFEST_SUFFIX = ".zstc-cache.json"


def _manifest_path(target: Path) -> Path:
    return target.parent / f".{target.name}{CACHE_MANIFEST_SUFFIX}"


def _stat_key(path: Path) -> list[int]:
    """Changes whenever the file's bytes may have: ctime moves on every write and on every
    utime, and no user can set it back, so a memoized hash is never trusted for new bytes."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


def _read_manifest(target: Path) -> dict[str, dict[str, object]]:
    try:
        document = json.loads(_manifest_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _content_digest(source: Path, known: dict[str, object] | None) -> str:
    """sha256 of source; a hash from the manifest is reused only while the file is untouched."""
    if known is not None and known.get("source_stat") == _stat_key(source):
        return str(known["sha256"])
    return file_sha256(source)


def prepare_model_dir(
    target: Path,
    *,
    code_dir: Path = INFERENCE_CODE_DIR,
    weights_dir: Path | None = None,
    hub_model_id: str | None = None,
    hub_revision: str | None = None,
    hub_cache_dir: Path | None = None,
) -> Path:
    """Makes target a faithful copy of the unpacked model.tar.gz; returns target (absolute).

    A file is copied when its content (sha256) differs from the copy's, or the copy was changed
    since; unchanged weights are not copied again, since a bart-large checkpoint is 1.6 GB.
    Every other file in target is removed, so a file that left the source (model.safetensors
    replaced by pytorch_model.bin) can never be served from the cache.
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
    target.mkdir(parents=True, exist_ok=True)
    previous = _read_manifest(target)
    manifest: dict[str, dict[str, object]] = {}
    for entry in entries:
        destination = target / entry.arcname
        known = previous.get(entry.arcname)
        digest = _content_digest(entry.source, known)
        up_to_date = (
            known is not None
            and known.get("sha256") == digest
            and destination.is_file()
            and not destination.is_symlink()
            and known.get("copy_stat") == _stat_key(destination)
        )
        if not up_to_date:
            destination.parent.mkdir(parents=True, exist_ok=True)
            if destination.is_symlink() or destination.is_file():
                destination.unlink()
            shutil.copy2(entry.source, destination)
        manifest[entry.arcname] = {
            "sha256": digest,
            "source_stat": _stat_key(entry.source),
            "copy_stat": _stat_key(destination),
        }
    _remove_everything_else(target, keep=set(manifest))
    _manifest_path(target).write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")
    return target


def _remove_everything_else(target: Path, *, keep: set[str]) -> None:
    for path in sorted(target.rglob("*"), key=lambda item: len(item.parts), reverse=True):
        relative = path.relative_to(target).as_posix()
        if path.is_dir() and not path.is_symlink():
            if not any(path.iterdir()):
                path.rmdir()
        elif relative not in keep:
            path.unlink()

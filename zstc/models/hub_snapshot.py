"""Downloads the files a model needs from the Hugging Face hub, at a pinned revision.

Only what the container loads is fetched: the config, the tokenizer files and one weights format
(safetensors when the repository has it, the PyTorch .bin files otherwise). A repository such as
facebook/bart-large-mnli also holds TensorFlow, Flax and Rust copies of its weights; fetching and
packaging those would multiply the size of model.tar.gz for nothing.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# Files at the repository root that configure the model and its tokenizer. Sentence-transformers
# repositories (the bi-encoder alternative) add modules.json and a pooling config in a subfolder.
CONFIG_AND_TOKENIZER_PATTERNS: tuple[str, ...] = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "spm.model",
    "*sentencepiece*.model",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "*_Pooling/config.json",
)
SAFETENSORS_PATTERNS: tuple[str, ...] = ("model.safetensors", "model-*-of-*.safetensors")
SAFETENSORS_INDEX = "model.safetensors.index.json"
PYTORCH_BIN_PATTERNS: tuple[str, ...] = (
    "pytorch_model.bin",
    "pytorch_model-*-of-*.bin",
    "pytorch_model.bin.index.json",
)

# The signature of huggingface_hub.snapshot_download, injectable so tests can stop at the network
# boundary.
SnapshotDownloader = Callable[..., Any]


class HubDownloadError(RuntimeError):
    """The model could not be fetched from the hub (or from the local hub cache)."""


def _matches(relative_path: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(relative_path, pattern) for pattern in patterns)


def select_model_files(snapshot_dir: Path) -> list[Path]:
    """The files of a downloaded snapshot that belong in the model directory, sorted.

    A hub cache snapshot may hold more than this download asked for (an earlier full download of
    the same revision), so the selection is applied again here, not only at download time.
    Safetensors win over .bin files when both are present.
    """
    found = sorted(
        path.relative_to(snapshot_dir).as_posix()
        for path in snapshot_dir.rglob("*")
        if path.is_file() and ".cache" not in path.relative_to(snapshot_dir).parts
    )
    wanted = [name for name in found if _matches(name, CONFIG_AND_TOKENIZER_PATTERNS)]
    safetensors = [name for name in found if _matches(name, SAFETENSORS_PATTERNS)]
    if safetensors:
        wanted += safetensors + [name for name in found if name == SAFETENSORS_INDEX]
    else:
        wanted += [name for name in found if _matches(name, PYTORCH_BIN_PATTERNS)]
    return [snapshot_dir / name for name in sorted(wanted)]


def _has_weights(snapshot_dir: Path) -> bool:
    return any(
        _matches(path.name, SAFETENSORS_PATTERNS + PYTORCH_BIN_PATTERNS)
        for path in snapshot_dir.iterdir()
        if path.is_file()
    )


def download_snapshot(
    *,
    model_id: str,
    revision: str,
    cache_dir: Path | None = None,
    downloader: SnapshotDownloader | None = None,
) -> Path:
    """Downloads (or finds in the hub cache) model_id at revision; returns the snapshot dir.

    The revision should be a commit hash so that the packaged model never changes under a user;
    a branch name works too. The standard Hugging Face cache is used unless cache_dir is given,
    so a model downloaded once is reused, also with HF_HUB_OFFLINE=1.
    """
    if not model_id:
        raise HubDownloadError("hub_model_id: must not be empty; expected an id such as org/name")
    if not revision:
        raise HubDownloadError(
            f"hub_revision: must not be empty for {model_id!r}; expected a commit hash, tag or "
            "branch of the model repository"
        )
    if downloader is None:
        from huggingface_hub import snapshot_download

        downloader = snapshot_download

    def fetch(patterns: tuple[str, ...]) -> Path:
        return Path(
            downloader(
                repo_id=model_id,
                revision=revision,
                cache_dir=str(cache_dir) if cache_dir is not None else None,
                allow_patterns=list(patterns),
            )
        )

    try:
        # Two requests instead of a file listing: the second one only happens for the few
        # repositories that have no safetensors weights.
        snapshot_dir = fetch(CONFIG_AND_TOKENIZER_PATTERNS + SAFETENSORS_PATTERNS)
        if not _has_weights(snapshot_dir):
            snapshot_dir = fetch(CONFIG_AND_TOKENIZER_PATTERNS + PYTORCH_BIN_PATTERNS)
    except Exception as error:
        raise HubDownloadError(_explain(error, model_id=model_id, revision=revision)) from error
    if not _has_weights(snapshot_dir):
        raise HubDownloadError(
            f"hub_model_id {model_id!r} at revision {revision!r} has no model.safetensors or "
            "pytorch_model.bin weights at the repository root; zstc needs PyTorch weights"
        )
    if not (snapshot_dir / "config.json").is_file():
        raise HubDownloadError(
            f"hub_model_id {model_id!r} at revision {revision!r} has no config.json; it is not a "
            "transformers model"
        )
    return snapshot_dir


def _explain(error: Exception, *, model_id: str, revision: str) -> str:
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"hub_model_id {model_id!r} at revision {revision!r}"
    # Order matters: GatedRepoError is a RepositoryNotFoundError.
    if isinstance(error, GatedRepoError):
        return f"{where} is gated: accept its licence on the hub and log in (HF_TOKEN)"
    if isinstance(error, RepositoryNotFoundError):
        return f"{where}: no such model repository on the hub (or it is private)"
    if isinstance(error, RevisionNotFoundError):
        return f"{where}: the repository has no such branch, tag or commit"
    if isinstance(error, LocalEntryNotFoundError):
        return (
            f"{where} is not in the local Hugging Face cache and could not be downloaded "
            "(HF_HUB_OFFLINE=1 is set, or the hub is unreachable). Download it once with network "
            "access, unset HF_HUB_OFFLINE, or point model_weights at a local model directory. "
            f"Cause: {error}"
        )
    return f"{where} could not be downloaded: {type(error).__name__}: {error}"

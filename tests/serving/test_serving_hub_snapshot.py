"""Hub weights for model.tar.gz: the right download request, up to the network boundary."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import huggingface_hub
import pytest
from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.utils import filter_repo_objects

from zstc.models.artifact import build_model_archive
from zstc.models.hub_snapshot import HubDownloadError, download_snapshot, select_model_files

PINNED = "d7645e127eaf1aefc7862fd59a17a5aa8558b8ce"

# The files of facebook/bart-large-mnli's repository: five copies of the weights.
BART_MNLI_REPO = (
    ".gitattributes",
    "README.md",
    "config.json",
    "flax_model.msgpack",
    "merges.txt",
    "model.safetensors",
    "pytorch_model.bin",
    "rust_model.ot",
    "tf_model.h5",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
)
BART_MNLI_LABEL2ID = {"contradiction": 0, "neutral": 1, "entailment": 2}
BIN_ONLY_REPO = ("config.json", "pytorch_model.bin", "vocab.txt", "tokenizer_config.json")


class FakeHub:
    """Stands in for huggingface_hub.snapshot_download: records the calls and, like the real
    one, materializes only the repository files that the allow patterns select."""

    def __init__(self, *, root: Path, repo_files: tuple[str, ...]) -> None:
        self.root = root
        self.repo_files = repo_files
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> str:
        self.calls.append(kwargs)
        snapshot = self.root / "snapshots" / kwargs["revision"]
        selected = filter_repo_objects(self.repo_files, allow_patterns=kwargs["allow_patterns"])
        for name in selected:
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            (snapshot / name).write_text(
                # The real config.json is JSON, and packaging reads its labels: bart-large-mnli's.
                json.dumps({"label2id": BART_MNLI_LABEL2ID})
                if name == "config.json"
                else f"contents of {name}"
            )
        return str(snapshot)


def _code_dir(tmp_path: Path) -> Path:
    code = tmp_path / "code-src"
    code.mkdir()
    (code / "inference.py").write_text("def model_fn(model_dir):\n    return model_dir\n")
    return code


def test_the_request_names_the_model_the_pinned_revision_and_only_needed_files(
    tmp_path: Path,
) -> None:
    hub = FakeHub(root=tmp_path / "hub", repo_files=BART_MNLI_REPO)

    snapshot = download_snapshot(
        model_id="facebook/bart-large-mnli", revision=PINNED, downloader=hub
    )

    assert len(hub.calls) == 1, "safetensors were found, so no second request is made"
    call = hub.calls[0]
    assert call["repo_id"] == "facebook/bart-large-mnli"
    assert call["revision"] == PINNED
    fetched = set(filter_repo_objects(BART_MNLI_REPO, allow_patterns=call["allow_patterns"]))
    assert fetched == {
        "config.json",
        "merges.txt",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
    }
    assert snapshot == tmp_path / "hub" / "snapshots" / PINNED


def test_a_repository_without_safetensors_falls_back_to_pytorch_bin(tmp_path: Path) -> None:
    hub = FakeHub(root=tmp_path / "hub", repo_files=BIN_ONLY_REPO)

    snapshot = download_snapshot(model_id="org/bin-only", revision=PINNED, downloader=hub)

    assert len(hub.calls) == 2
    assert "pytorch_model.bin" in filter_repo_objects(
        BIN_ONLY_REPO, allow_patterns=hub.calls[1]["allow_patterns"]
    )
    assert {path.name for path in select_model_files(snapshot)} == set(BIN_ONLY_REPO)


def test_a_fully_cached_snapshot_contributes_only_one_weights_format(tmp_path: Path) -> None:
    # An earlier full download left every file of the repository in the cache snapshot.
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    for name in BART_MNLI_REPO:
        (snapshot / name).write_text(name)

    selected = {path.name for path in select_model_files(snapshot)}

    assert "model.safetensors" in selected
    assert not selected & {
        "pytorch_model.bin",
        "tf_model.h5",
        "flax_model.msgpack",
        "rust_model.ot",
    }
    assert not selected & {"README.md", ".gitattributes"}


def test_build_model_archive_packages_the_hub_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = FakeHub(root=tmp_path / "hub", repo_files=BART_MNLI_REPO)
    # The network boundary: the real downloader is replaced, everything above it runs.
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub)

    archive = build_model_archive(
        tmp_path / "model.tar.gz",
        code_dir=_code_dir(tmp_path),
        hub_model_id="facebook/bart-large-mnli",
        hub_revision=PINNED,
    )

    assert hub.calls[0]["repo_id"] == "facebook/bart-large-mnli"
    with tarfile.open(archive, "r:gz") as tar:
        files = {member.name for member in tar.getmembers() if member.isfile()}
    assert files == {
        "code/inference.py",
        "config.json",
        "merges.txt",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
    }


def test_offline_without_a_cached_copy_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real downloader, offline, with an empty cache: nothing leaves this machine.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    with pytest.raises(HubDownloadError) as raised:
        download_snapshot(
            model_id="facebook/bart-large-mnli", revision=PINNED, cache_dir=tmp_path / "empty"
        )

    message = str(raised.value)
    assert "'facebook/bart-large-mnli'" in message
    assert PINNED in message
    assert "HF_HUB_OFFLINE" in message
    assert "local model directory" in message


def test_offline_with_a_cached_copy_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    # The hub cache layout: models--org--name/snapshots/<commit>/<files>.
    snapshot = tmp_path / "cache" / "models--org--tiny" / "snapshots" / PINNED
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (snapshot / name).write_text(name)

    found = download_snapshot(model_id="org/tiny", revision=PINNED, cache_dir=tmp_path / "cache")

    assert found == snapshot


@pytest.mark.parametrize(
    ("error", "explained"),
    [
        (RepositoryNotFoundError("404 Client Error"), "no such model repository"),
        (RevisionNotFoundError("404 Client Error"), "no such branch, tag or commit"),
        (ConnectionError("connection reset"), "could not be downloaded: ConnectionError"),
    ],
)
def test_hub_failures_are_explained(error: Exception, explained: str) -> None:
    def failing_downloader(**kwargs: Any) -> str:
        raise error

    with pytest.raises(HubDownloadError, match=explained) as raised:
        download_snapshot(model_id="org/model", revision="v1", downloader=failing_downloader)
    assert "'org/model' at revision 'v1'" in str(raised.value)


def test_a_repository_without_pytorch_weights_is_refused(tmp_path: Path) -> None:
    hub = FakeHub(root=tmp_path / "hub", repo_files=("config.json", "tf_model.h5", "vocab.txt"))

    with pytest.raises(HubDownloadError, match=r"no model\.safetensors or pytorch_model\.bin"):
        download_snapshot(model_id="org/tf-only", revision=PINNED, downloader=hub)

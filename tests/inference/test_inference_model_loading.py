"""Model loading: weights from the model dir or the hub, kind detection, clear load errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from model_loading import (
    HUB_ALLOW_PATTERNS,
    HUB_FALLBACK_WEIGHT_PATTERNS,
    detect_kind,
    download_snapshot,
    kind_from_env,
    load_classifier,
    load_classifier_from_env,
    resolve_model_dir,
)
from nli_classifier import ModelLoadError, find_entailment_id
from nli_label_orders import NliModelFactory
from token_batching import max_batch_tokens_from_env


def test_model_without_entailment_label_is_rejected_at_load(
    make_tiny_nli_model: NliModelFactory,
) -> None:
    model_dir = make_tiny_nli_model(label2id={"positive": 0, "negative": 1}, seed=11)
    with pytest.raises(ModelLoadError, match=r"label2id .*'positive'.* has no entailment label"):
        load_classifier(model_dir, precision="fp32")


def test_entailment_label_is_found_like_the_pipeline() -> None:
    assert find_entailment_id({"CONTRADICTION": 0, "NEUTRAL": 1, "ENTAILMENT": 2}) == 2
    assert find_entailment_id({"entailment": 0, "not_entailment": 1}) == 0
    assert find_entailment_id({"LABEL_0": 0, "Entails": 1}) == 1


def test_model_dir_with_weights_is_used_as_is(tiny_nli_model_dir: Path) -> None:
    def no_download(**kwargs: Any) -> str:
        raise AssertionError(f"nothing may be downloaded: {kwargs}")

    resolved = resolve_model_dir(
        model_dir=tiny_nli_model_dir,
        environ={"ZSTC_MODEL_ID": "facebook/bart-large-mnli"},
        downloader=no_download,
    )
    assert resolved == tiny_nli_model_dir


def test_code_only_model_dir_loads_the_hub_model_at_the_pinned_revision(
    tiny_nli_model_dir: Path, tmp_path: Path
) -> None:
    code_only = tmp_path / "model"
    (code_only / "code").mkdir(parents=True)
    calls: list[dict[str, Any]] = []

    def fake_snapshot_download(**kwargs: Any) -> str:
        calls.append(kwargs)
        return str(tiny_nli_model_dir)

    classifier = load_classifier_from_env(
        model_dir=code_only,
        environ={
            "ZSTC_MODEL_ID": "facebook/bart-large-mnli",
            "ZSTC_MODEL_REVISION": "d7645e1",
            "ZSTC_PRECISION": "fp32",
        },
        downloader=fake_snapshot_download,
    )
    assert calls == [
        {
            "repo_id": "facebook/bart-large-mnli",
            "revision": "d7645e1",
            "allow_patterns": HUB_ALLOW_PATTERNS,
        }
    ]
    assert classifier.kind == "nli"
    assert classifier.classify(["run"], ["Health", "Career"])[0]["sequence"] == "run"


def test_hub_repo_with_only_bin_weights_downloads_them_in_a_second_pass(
    tiny_nli_model_dir: Path, tmp_path: Path
) -> None:
    configs_only = tmp_path / "configs-only"
    configs_only.mkdir()
    shutil.copy(tiny_nli_model_dir / "config.json", configs_only / "config.json")
    calls: list[dict[str, Any]] = []

    def fake_snapshot_download(**kwargs: Any) -> str:
        calls.append(kwargs)
        return str(configs_only if len(calls) == 1 else tiny_nli_model_dir)

    snapshot = download_snapshot(
        model_id="org/model", revision="main", downloader=fake_snapshot_download
    )
    assert snapshot == tiny_nli_model_dir
    assert [call["allow_patterns"] for call in calls] == [
        HUB_ALLOW_PATTERNS,
        HUB_FALLBACK_WEIGHT_PATTERNS,
    ]


def test_revision_defaults_to_main(tiny_nli_model_dir: Path, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def fake_snapshot_download(**kwargs: Any) -> str:
        calls.append(kwargs)
        return str(tiny_nli_model_dir)

    resolve_model_dir(
        model_dir=tmp_path,
        environ={"ZSTC_MODEL_ID": "org/model"},
        downloader=fake_snapshot_download,
    )
    assert calls[0]["revision"] == "main"


def test_offline_hub_download_fails_with_a_clear_message(tmp_path: Path) -> None:
    # HF_HUB_OFFLINE=1 is set for the whole suite (tests/conftest.py): the real downloader runs
    # up to the network boundary and must explain what to do instead.
    with pytest.raises(ModelLoadError) as raised:
        resolve_model_dir(
            model_dir=tmp_path,
            environ={"ZSTC_MODEL_ID": "zstc-tests/no-such-model", "ZSTC_MODEL_REVISION": "main"},
        )
    message = str(raised.value)
    assert "'zstc-tests/no-such-model'" in message
    assert "HF_HUB_OFFLINE" in message
    assert "model.tar.gz" in message


def test_no_weights_and_no_model_id_names_both_options(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"holds no model weights.*ZSTC_MODEL_ID is not set"):
        resolve_model_dir(model_dir=tmp_path, environ={})


def test_kind_detection(minilm_model_dir: Path, tiny_nli_model_dir: Path, tmp_path: Path) -> None:
    assert detect_kind(model_dir=minilm_model_dir, requested="auto") == "embedding"
    assert detect_kind(model_dir=tiny_nli_model_dir, requested="auto") == "nli"
    assert detect_kind(model_dir=tiny_nli_model_dir, requested="embedding") == "embedding"
    only_pooling = tmp_path / "pooling-only"
    (only_pooling / "1_Pooling").mkdir(parents=True)
    (only_pooling / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_mean_tokens": True})
    )
    assert detect_kind(model_dir=only_pooling, requested="auto") == "embedding"
    assert kind_from_env({"ZSTC_MODEL_KIND": "Embedding"}) == "embedding"
    with pytest.raises(ValueError, match=r"ZSTC_MODEL_KIND='bi-encoder' is not allowed"):
        kind_from_env({"ZSTC_MODEL_KIND": "bi-encoder"})


def test_forcing_nli_kind_on_an_embedding_model_is_rejected(minilm_model_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="no entailment label"):
        load_classifier(minilm_model_dir, kind="nli", precision="fp32")


def test_batch_token_budget_env() -> None:
    import torch

    assert max_batch_tokens_from_env(device=torch.device("cpu"), environ={}) == 1024
    assert max_batch_tokens_from_env(device=torch.device("cuda"), environ={}) == 16384
    assert (
        max_batch_tokens_from_env(
            device=torch.device("cpu"), environ={"ZSTC_MAX_BATCH_TOKENS": "512"}
        )
        == 512
    )
    with pytest.raises(ValueError, match=r"ZSTC_MAX_BATCH_TOKENS='0' is not allowed"):
        max_batch_tokens_from_env(
            device=torch.device("cpu"), environ={"ZSTC_MAX_BATCH_TOKENS": "0"}
        )

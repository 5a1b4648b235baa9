"""Embedding zero-shot mode on the real offline all-MiniLM-L6-v2: same embeddings as
sentence-transformers, sensible rankings on a labelled sample, the documented score math,
and cached label embeddings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from embedding_classifier import (
    MULTI_LABEL_CENTER,
    EmbeddingClassifier,
    EmbeddingModelError,
    pool,
    read_layout,
)
from inference import input_fn, output_fn, predict_fn
from model_loading import load_classifier
from sentence_transformers import SentenceTransformer

from zstc.evaluation.labelled_sample import BUNDLED_SAMPLE
from zstc.reference_categories import REFERENCE_CATEGORIES

# The labelled sample ships with the client package, for `zstc eval`.
LABELLED_SAMPLE = BUNDLED_SAMPLE
CATEGORIES = list(REFERENCE_CATEGORIES)
# Measured: 22 of 27 (0.81) with the default template; chance is 1 in 9 (0.11).
MIN_TOP1_ACCURACY = 0.74


@pytest.fixture(scope="module")
def classifier(minilm_model_dir: Path) -> EmbeddingClassifier:
    loaded = load_classifier(minilm_model_dir, precision="fp32")
    assert isinstance(loaded, EmbeddingClassifier)
    return loaded


@pytest.fixture(scope="module")
def labelled_sample() -> list[dict[str, str]]:
    return [json.loads(line) for line in LABELLED_SAMPLE.read_text(encoding="utf-8").splitlines()]


def test_sentence_transformers_dir_is_detected_as_embedding_kind(
    classifier: EmbeddingClassifier,
) -> None:
    assert classifier.kind == "embedding"
    assert classifier.layout.pooling_modes == ("mean",)
    assert classifier.layout.normalize is True
    assert classifier.max_seq_length == 256


def test_embeddings_match_sentence_transformers(
    classifier: EmbeddingClassifier, minilm_model_dir: Path
) -> None:
    sentences = [
        "  Learn to cook  ",
        "短い",
        "emoji 🎉🎉",
        "This example is Time Management.",
        " ".join(["very long text"] * 200),  # beyond max_seq_length: truncated the same way
        "x",
    ]
    reference = SentenceTransformer(str(minilm_model_dir), device="cpu").encode(
        sentences, convert_to_tensor=True, batch_size=2
    )
    ours = classifier.embed(sentences)
    assert ours.shape == reference.shape
    assert torch.allclose(ours, reference.cpu(), atol=1e-5)


def test_ranks_the_labelled_sample_well_above_chance(
    classifier: EmbeddingClassifier, labelled_sample: list[dict[str, str]]
) -> None:
    results = classifier.classify([row["inputs"] for row in labelled_sample], CATEGORIES)
    correct = sum(
        result["labels"][0] == row["label"]
        for result, row in zip(results, labelled_sample, strict=True)
    )
    assert correct / len(labelled_sample) >= MIN_TOP1_ACCURACY
    for result in results:
        assert sum(result["scores"]) == pytest.approx(1.0, abs=1e-6)
        assert result["scores"] == sorted(result["scores"], reverse=True)


def test_multi_label_scores_are_independent_and_calibrated(
    classifier: EmbeddingClassifier,
) -> None:
    text = "Improve my personal finance: stick to a budget and save money"
    both = classifier.classify([text], ["Finance", "Humor"], multi_label=True)[0]
    alone = classifier.classify([text], ["Finance"], multi_label=True)[0]
    scores = dict(zip(both["labels"], both["scores"], strict=True))
    # Independent: a label's score does not depend on the other labels asked for.
    assert scores["Finance"] == pytest.approx(alone["scores"][0], abs=1e-6)
    assert scores["Finance"] > 0.5 > scores["Humor"]
    # The documented calibration: sigmoid((cosine - center) / width).
    hypotheses = classifier.embed(["This example is Finance.", text])
    cosine = float(torch.nn.functional.cosine_similarity(hypotheses[0], hypotheses[1], dim=0))
    expected = 1 / (1 + np.exp(-(cosine - MULTI_LABEL_CENTER) / 0.05))
    assert scores["Finance"] == pytest.approx(expected, abs=1e-5)


def test_json_request_through_the_handler_functions(classifier: EmbeddingClassifier) -> None:
    body = json.dumps(
        {
            "inputs": ["Read more books this year", "Run a marathon"],
            "parameters": {"candidate_labels": "Education, Health, Finance"},
        }
    )
    response = json.loads(
        output_fn(predict_fn(input_fn(body, "application/json"), classifier), "application/json")
    )
    assert [item["labels"][0] for item in response] == ["Education", "Health"]


def test_label_embeddings_are_cached_across_requests(
    minilm_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = load_classifier(minilm_model_dir, precision="fp32", warm_up=False)
    assert isinstance(small, EmbeddingClassifier)
    small.hypothesis_cache_size = 3
    embedded: list[str] = []
    original_embed = small.embed

    def counting_embed(sentences: Any, **options: Any) -> torch.Tensor:
        embedded.extend(sentences)
        return original_embed(sentences, **options)

    monkeypatch.setattr(small, "embed", counting_embed)
    first = small.classify(["get fit"], ["Health", "Career"])
    second = small.classify(["get rich"], ["Health", "Career"])
    assert embedded == [
        "get fit",
        "This example is Health.",
        "This example is Career.",
        "get rich",
    ]
    assert first[0]["labels"] and second[0]["labels"]
    # Bounded LRU: the least recently used hypothesis is evicted first.
    small.classify(["x"], ["Finance", "Leisure"])
    assert small.cached_hypotheses() == (
        "This example is Career.",
        "This example is Finance.",
        "This example is Leisure.",
    )
    # Evicted hypotheses are embedded again, and results are unchanged by caching.
    again = small.classify(["get fit"], ["Health", "Career"])
    assert again[0]["scores"] == pytest.approx(first[0]["scores"], abs=1e-6)


def test_pooling_modes_follow_sentence_transformers() -> None:
    tokens = torch.tensor([[[1.0, 2.0], [3.0, -4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert pool(token_embeddings=tokens, mask=mask, modes=["cls"]).tolist() == [[1.0, 2.0]]
    assert pool(token_embeddings=tokens, mask=mask, modes=["mean"]).tolist() == [[2.0, -1.0]]
    assert pool(token_embeddings=tokens, mask=mask, modes=["max"]).tolist() == [[3.0, 2.0]]
    assert pool(token_embeddings=tokens, mask=mask, modes=["lasttoken"]).tolist() == [[3.0, -4.0]]
    sqrt_len = pool(token_embeddings=tokens, mask=mask, modes=["mean_sqrt_len"])
    assert sqrt_len[0].tolist() == pytest.approx([4.0 / 2**0.5, -2.0 / 2**0.5])
    assert pool(token_embeddings=tokens, mask=mask, modes=["cls", "mean"]).shape == (1, 4)


def test_unsupported_sentence_transformers_module_is_rejected_clearly(
    minilm_model_dir: Path, tmp_path: Path
) -> None:
    model_dir = tmp_path / "with-dense"
    shutil.copytree(minilm_model_dir, model_dir)
    modules = json.loads((model_dir / "modules.json").read_text())
    modules.append(
        {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}
    )
    (model_dir / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(EmbeddingModelError, match=r"sentence_transformers\.models\.Dense"):
        read_layout(model_dir)


def test_cls_pooling_config_is_followed(minilm_model_dir: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "cls-pooling"
    shutil.copytree(minilm_model_dir, model_dir)
    pooling_file = model_dir / "1_Pooling" / "config.json"
    pooling = json.loads(pooling_file.read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling_file.write_text(json.dumps(pooling))
    ours = load_classifier(model_dir, precision="fp32", warm_up=False)
    assert isinstance(ours, EmbeddingClassifier)
    reference = SentenceTransformer(str(model_dir), device="cpu")
    sentences = ["Volunteer at the shelter", "Learn Spanish"]
    expected = reference.encode(sentences, convert_to_tensor=True).cpu()
    assert torch.allclose(ours.embed(sentences), expected, atol=1e-5)


def test_default_prompt_is_prepended_like_sentence_transformers(
    minilm_model_dir: Path, tmp_path: Path
) -> None:
    model_dir = tmp_path / "with-prompt"
    shutil.copytree(minilm_model_dir, model_dir)
    config_file = model_dir / "config_sentence_transformers.json"
    config = json.loads(config_file.read_text())
    config.update(prompts={"classification": "classify: "}, default_prompt_name="classification")
    config_file.write_text(json.dumps(config))
    ours = load_classifier(model_dir, precision="fp32", warm_up=False)
    assert isinstance(ours, EmbeddingClassifier)
    assert ours.layout.default_prompt == "classify: "
    sentences = ["Volunteer at the shelter", "This example is Health."]
    expected = SentenceTransformer(str(model_dir), device="cpu").encode(
        sentences, convert_to_tensor=True
    )
    assert torch.allclose(ours.embed(sentences), expected.cpu(), atol=1e-5)


def test_the_hypothesis_cache_is_bounded_by_bytes(minilm_model_dir: Path) -> None:
    from embedding_classifier import cache_entry_bytes

    small = load_classifier(minilm_model_dir, precision="fp32", warm_up=False)
    assert isinstance(small, EmbeddingClassifier)
    vector_bytes = 384 * 4
    small.hypothesis_cache_bytes = 3 * (vector_bytes + 256 + 200)
    long_labels = [f"{index} " + "long label " * 60 for index in range(4)]

    small.classify(["get fit"], ["Health", "Career"])
    small.classify(["get fit"], long_labels)

    assert small.cached_bytes() <= small.hypothesis_cache_bytes
    # Long entries cost about 2.5 KB each, so two fit; the short ones, used least recently, went.
    assert "This example is Health." not in small.cached_hypotheses()
    entries = small.cached_hypotheses()
    assert small.cached_bytes() == sum(
        cache_entry_bytes(h, small._hypothesis_cache[h]) for h in entries
    )

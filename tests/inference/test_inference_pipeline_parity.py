"""Scores equal transformers.pipeline("zero-shot-classification") within 1e-5 at fp32.

Cases are generated from a fixed seed: single- and multi-label, one label, list inputs,
comma-separated labels, custom templates, unicode and emoji, texts far beyond the model's
length (so the premise really is truncated), and both label orders of real NLI checkpoints.
Each case goes through the request path the endpoint uses (input_fn, predict_fn, output_fn).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from classification_result import ZeroShotClassifier
from inference import input_fn, output_fn, predict_fn
from model_loading import load_classifier
from nli_label_orders import ENTAILMENT_FIRST, ENTAILMENT_LAST, NliModelFactory
from request_contract import RequestError
from transformers import pipeline

from zstc.reference_categories import REFERENCE_CATEGORIES

TOLERANCE = 1e-5
CASES_PER_MODEL = 40
WORDS = (
    "run",
    "read",
    "books",
    "gym",
    "career",
    "money",
    "save",
    "budget",
    "learn",
    "python",
    "family",
    "travel",
    "volunteer",
    "charity",
    "sleep",
    "early",
    "late",
    "night",
    "coffee",
    "less",
    "sugar",
    "more",
    "water",
    "meditate",
    "piano",
    "guitar",
    "promotion",
    "job",
    "invest",
    "stocks",
    "debt",
    "free",
    "marathon",
    "yoga",
    "spanish",
    "course",
    "degree",
    "friends",
    "kindness",
    "donate",
    "time",
    "plan",
    "calendar",
    "focus",
    "habit",
    "journal",
    "walk",
    "dog",
    "garden",
    "cook",
    "healthy",
    "laugh",
    "jokes",
    "funny",
)
UNICODE_WORDS = ["café", "naïve", "日本語", "résumé", "🏃", "💰", "📚", "😂", "Zürich", "straße"]
LABELS = [
    *REFERENCE_CATEGORIES,
    "santé 🍎",
    "日本",
]
TEMPLATES = [
    "This example is {}.",
    "This text is about {}.",
    "{}",
    "Topic: {} 🎯",
    "Il s'agit de {}.",
]


def _text(rng: random.Random, *, max_words: int) -> str:
    words = [
        rng.choice(UNICODE_WORDS) if rng.random() < 0.15 else rng.choice(WORDS)
        for _ in range(rng.randint(1, max_words))
    ]
    return " ".join(words).capitalize() + rng.choice(["", ".", "!", " #newyearsresolution"])


def generated_cases(seed: int, *, max_words: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(CASES_PER_MODEL):
        labels = rng.sample(LABELS, rng.choice([1, 1, 2, 3, 5, 9]))
        case: dict[str, Any] = {
            "texts": [_text(rng, max_words=max_words) for _ in range(rng.randint(1, 3))],
            "labels": labels,
            "template": rng.choice(TEMPLATES),
            "multi_label": rng.random() < 0.5,
            "labels_as_string": rng.random() < 0.3 and all("," not in label for label in labels),
            "inputs_as_list": rng.random() < 0.5,
        }
        if not case["inputs_as_list"]:
            case["texts"] = case["texts"][:1]
        cases.append(case)
    return cases


def _request_body(case: dict[str, Any]) -> str:
    labels = ", ".join(case["labels"]) if case["labels_as_string"] else case["labels"]
    inputs = case["texts"] if case["inputs_as_list"] else case["texts"][0]
    return json.dumps(
        {
            "inputs": inputs,
            "parameters": {
                "candidate_labels": labels,
                "multi_label": case["multi_label"],
                "hypothesis_template": case["template"],
            },
        }
    )


def _assert_same(ours: dict[str, Any], reference: dict[str, Any]) -> None:
    assert ours["sequence"] == reference["sequence"]
    assert sorted(ours["labels"]) == sorted(reference["labels"])
    reference_scores = dict(zip(reference["labels"], reference["scores"], strict=True))
    for label, score in zip(ours["labels"], ours["scores"], strict=True):
        assert score == pytest.approx(reference_scores[label], abs=TOLERANCE), label
    # Same ranking wherever the scores are not tied within the tolerance.
    for position in range(len(ours["scores"]) - 1):
        assert ours["scores"][position] >= ours["scores"][position + 1]
        if reference["scores"][position] - reference["scores"][position + 1] > TOLERANCE:
            assert ours["labels"][position] == reference["labels"][position]


MODEL_VARIANTS: dict[str, dict[str, Any]] = {
    "entailment-last": {"label2id": ENTAILMENT_LAST, "seed": 1},
    "entailment-first": {"label2id": ENTAILMENT_FIRST, "seed": 2},
    # 64 positions: most generated texts are longer, so truncation of the premise is exercised.
    "short-max-length": {"label2id": ENTAILMENT_LAST, "seed": 3, "max_position_embeddings": 64},
}


@pytest.fixture(scope="module", params=sorted(MODEL_VARIANTS))
def model_pair(
    request: pytest.FixtureRequest, make_tiny_nli_model: NliModelFactory
) -> tuple[str, Path, ZeroShotClassifier, Any]:
    variant = MODEL_VARIANTS[request.param]
    model_dir = make_tiny_nli_model(**variant)
    classifier = load_classifier(model_dir, precision="fp32", kind="nli")
    reference = pipeline(
        "zero-shot-classification", model=str(model_dir), tokenizer=str(model_dir), device=-1
    )
    return request.param, model_dir, classifier, reference


def test_generated_requests_score_like_the_pipeline(
    model_pair: tuple[str, Path, ZeroShotClassifier, Any],
) -> None:
    name, _, classifier, reference = model_pair
    max_words = 150 if name == "short-max-length" else 40
    cases = generated_cases(seed=sorted(MODEL_VARIANTS).index(name), max_words=max_words)
    for case in cases:
        parsed = input_fn(_request_body(case), "application/json")
        ours = json.loads(output_fn(predict_fn(parsed, classifier), "application/json"))
        expected = reference(
            case["texts"] if case["inputs_as_list"] else case["texts"][0],
            candidate_labels=case["labels"],
            hypothesis_template=case["template"],
            multi_label=case["multi_label"],
        )
        if case["inputs_as_list"]:
            assert isinstance(ours, list)
            assert len(ours) == len(expected)
            for our_result, expected_result in zip(ours, expected, strict=True):
                _assert_same(our_result, expected_result)
        else:
            assert isinstance(ours, dict)
            _assert_same(ours, expected)


def test_long_premise_is_truncated_not_rejected(
    model_pair: tuple[str, Path, ZeroShotClassifier, Any],
) -> None:
    _, _, classifier, reference = model_pair
    text = "resolution " + " ".join(["marathon training plan"] * 400) + " 🏃"
    labels = ["Health", "Finance", "Career"]
    for multi_label in (False, True):
        ours = classifier.classify([text], labels, "This example is {}.", multi_label)[0]
        expected = reference(text, candidate_labels=labels, multi_label=multi_label)
        _assert_same(ours, expected)


def test_json_lines_batch_scores_like_the_pipeline_line_by_line(
    model_pair: tuple[str, Path, ZeroShotClassifier, Any],
) -> None:
    """Lines with different labels, templates and modes are batched together; still exact."""
    _, _, classifier, reference = model_pair
    cases = generated_cases(seed=99, max_words=30)[:12]
    lines = []
    for number, case in enumerate(cases):
        lines.append(
            json.dumps(
                {
                    "id": f"rec-{number}",
                    "inputs": case["texts"][0],
                    "parameters": {
                        "candidate_labels": case["labels"],
                        "multi_label": case["multi_label"],
                        "hypothesis_template": case["template"],
                    },
                }
            )
        )
    parsed = input_fn(("\n".join(lines) + "\n").encode(), "application/jsonlines")
    body = output_fn(predict_fn(parsed, classifier), "application/jsonlines")
    outputs = [json.loads(line) for line in body.splitlines()]
    assert [output["id"] for output in outputs] == [f"rec-{n}" for n in range(len(cases))]
    for case, output in zip(cases, outputs, strict=True):
        expected = reference(
            case["texts"][0],
            candidate_labels=case["labels"],
            hypothesis_template=case["template"],
            multi_label=case["multi_label"],
        )
        _assert_same(output, expected)


def test_batching_budget_does_not_change_scores(tiny_nli_model_dir: Path) -> None:
    """Padding to a batch's longest pair must not move any score (right padding + mask)."""
    texts = [_text(random.Random(seed), max_words=50) for seed in range(10)]
    labels = ["Health", "Humor", "Career", "Finance"]
    one_pair_per_batch = load_classifier(
        tiny_nli_model_dir, precision="fp32", max_batch_tokens=1, warm_up=False
    )
    everything_in_one_batch = load_classifier(
        tiny_nli_model_dir, precision="fp32", max_batch_tokens=100_000, warm_up=False
    )
    alone = one_pair_per_batch.classify(texts, labels)
    together = everything_in_one_batch.classify(texts, labels)
    for single, batched in zip(alone, together, strict=True):
        assert batched["scores"] == pytest.approx(single["scores"], abs=TOLERANCE)
        assert batched["labels"] == single["labels"]


def test_hypothesis_longer_than_the_model_fails_only_its_own_line(
    make_tiny_nli_model: NliModelFactory,
) -> None:
    """The pipeline crashes on such a pair; zstc names the problem and answers the rest."""
    model_dir = make_tiny_nli_model(**MODEL_VARIANTS["short-max-length"])
    classifier = load_classifier(model_dir, precision="fp32", warm_up=False)
    long_template = "This example, " + "which is long, " * 17 + "is about {}."
    good = {"candidate_labels": ["Health", "Career"]}
    bad = {**good, "hypothesis_template": long_template}
    with pytest.raises(RequestError, match=r"too long for the model.*the model takes 64"):
        predict_fn(
            input_fn(json.dumps({"inputs": "run", "parameters": bad}), "application/json"),
            classifier,
        )
    body = "\n".join(
        json.dumps({"id": n, "inputs": "run", "parameters": parameters})
        for n, parameters in enumerate([good, bad, good])
    )
    response = output_fn(
        predict_fn(input_fn(body, "application/jsonlines"), classifier), "application/jsonlines"
    )
    outputs = [json.loads(line) for line in response.splitlines()]
    assert [("error" in output) for output in outputs] == [False, True, False]
    assert "too long for the model" in outputs[1]["error"]

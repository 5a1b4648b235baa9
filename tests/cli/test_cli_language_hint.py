"""The hint for labels that are clearly not English (zstc/label_language.py), in the client and
the demo, and the bundled Chinese sample behind `zstc eval --sample zh`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from zstc import demo
from zstc.cli import main
from zstc.evaluation.labelled_sample import BUNDLED_SAMPLE, BUNDLED_SAMPLE_ZH, read_labelled_sample
from zstc.label_language import language_hint, letter_script, non_latin_script
from zstc.reference_categories import REFERENCE_CATEGORIES, REFERENCE_CATEGORIES_ZH


@pytest.mark.parametrize(
    ("labels", "script"),
    [
        (REFERENCE_CATEGORIES_ZH, "Han (Chinese characters)"),
        (REFERENCE_CATEGORIES, None),
        # Latin-script languages are not told apart from English: no word lists.
        (["santé", "carrière", "éducation"], None),
        (["здоровье", "работа"], "Cyrillic"),
        (["けんこう", "しごと"], "Japanese kana"),
        (["건강", "직업"], "Hangul (Korean)"),
        (["صحة", "تعليم"], "Arabic"),
        # More than half of the letters decide: 6 Latin letters against 2 Han ones.
        (["Health", "健康"], None),
        (["健康 fit", "金融"], "Han (Chinese characters)"),
        # Digits, emoji and punctuation are not letters.
        (["2024 🎯", "#1!"], None),
        ([], None),
    ],
)
def test_script_rule(labels: list[str], script: str | None) -> None:
    assert non_latin_script(labels) == script


def test_letter_script_of_odd_characters() -> None:
    assert letter_script("\uff28") == "Latin"  # fullwidth Latin
    assert letter_script("ß") == "Latin"
    assert letter_script("7") is None
    assert letter_script("\u1200") == "Ethiopic"


def test_hint_names_the_script_the_models_and_the_docs_page() -> None:
    hint = language_hint(REFERENCE_CATEGORIES_ZH)
    assert hint is not None
    assert "Han (Chinese characters)" in hint and "facebook/bart-large-mnli" in hint
    assert "mDeBERTa-v3-base-mnli-xnli" in hint and "zstc eval" in hint
    assert "docs/multilingual.md" in hint
    assert language_hint(REFERENCE_CATEGORIES) is None


def test_classify_hints_before_anything_is_sent(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 9 (discard) refuses the connection: the hint still came first, once.
    code = main(["classify", "多读书", "--labels", "健康,教育", "--local", "127.0.0.1:9"])
    assert code != 0
    err = capsys.readouterr().err
    assert err.count("hint: the labels are written in Han") == 1
    assert err.index("hint:") < err.index("error")


def test_classify_says_nothing_for_english_labels(capsys: pytest.CaptureFixture[str]) -> None:
    main(["classify", "read more", "--labels", "Health,Education", "--local", "127.0.0.1:9"])
    assert "hint:" not in capsys.readouterr().err


def test_demo_hints_only_for_its_bundled_english_model() -> None:
    chinese = read_labelled_sample(BUNDLED_SAMPLE_ZH).labels
    assert demo.bundled_model_language_hint(model=None, labels=chinese) is not None
    assert "all-MiniLM-L6-v2" in str(demo.bundled_model_language_hint(model=None, labels=chinese))
    # A model the user chose may well be multilingual: no hint.
    assert demo.bundled_model_language_hint(model="some/xnli-model", labels=chinese) is None
    english = read_labelled_sample(BUNDLED_SAMPLE).labels
    assert demo.bundled_model_language_hint(model=None, labels=english) is None


def test_demo_takes_the_chinese_labelled_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run_demo(**kwargs: Any) -> Any:
        seen.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "run_demo", fake_run_demo)
    assert demo.main(["--labelled-sample", str(BUNDLED_SAMPLE_ZH)]) == 130
    assert seen["labelled_sample"] == BUNDLED_SAMPLE_ZH
    demo.main([])
    assert seen["labelled_sample"] == BUNDLED_SAMPLE


def test_chinese_sample_has_the_reference_categories_three_texts_each() -> None:
    lines = BUNDLED_SAMPLE_ZH.read_text(encoding="utf-8").splitlines()
    sample = read_labelled_sample(BUNDLED_SAMPLE_ZH)
    assert sample.labels == REFERENCE_CATEGORIES_ZH
    assert len(sample.examples) == 27
    for label in REFERENCE_CATEGORIES_ZH:
        assert sum(example.true_labels == (label,) for example in sample.examples) == 3
    # Written as readable UTF-8, one record per line, ids unique.
    assert all("\\u" not in line for line in lines)
    assert len({json.loads(line)["id"] for line in lines}) == len(lines)


def test_eval_sample_and_file_are_exclusive(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["eval", str(tmp_path / "mine.jsonl"), "--sample", "zh"]) == 2
    assert "give FILE or --sample, not both" in capsys.readouterr().err

"""`zstc eval --report` on the Chinese sample draws every glyph: Noto Sans CJK (noto-cjk-sans-otc)
backs up matplotlib's DejaVu Sans. Without it, the characters that would be boxes are named on
stderr and in the page. matplotlib reports a glyph no font has as a UserWarning "Glyph N (...)
missing from font(s) ..." (matplotlib/_text_helpers.py, warn_on_missing_glyph); those are
captured here."""

from __future__ import annotations

import json
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from zstc.cli import main
from zstc.evaluation.labelled_sample import BUNDLED_SAMPLE_ZH, read_labelled_sample
from zstc.evaluation.report_files import CJK_FONT_FAMILY, choose_fonts
from zstc.reference_categories import CHINESE_TEMPLATE, REFERENCE_CATEGORIES_ZH

TEMPLATES = (CHINESE_TEMPLATE, "This example is {}.")
GLYPH_MISSING = re.compile(r"Glyph \d+ \((.*)\) missing from font")


def _missing_glyph_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if GLYPH_MISSING.search(str(w.message))]


def _eval_with_report(directory: Path) -> tuple[int, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(
            [
                "eval",
                "--sample",
                "zh",
                *(argument for template in TEMPLATES for argument in ("--template", template)),
                "--resamples",
                "200",
                "--report",
                str(directory),
            ]
        )
    return code, _missing_glyph_warnings(caught)


@pytest.fixture
def without_cjk_font(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A None entry in sys.modules makes `import noto_cjk_sans_otc` raise ImportError, as on a
    # machine without the report extra.
    monkeypatch.setitem(sys.modules, "noto_cjk_sans_otc", None)
    yield


def test_chinese_sample_report_has_no_missing_glyph(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, missing = _eval_with_report(tmp_path / "report")
    assert code == 0
    assert missing == []
    assert "boxes" not in capsys.readouterr().err
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    for label in REFERENCE_CATEGORIES_ZH:
        assert f"<td>{label}</td>" in page
    assert 'class="warning"' not in page
    # Both templates were scored and compared, their names kept as written.
    evaluation = json.loads((tmp_path / "report" / "evaluation.json").read_text(encoding="utf-8"))
    ranked = [entry["name"] for entry in evaluation["comparison"]["ranking"]]
    assert sorted(ranked) == sorted(repr(template) for template in TEMPLATES)


def test_without_the_cjk_font_the_missing_characters_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], without_cjk_font: None
) -> None:
    code, missing = _eval_with_report(tmp_path / "report")
    assert code == 0
    # The capture works: matplotlib itself complains about the Chinese labels now.
    assert any("CJK UNIFIED IDEOGRAPH" in message for message in missing)
    err = capsys.readouterr().err
    assert "show as boxes" in err and "健" in err and "pip install 'zstc[report]'" in err
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert 'class="warning"' in page and "pip install" in page


def test_font_choice_covers_the_sample_and_names_what_it_cannot_draw() -> None:
    sample = read_labelled_sample(BUNDLED_SAMPLE_ZH)
    fonts = choose_fonts([*sample.labels, *TEMPLATES, "もっと本を読む", "책", "Zürich"])
    assert fonts.families[-1] == CJK_FONT_FAMILY
    assert fonts.missing == ""
    # An emoji is in neither font: it is named, not silently boxed.
    assert choose_fonts(["健康 🎯"]).missing == "🎯"

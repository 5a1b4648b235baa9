"""The `zstc eval` command line: tables, bad lines by number, model comparison, usage errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from eval_test_support import write_jsonl

from zstc.cli import main


def test_help_lists_eval(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "eval" in capsys.readouterr().out
    assert main(["eval", "--help"]) == 0
    usage = capsys.readouterr().out
    for option in ("--template", "--wording", "--model", "--local", "--results", "--report"):
        assert option in usage


def test_bad_lines_are_reported_by_line_number_and_nothing_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = write_jsonl(
        tmp_path / "bad.jsonl",
        [{"inputs": "ok", "label": "A"}, {"inputs": "no label"}, {"text": "x", "label": "B"}],
    )
    # No model is needed to find bad lines: a missing model directory is never looked at.
    code = main(["eval", str(sample), "--model", str(tmp_path / "no-such-model")])
    err = capsys.readouterr().err
    assert code == 2
    assert "line 2: missing field 'label'" in err
    assert "line 3: the line has unknown keys ['text']" in err
    assert "3 lines checked, 2 with problems; nothing evaluated" in err


def test_two_models_are_compared_in_one_table(
    tmp_path: Path, tiny_nli_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same weights under two names: the comparison must not call either better.
    first = tiny_nli_model_dir
    second = Path(shutil.copytree(first, tmp_path / "same-weights"))
    sample = write_jsonl(
        tmp_path / "s.jsonl",
        [
            {"inputs": "Run a marathon", "label": "Health"},
            {"inputs": "Save for a house", "label": "Finance"},
            {"inputs": "Learn Spanish", "label": "Education"},
        ],
    )
    args = ["eval", str(sample), "--model", str(first), "--model", str(second)]
    code = main([*args, "--work-dir", str(tmp_path / "work"), "--per-text"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Configurations compared on accuracy" in out
    assert str(first) in out and str(second) in out
    assert "no clear best" in out and "★" not in out
    assert "Each text" in out and "Learn Spanish" in out


def test_usage_errors_name_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--template", "no placeholder", "--results", "x"]) == 2
    assert "--results: scores a finished batch job as it ran" in capsys.readouterr().err
    assert main(["eval", "--local", "localhost:1", "--model", "m"]) == 2
    assert "--model: the endpoint serves its own model" in capsys.readouterr().err
    assert main(["eval", "--threshold", "1.5", "--results", "x"]) == 2
    assert "--threshold: 1.5 must be between 0 and 1" in capsys.readouterr().err
    wording = tmp_path / "w.json"
    wording.write_text(json.dumps({"money": "Finance"}))
    assert main(["eval", "--wording", str(wording), "--results", "x"]) == 2
    assert "--wording w: no wording for 'Health'" in capsys.readouterr().err

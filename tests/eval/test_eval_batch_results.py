"""`zstc eval FILE --results out.jsonl`: metrics from a finished batch job's output, no model.

The output lines have the shape the inference code writes for JSON Lines (response_encoding.py:
{"id", "sequence", "labels", "scores"} or {"id", "error"}), with the blank separator lines that
SageMaker's AssembleWith=Line leaves when a payload's answer already ends with a newline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eval_test_support import write_jsonl

import zstc.evaluation.classifiers
import zstc.models.model_sources
from zstc.cli import main
from zstc.evaluation.labelled_sample import BUNDLED_SAMPLE, read_labelled_sample

WRONG_LINES = {4, 8, 22}  # 1-based lines whose top label is wrong
ERROR_LINE = 27


def _answer(line_number: int, example: Any, labels: tuple[str, ...]) -> dict[str, Any]:
    truth = example.true_labels[0]
    if line_number == ERROR_LINE:
        return {"id": example.record_id, "error": '"inputs" is an empty string'}
    top = next(label for label in labels if label != truth) if line_number in WRONG_LINES else truth
    rest = [label for label in labels if label != top]
    scores = [0.6] + [0.4 / len(rest)] * len(rest)
    return {
        "id": example.record_id,
        "sequence": example.text,
        "labels": [top, *rest],
        "scores": scores,
    }


@pytest.fixture
def batch_output(tmp_path: Path) -> Path:
    sample = read_labelled_sample(BUNDLED_SAMPLE)
    lines = []
    for number, example in enumerate(sample.examples, start=1):
        lines.append(json.dumps(_answer(number, example, sample.labels)))
        if number % 10 == 0:
            lines.append("")  # AssembleWith=Line after a payload that ended with "\n"
    path = tmp_path / "out.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every way to classify fails loudly: --results must not use any."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("--results classified something")

    monkeypatch.setattr(zstc.evaluation.classifiers.InProcessInference, "__init__", forbidden)
    monkeypatch.setattr(zstc.evaluation.classifiers, "post_local", forbidden)
    monkeypatch.setattr(zstc.evaluation.classifiers, "invoke_sagemaker", forbidden)
    monkeypatch.setattr(zstc.models.model_sources, "resolve_model", forbidden)


def test_results_mode_scores_the_batch_output_without_any_model(
    batch_output: Path, no_model: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["eval", str(BUNDLED_SAMPLE), "--results", str(batch_output), "--output", "json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    [configuration] = document["configurations"]
    metrics = configuration["metrics"]
    # 27 texts: 3 wrong top labels and 1 error line (a miss, not left out).
    assert metrics["accuracy"] == pytest.approx(23 / 27)
    assert metrics["errors"] == 1
    assert configuration["worst_mistakes"][0]["line_number"] == ERROR_LINE
    assert {m["line_number"] for m in configuration["worst_mistakes"]} == WRONG_LINES | {ERROR_LINE}
    confusion = metrics["confusion"]
    assert confusion["columns"][-1] == "(no answer)"
    assert sum(map(sum, confusion["counts"])) == 27


def test_results_that_do_not_belong_to_the_sample_are_refused(
    batch_output: Path, tmp_path: Path, no_model: None, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [line for line in batch_output.read_text().splitlines() if line]
    short = tmp_path / "short.jsonl"
    short.write_text("\n".join(lines[:-1]) + "\n")
    assert main(["eval", "--results", str(short)]) == 2
    assert "26 result lines for 27 sample lines" in capsys.readouterr().err

    swapped = tmp_path / "swapped.jsonl"
    first, second = json.loads(lines[0]), json.loads(lines[1])
    first["id"], second["id"] = second["id"], first["id"]
    swapped.write_text("\n".join([json.dumps(second), json.dumps(first), *lines[2:]]) + "\n")
    assert main(["eval", "--results", str(swapped)]) == 1
    assert "not in the sample's order" in capsys.readouterr().err


def test_results_mode_takes_the_wording_the_job_sent(
    tmp_path: Path, no_model: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = write_jsonl(
        tmp_path / "s.jsonl",
        [
            {"id": 1, "inputs": "pay off debt", "label": "Finance"},
            {"id": 2, "inputs": "run a 10k", "label": "Health"},
        ],
    )
    wording = tmp_path / "plain.json"
    wording.write_text(json.dumps({"money": "Finance", "fitness": "Health"}))
    output = write_jsonl(
        tmp_path / "out.jsonl",
        [
            {
                "id": 1,
                "sequence": "pay off debt",
                "labels": ["money", "fitness"],
                "scores": [0.9, 0.1],
            },
            {
                "id": 2,
                "sequence": "run a 10k",
                "labels": ["money", "fitness"],
                "scores": [0.7, 0.3],
            },
        ],
    )
    args = ["eval", str(sample), "--results", str(output), "--wording", str(wording)]
    assert main([*args, "--output", "json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["configurations"][0]["metrics"]
    assert metrics["accuracy"] == 0.5
    assert metrics["confusion"]["counts"] == [[1, 0], [1, 0]]
    # Without the wording, the answers' labels are not the sample's: a clear error, no guess.
    assert main(["eval", str(sample), "--results", str(output)]) == 1
    assert "label 'money', which was never sent" in capsys.readouterr().err


def test_one_configuration_shows_its_bootstrap_interval_and_the_tables(
    batch_output: Path, no_model: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--results", str(batch_output)]) == 0
    out = capsys.readouterr().out
    assert f"accuracy {23 / 27:.3f}, 95% Wilson score interval " in out
    for title in ("Per label", "Confusion matrix", "Worst mistakes"):
        assert title in out

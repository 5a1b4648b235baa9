"""The eval report in a terminal of 80 columns (and piped): every row one line, long texts cut
with an ellipsis, wide characters kept whole, and the interval named."""

from __future__ import annotations

import io
import json

import pytest
from rich.cells import cell_len
from rich.console import Console

from zstc.evaluation.labelled_sample import read_labelled_sample
from zstc.evaluation.report import EvaluationReport
from zstc.evaluation.run import Target, evaluate
from zstc.evaluation.terminal_report import HIT_MARK, MISS_MARK, print_report
from zstc.evaluation.wordings import as_written

LONG = "Read fifty books this year and take an online course in data science on weekends"
WIDE = "今年要多读书少刷手机每天早上先锻炼身体再开始工作并且学习一门新的外语"


class FirstLabel:
    """Answers each line with its candidate labels in order: the first label always wins."""

    description = "first-label"

    def classify_json_lines(self, body: bytes) -> bytes:
        answers = []
        for line in body.decode().splitlines():
            record = json.loads(line)
            labels = record["parameters"]["candidate_labels"]
            scores = [0.9] + [0.1 / max(1, len(labels) - 1)] * (len(labels) - 1)
            answers.append({"sequence": record["inputs"], "labels": labels, "scores": scores})
        return "".join(json.dumps(answer) + "\n" for answer in answers).encode()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> EvaluationReport:
    path = tmp_path_factory.mktemp("layout") / "sample.jsonl"
    rows = [(LONG, "Education"), (WIDE, "Education"), ("short", "Career"), (LONG, "Career")]
    path.write_text("".join(json.dumps({"inputs": t, "label": y}) + "\n" for t, y in rows))
    sample = read_labelled_sample(path, labels=["Education", "Career"])
    return evaluate(
        sample,
        targets=[Target(description="first-label", open=FirstLabel)],
        templates=["This example is {}."],
        wordings=[as_written(sample.labels)],
    )


@pytest.mark.parametrize("width", [80, 1000])
def test_rows_are_one_line_and_fit(report: EvaluationReport, width: int) -> None:
    shown = io.StringIO()
    print_report(report, console=Console(file=shown, width=width, color_system=None), per_text=True)
    lines = shown.getvalue().splitlines()
    assert all(cell_len(line) <= width for line in lines)
    per_text = lines[next(i for i, line in enumerate(lines) if line.startswith("Each text")) :]
    rows = [line for line in per_text if HIT_MARK in line or MISS_MARK in line]
    assert len(rows) == 4  # one line per text, never a wrapped second line
    wide_row = next(row for row in rows if "今年" in row)
    shown_wide = wide_row.split("│")[2].strip()
    assert shown_wide.endswith("…")
    assert WIDE.startswith(shown_wide.removesuffix("…").strip())  # no half character
    assert any(LONG[:30] in row and "…" in row for row in rows)
    assert "95% Wilson score interval" in shown.getvalue()

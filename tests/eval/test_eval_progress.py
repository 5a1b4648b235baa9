"""The progress bar of long eval runs (rich, on stderr)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from zstc.evaluation.labelled_sample import read_labelled_sample
from zstc.evaluation.options import RichProgressBar
from zstc.evaluation.run import Target, evaluate
from zstc.evaluation.wordings import as_written


class Answering:
    """Answers every line with its candidate labels in order, as a well-formed server would."""

    description = "answering"

    def classify_json_lines(self, body: bytes) -> bytes:
        answers = []
        for line in body.decode().splitlines():
            record = json.loads(line)
            labels = record["parameters"]["candidate_labels"]
            scores = [1.0 / len(labels)] * len(labels)
            answers.append({"sequence": record["inputs"], "labels": labels, "scores": scores})
        return "".join(json.dumps(answer) + "\n" for answer in answers).encode()


def test_the_progress_bar_counts_every_text_of_every_configuration(tmp_path: Path) -> None:
    """The rich bar on a (forced) terminal reaches n/n for each configuration; 70 texts go out
    in three requests of at most 32 lines each."""

    path = tmp_path / "s.jsonl"
    path.write_text(
        "".join(json.dumps({"inputs": f"t{i}", "label": "A"}) + "\n" for i in range(70))
    )
    sample = read_labelled_sample(path, labels=["A", "B"])
    shown = io.StringIO()
    console = Console(file=shown, force_terminal=True, width=100)
    report = evaluate(
        sample,
        targets=[Target(description="answering", open=Answering)],
        templates=["One {}.", "Two {}."],
        wordings=[as_written(sample.labels)],
        progress=RichProgressBar(console),
    )
    assert len(report.results) == 2
    assert shown.getvalue().count("70/70") >= 2


def test_a_finished_bar_is_not_drawn_again_by_the_next_one() -> None:
    """Defect: after eval a stale duplicate progress line stayed: each new bar redrew the
    finished ones, which their own stop had already left on the terminal."""
    shown = io.StringIO()
    bar = RichProgressBar(Console(file=shown, force_terminal=True, width=80))
    bar.start("first configuration", 3)
    bar.advance(3)
    bar.finish()
    first_part = shown.getvalue()
    bar.start("second configuration", 2)
    bar.advance(2)
    bar.finish()
    second_part = shown.getvalue()[len(first_part) :]
    assert "first configuration" in first_part and "3/3" in first_part
    assert "second configuration" in second_part and "2/2" in second_part
    assert "first configuration" not in second_part

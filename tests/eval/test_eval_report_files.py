"""`--report DIR`: valid PNGs (signature, and decoded by Pillow) and a self-contained HTML page."""

from __future__ import annotations

import base64
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from eval_test_support import write_jsonl
from PIL import Image

from zstc.cli import main
from zstc.evaluation.labelled_sample import read_labelled_sample
from zstc.evaluation.report import EvaluationReport
from zstc.evaluation.report_files import write_report
from zstc.evaluation.run import evaluate_batch_output
from zstc.evaluation.wordings import as_written

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # PNG specification, section 5.2


class _Page(HTMLParser):
    """Collects what the tests check: headings, table cells, image sources and links out."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.cells: list[str] = []
        self.images: list[str] = []
        self.external: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append(values.get("src") or "")
        if tag in ("link", "script") or (values.get("href") or "").startswith("http"):
            self.external.append(tag)
        self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in in ("h1", "h2"):
            self.headings.append(data.strip())
        elif self._in == "td":
            self.cells.append(data.strip())


def _decoded_png(data: bytes) -> Image.Image:
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    image.load()  # decodes every pixel, so a truncated file fails here
    assert image.format == "PNG"
    return image


def _report(tmp_path: Path, *, multi_label: bool) -> EvaluationReport:
    if multi_label:
        truths = [["A"], ["A", "B"], ["C"], []]
        sample = write_jsonl(
            tmp_path / "multi.jsonl",
            [{"inputs": f"text {i}", "labels": t} for i, t in enumerate(truths)],
        )
        scores = [[0.9, 0.2, 0.1], [0.8, 0.6, 0.3], [0.6, 0.1, 0.7], [0.3, 0.2, 0.1]]
    else:
        truths = [["A"], ["A"], ["B"], ["C"], ["C"]]
        sample = write_jsonl(
            tmp_path / "single.jsonl",
            [{"inputs": f"text {i}", "label": t[0]} for i, t in enumerate(truths)],
        )
        scores = [
            [0.7, 0.2, 0.1],
            [0.3, 0.6, 0.1],
            [0.1, 0.8, 0.1],
            [0.2, 0.1, 0.7],
            [0.5, 0.2, 0.3],
        ]
    parsed = read_labelled_sample(sample)
    answers = []
    for index, row in enumerate(scores):
        ranked = sorted(zip(parsed.labels, row, strict=True), key=lambda pair: -pair[1])
        answers.append(
            {
                "sequence": f"text {index}",
                "labels": [label for label, _ in ranked],
                "scores": [score for _, score in ranked],
            }
        )
    output = write_jsonl(tmp_path / "out.jsonl", answers)
    return evaluate_batch_output(parsed, results_path=output, wording=as_written(parsed.labels))


@pytest.mark.parametrize("multi_label", [False, True], ids=["single-label", "multi-label"])
def test_report_writes_valid_pngs_and_a_self_contained_html_page(
    tmp_path: Path, multi_label: bool
) -> None:
    report = _report(tmp_path, multi_label=multi_label)
    files = write_report(report, tmp_path / "report")
    confusion = _decoded_png(files.confusion_png.read_bytes())
    comparison = _decoded_png(files.comparison_png.read_bytes())
    assert confusion.width > 200 and confusion.height > 200
    assert comparison.width > 200

    page = _Page()
    page.feed(files.html.read_text(encoding="utf-8"))
    assert page.headings[:2] == [f"zstc eval: {report.sample.path.name}", "Comparison"]
    assert "Confusion matrix" in page.headings and "Per label" in page.headings
    assert page.external == []
    # Both images are inlined, and are the PNG files written next to the page.
    assert len(page.images) == 2
    inlined = [base64.b64decode(src.removeprefix("data:image/png;base64,")) for src in page.images]
    assert inlined == [files.comparison_png.read_bytes(), files.confusion_png.read_bytes()]
    # The per-label table holds every label with its support.
    for row in report.leader.metrics.per_label:
        assert row.label in page.cells
    assert json.loads(files.json.read_text())["texts"] == len(report.sample.examples)


@pytest.mark.parametrize(
    ("multi_label", "misses"),
    # single-label: texts 1 and 4 (B over A, A over C); multi-label at threshold 0.5: text 2
    # (A at 0.6 is predicted besides its true C); text 3, with no true label and nothing at
    # 0.5 or above, is right.
    [(False, 2), (True, 1)],
    ids=["single-label", "multi-label"],
)
def test_each_text_is_marked_right_or_miss(tmp_path: Path, multi_label: bool, misses: int) -> None:
    report = _report(tmp_path, multi_label=multi_label)
    page = _Page()
    page.feed(write_report(report, tmp_path / "r").html.read_text(encoding="utf-8"))
    assert page.cells.count("MISS") == misses
    assert page.cells.count("ok") == len(report.sample.examples) - misses


def test_cli_report_option_writes_the_files_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _report(tmp_path, multi_label=False)
    target = tmp_path / "cli-report"
    code = main(
        [
            "eval",
            str(report.sample.path),
            "--results",
            str(tmp_path / "out.jsonl"),
            "--report",
            str(target),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert f"report: {target / 'report.html'}" in captured.err.replace("\n", "")
    for name in ("confusion_matrix.png", "comparison.png", "report.html", "evaluation.json"):
        assert (target / name).is_file(), name


def test_without_matplotlib_report_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from zstc.cli_errors import CliError

    report = _report(tmp_path, multi_label=False)
    # None in sys.modules makes `import matplotlib` raise ImportError, as when not installed.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    from zstc.install_hints import install_command

    with pytest.raises(CliError) as raised:
        write_report(report, tmp_path / "report")
    assert str(raised.value) == (
        "--report: needs the [report] extra (matplotlib is not installed): "
        f"{install_command('report')}"
    )

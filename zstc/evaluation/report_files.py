"""`--report DIR`: the confusion matrix as a PNG heatmap, the comparison as a bar chart with
intervals, and one self-contained HTML page (images inlined) holding the tables and both images.

matplotlib is imported only here, and only when a report is written, with its non-interactive
Agg backend (https://matplotlib.org/stable/users/explain/figure/backends.html), so `zstc eval`
without --report never pays for it, and no display is needed.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zstc.cli_errors import CliError
from zstc.evaluation.eval_command import ConfigurationResult, EvaluationReport, report_as_json
from zstc.evaluation.metrics import MultiLabelMetrics, SingleLabelMetrics

CONFUSION_PNG = "confusion_matrix.png"
COMPARISON_PNG = "comparison.png"
REPORT_HTML = "report.html"
REPORT_JSON = "evaluation.json"
_DPI = 110


@dataclass(frozen=True, kw_only=True)
class ReportFiles:
    directory: Path
    confusion_png: Path
    comparison_png: Path
    html: Path
    json: Path


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as error:
        from zstc.install_hints import install_command

        raise CliError(
            f"--report: needs the [report] extra (matplotlib is not installed): "
            f"{install_command('report')}",
            exit_code=2,
        ) from error

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_confusion_png(result: ConfigurationResult, path: Path) -> Path:
    plt = _pyplot()
    confusion = result.metrics.confusion
    rows, columns = len(confusion.labels), len(confusion.columns)
    figure, axes = plt.subplots(figsize=(1.2 + 0.7 * columns, 1.0 + 0.55 * rows))
    image = axes.imshow(confusion.counts, cmap="Blues", aspect="auto")
    axes.set_xticks(range(columns), labels=confusion.columns, rotation=45, ha="right")
    axes.set_yticks(range(rows), labels=confusion.labels)
    axes.set_xlabel(
        "predicted" if isinstance(result.metrics, SingleLabelMetrics) else "predicted (any)"
    )
    axes.set_ylabel("true")
    axes.set_title(f"Confusion matrix: {result.name}", fontsize=10)
    peak = max((max(row) for row in confusion.counts), default=0)
    for i, row in enumerate(confusion.counts):
        for j, count in enumerate(row):
            if count:
                color = "white" if count > peak / 2 else "black"
                axes.text(j, i, str(count), ha="center", va="center", color=color, fontsize=8)
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI, format="png")
    plt.close(figure)
    return path


def write_comparison_png(report: EvaluationReport, path: Path) -> Path:
    plt = _pyplot()
    ranking = list(report.comparison.ranking)
    names = [entry.name or "(one configuration)" for entry in ranking]
    scores = [entry.score for entry in ranking]
    below = [entry.score - entry.interval.low for entry in ranking]
    above = [entry.interval.high - entry.score for entry in ranking]
    colors = [
        "tab:green" if entry.name == report.comparison.best else "tab:blue" for entry in ranking
    ]
    figure, axes = plt.subplots(figsize=(7.5, 1.0 + 0.5 * len(ranking)))
    positions = list(range(len(ranking)))[::-1]
    axes.barh(positions, scores, xerr=[below, above], color=colors, capsize=4)
    axes.set_yticks(positions, labels=names)
    axes.set_xlim(0, 1)
    level = f"{report.comparison.confidence:.0%}"
    axes.set_xlabel(f"{report.headline_name} ({level} {report.comparison.interval_method})")
    axes.set_title("Configurations compared on the same texts", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI, format="png")
    plt.close(figure)
    return path


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(header)}</th>" for header in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _headline_rows(result: ConfigurationResult) -> list[list[str]]:
    metrics = result.metrics
    rows = [
        ["texts", str(metrics.examples)],
        ["failed texts (counted as misses)", str(metrics.errors)],
    ]
    if isinstance(metrics, SingleLabelMetrics):
        rows += [["accuracy", f"{metrics.accuracy:.3f}"], ["macro-F1", f"{metrics.macro_f1:.3f}"]]
        rows += [
            [f"top-{k} accuracy", f"{value:.3f}"] for k, value in metrics.top_k_accuracy.items()
        ]
    elif isinstance(metrics, MultiLabelMetrics):
        rows += [
            [f"micro-F1 at threshold {metrics.threshold:g}", f"{metrics.micro_f1:.3f}"],
            ["macro-F1", f"{metrics.macro_f1:.3f}"],
            ["per-text F1", f"{metrics.samples_f1:.3f}"],
            [
                "best threshold on this sample",
                f"{metrics.best_threshold:.3f} (micro-F1 {metrics.best_micro_f1:.3f})",
            ],
        ]
    return rows


def render_html(report: EvaluationReport, *, confusion_png: Path, comparison_png: Path) -> str:
    leader = report.leader
    sample = report.sample
    comparison = report.comparison
    ranking_rows = [
        [
            str(rank),
            entry.name + (" (best)" if entry.name == comparison.best else ""),
            f"{entry.score:.3f}",
            f"{entry.interval.low:.3f} - {entry.interval.high:.3f}",
            f"{report.result(entry.name).metrics.macro_f1:.3f}",
        ]
        for rank, entry in enumerate(comparison.ranking, start=1)
    ]
    label_rows = [
        [row.label, f"{row.precision:.2f}", f"{row.recall:.2f}", f"{row.f1:.2f}", str(row.support)]
        for row in leader.metrics.per_label
    ]
    mistake_rows = [
        [
            str(mistake.line_number),
            mistake.text,
            ", ".join(mistake.true_labels),
            f"error: {mistake.error}"
            if mistake.error is not None
            else ", ".join(f"{label} ({score:.2f})" for label, score in mistake.predicted)
            or "(none)",
        ]
        for mistake in leader.mistakes
    ]
    text_rows = [
        [
            "ok" if outcome.right else "MISS",
            outcome.example.text,
            ", ".join(outcome.example.true_labels) or "(none)",
            outcome.describe_prediction(),
        ]
        for outcome in report.outcomes(leader)
    ]
    mode = "multi-label" if sample.multi_label else "single-label"
    resampling = f"{comparison.resamples} resamples, seed {comparison.seed}"
    interval = f"{comparison.confidence:.0%} {comparison.interval_method}"
    ranking_headers = ["#", "configuration", report.headline_name, interval, "macro-F1"]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>zstc eval: {html.escape(sample.path.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
img {{ max-width: 100%; }}
</style>
</head>
<body>
<h1>zstc eval: {html.escape(sample.path.name)}</h1>
<p>{len(sample.examples)} texts, {len(sample.labels)} labels, {mode}; classified by
{html.escape(report.source)}.</p>
<h2>Comparison</h2>
<p>{html.escape(comparison.verdict())} ({resampling})</p>
{_table(ranking_headers, ranking_rows)}
{_image(comparison_png, "comparison bar chart")}
<h2>Scores: {html.escape(leader.name)}</h2>
{_table(["metric", "value"], _headline_rows(leader))}
<h2>Per label</h2>
{_table(["label", "precision", "recall", "F1", "support"], label_rows)}
<h2>Confusion matrix</h2>
{_image(confusion_png, "confusion matrix heatmap")}
<h2>Worst mistakes</h2>
{_table(["line", "text", "true", "predicted (score)"], mistake_rows)}
<h2>Each text</h2>
{_table(["", "text", "expected", "predicted (score)"], text_rows)}
</body>
</html>
"""


def write_report(report: EvaluationReport, directory: Path) -> ReportFiles:
    directory.mkdir(parents=True, exist_ok=True)
    confusion_png = write_confusion_png(report.leader, directory / CONFUSION_PNG)
    comparison_png = write_comparison_png(report, directory / COMPARISON_PNG)
    page = directory / REPORT_HTML
    page.write_text(
        render_html(report, confusion_png=confusion_png, comparison_png=comparison_png),
        encoding="utf-8",
    )
    data = directory / REPORT_JSON
    data.write_text(
        json.dumps(report_as_json(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return ReportFiles(
        directory=directory,
        confusion_png=confusion_png,
        comparison_png=comparison_png,
        html=page,
        json=data,
    )

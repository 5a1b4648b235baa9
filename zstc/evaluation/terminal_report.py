"""The evaluation as terminal tables (rich): comparison, metrics, per label, confusion, mistakes."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from zstc.evaluation.metrics import MultiLabelMetrics, SingleLabelMetrics
from zstc.evaluation.report import ConfigurationResult, EvaluationReport

MISS_MARK = "✗"
HIT_MARK = "✓"
# Terminal cells a text may take; rich cuts it there, or where the terminal is narrower, with
# "…", measuring cells (a CJK character is two) so no character is cut in half.
_TEXT_CELLS = 60


def _short(text: str) -> Text:
    """A text cell: one line, ending with "…" where it is cut."""
    return Text(text, no_wrap=True, overflow="ellipsis")


def comparison_table(report: EvaluationReport) -> Table:
    comparison = report.comparison
    level = f"{comparison.confidence:.0%}"
    table = Table(title=f"Configurations compared on {report.headline_name}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("configuration")
    table.add_column(report.headline_name, justify="right")
    table.add_column(f"{level} Wilson interval", justify="right")
    table.add_column("macro-F1", justify="right")
    table.add_column("seconds", justify="right")
    for rank, entry in enumerate(comparison.ranking, start=1):
        result = report.result(entry.name)
        mark = " ★ best" if entry.name == comparison.best else ""
        table.add_row(
            str(rank),
            entry.name + mark,
            f"{entry.score:.3f}",
            f"{entry.interval.low:.3f}-{entry.interval.high:.3f}",
            f"{result.metrics.macro_f1:.3f}",
            f"{result.seconds:.1f}",
        )
    return table


def headline_table(result: ConfigurationResult, *, title: str = "Scores") -> Table:
    metrics = result.metrics
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("texts", str(metrics.examples))
    if metrics.errors:
        table.add_row("failed texts (counted as misses)", str(metrics.errors))
    if isinstance(metrics, SingleLabelMetrics):
        table.add_row("accuracy", f"{metrics.accuracy:.3f}")
        table.add_row("macro-F1", f"{metrics.macro_f1:.3f}")
        for k, value in metrics.top_k_accuracy.items():
            table.add_row(f"top-{k} accuracy", f"{value:.3f}")
    else:
        table.add_row(f"micro-F1 at threshold {metrics.threshold:g}", f"{metrics.micro_f1:.3f}")
        table.add_row("macro-F1", f"{metrics.macro_f1:.3f}")
        table.add_row("per-text F1", f"{metrics.samples_f1:.3f}")
        table.add_row(
            "threshold with the best micro-F1 on this sample",
            f"{metrics.best_threshold:.3f} (micro-F1 {metrics.best_micro_f1:.3f})",
        )
    return table


def per_label_table(result: ConfigurationResult) -> Table:
    metrics = result.metrics
    suffix = (
        f" at threshold {metrics.threshold:g}" if isinstance(metrics, MultiLabelMetrics) else ""
    )
    table = Table(title=f"Per label{suffix}", title_justify="left")
    for column in ("label", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for row in metrics.per_label:
        table.add_row(
            row.label,
            f"{row.precision:.2f}",
            f"{row.recall:.2f}",
            f"{row.f1:.2f}",
            str(row.support),
        )
    return table


def confusion_table(result: ConfigurationResult) -> Table:
    """Columns are numbered like the rows, so nine labels fit an 80-column terminal."""
    confusion = result.metrics.confusion
    what = "predicted" if isinstance(result.metrics, SingleLabelMetrics) else "predicted (any)"
    table = Table(title=f"Confusion matrix (rows: true, columns: {what})", title_justify="left")
    table.add_column("true")
    number_of = {label: str(index) for index, label in enumerate(confusion.labels, start=1)}
    for column in confusion.columns:
        table.add_column(number_of.get(column, "none"), justify="right")
    for label, counts in zip(confusion.labels, confusion.counts, strict=True):
        cells = []
        for column, count in zip(confusion.columns, counts, strict=True):
            cell = str(count) if count else "."
            cells.append(f"[bold]{cell}[/bold]" if column == label and count else cell)
        table.add_row(f"{number_of[label]} {label}", *cells)
    return table


def mistakes_table(result: ConfigurationResult) -> Table | Text:
    if not result.mistakes:
        return Text("No mistakes.")
    table = Table(title="Worst mistakes (most confident first)", title_justify="left")
    table.add_column("line", justify="right")
    table.add_column("text", max_width=_TEXT_CELLS)
    table.add_column("true")
    table.add_column("predicted (score)")
    for mistake in result.mistakes:
        predicted = (
            f"error: {mistake.error}"
            if mistake.error is not None
            else ", ".join(f"{label} ({score:.2f})" for label, score in mistake.predicted)
            or "(none)"
        )
        table.add_row(
            str(mistake.line_number),
            _short(mistake.text),
            ", ".join(mistake.true_labels),
            predicted,
        )
    return table


def per_text_table(report: EvaluationReport, result: ConfigurationResult) -> Table:
    """Predicted against expected for every text, misses marked."""
    table = Table(title=f"Each text: {result.name}", title_justify="left")
    table.add_column("")
    table.add_column("text", max_width=_TEXT_CELLS)
    table.add_column("expected", no_wrap=True)
    table.add_column("predicted (score)", no_wrap=True)
    for outcome in report.outcomes(result):
        mark = Text(HIT_MARK, style="green") if outcome.right else Text(MISS_MARK, style="bold red")
        table.add_row(
            mark,
            _short(outcome.example.text),
            ", ".join(outcome.example.true_labels) or "(none)",
            outcome.describe_prediction(),
        )
    return table


def report_renderables(report: EvaluationReport, *, per_text: bool = False) -> list[RenderableType]:
    sample = report.sample
    mode = "multi-label" if sample.multi_label else "single-label"
    parts: list[RenderableType] = [
        Text(
            f"{sample.path}: {len(sample.examples)} texts, {len(sample.labels)} labels, {mode}; "
            f"classified by {report.source}"
        )
    ]
    leader = report.leader
    if len(report.results) > 1:
        parts += [comparison_table(report), Text(report.comparison.verdict())]
    else:
        only = report.comparison.ranking[0]
        level = f"{report.comparison.confidence:.0%}"
        parts.append(
            Text(
                f"{report.headline_name} {only.score:.3f}, {level} "
                f"{report.comparison.interval_method} "
                f"{only.interval.low:.3f}-{only.interval.high:.3f} over these texts"
            )
        )
    parts += [
        headline_table(
            leader, title=f"Scores of {leader.name}" if len(report.results) > 1 else "Scores"
        ),
        per_label_table(leader),
        confusion_table(leader),
        mistakes_table(leader),
    ]
    if per_text:
        parts.append(per_text_table(report, leader))
    return parts


def print_report(
    report: EvaluationReport, *, console: Console | None = None, per_text: bool = False
) -> None:
    console = console or Console()
    console.print(Group(*report_renderables(report, per_text=per_text)))

"""`--report DIR`: the confusion matrix as a PNG heatmap, the comparison as a bar chart with
intervals, and one self-contained HTML page (images inlined) holding the tables and both images.

matplotlib is imported only here, and only when a report is written, with its non-interactive
Agg backend (https://matplotlib.org/stable/users/explain/figure/backends.html), so `zstc eval`
without --report never pays for it, and no display is needed.

Fonts: matplotlib's default, DejaVu Sans, has no Chinese, Japanese or Korean glyphs; it draws
boxes and warns "Glyph ... missing from font(s) DejaVu Sans". The report extra installs Noto Sans
CJK (the noto-cjk-sans-otc package, SIL OFL 1.1), which is registered with matplotlib here and
listed after DejaVu Sans in font.family: since matplotlib 3.6 a glyph missing from the first font
is drawn from the next one in the list
(https://matplotlib.org/stable/users/explain/text/fonts.html, "Font fallback"). Characters that
no available font covers are named on stderr and in the HTML page, rather than left as boxes
nobody explains.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zstc.cli_errors import CliError
from zstc.evaluation.metrics import MultiLabelMetrics, SingleLabelMetrics
from zstc.evaluation.report import ConfigurationResult, EvaluationReport, report_as_json

CONFUSION_PNG = "confusion_matrix.png"
COMPARISON_PNG = "comparison.png"
REPORT_HTML = "report.html"
REPORT_JSON = "evaluation.json"
_DPI = 110
LATIN_FONT_FAMILY = "DejaVu Sans"
# The Simplified Chinese face of the collection; its Japanese and Korean glyphs are there too.
CJK_FONT_FAMILY = "Noto Sans CJK SC"
CJK_FONT_HINT = "install the report extra for Noto Sans CJK: pip install 'zstc[report]'"


@dataclass(frozen=True, kw_only=True)
class FontChoice:
    """The font.family list the figures are drawn with, and what none of those fonts can draw."""

    families: tuple[str, ...]
    missing: str

    def warning(self) -> str | None:
        if not self.missing:
            return None
        shown = " ".join(self.missing[:20]) + (" ..." if len(self.missing) > 20 else "")
        return (
            f"--report: no available font draws these characters, which show as boxes in the "
            f"PNG images: {shown}; {CJK_FONT_HINT}"
        )


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


def _register_cjk_font() -> bool:
    """Adds Noto Sans CJK from the noto-cjk-sans-otc package to matplotlib; False without it."""
    try:
        import noto_cjk_sans_otc
    except ImportError:
        return False
    from matplotlib import font_manager

    path = str(noto_cjk_sans_otc.FONT_PATH)
    if not any(entry.fname == path for entry in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(path)
    return True


def _font_charmap(family: str) -> set[int]:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(
        font_manager.FontProperties(family=family), fallback_to_default=False
    )
    return set(FT2Font(path).get_charmap())


def choose_fonts(texts: Iterable[str]) -> FontChoice:
    """DejaVu Sans, then Noto Sans CJK when installed; and the characters neither can draw."""
    _pyplot()
    families = [LATIN_FONT_FAMILY]
    if _register_cjk_font():
        families.append(CJK_FONT_FAMILY)
    covered: set[int] = set()
    for family in families:
        covered |= _font_charmap(family)
    needed = dict.fromkeys(
        character for text in texts for character in text if not character.isspace()
    )
    missing = "".join(character for character in needed if ord(character) not in covered)
    return FontChoice(families=tuple(families), missing=missing)


def _confusion_texts(result: ConfigurationResult) -> list[str]:
    confusion = result.metrics.confusion
    return [result.name, *confusion.labels, *confusion.columns]


def _comparison_texts(report: EvaluationReport) -> list[str]:
    return [entry.name for entry in report.comparison.ranking]


def write_confusion_png(
    result: ConfigurationResult, path: Path, *, fonts: FontChoice | None = None
) -> Path:
    plt = _pyplot()
    fonts = fonts or choose_fonts(_confusion_texts(result))
    with plt.rc_context({"font.family": list(fonts.families)}):
        return _draw_confusion(plt, result, path)


def _draw_confusion(plt: Any, result: ConfigurationResult, path: Path) -> Path:
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


def write_comparison_png(
    report: EvaluationReport, path: Path, *, fonts: FontChoice | None = None
) -> Path:
    plt = _pyplot()
    fonts = fonts or choose_fonts(_comparison_texts(report))
    with plt.rc_context({"font.family": list(fonts.families)}):
        return _draw_comparison(plt, report, path)


def _draw_comparison(plt: Any, report: EvaluationReport, path: Path) -> Path:
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


def render_html(
    report: EvaluationReport,
    *,
    confusion_png: Path,
    comparison_png: Path,
    font_warning: str | None = None,
) -> str:
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
body {{ font-family: system-ui, sans-serif, "Noto Sans CJK SC", "PingFang SC",
  "Microsoft YaHei"; margin: 2em; max-width: 70em; }}
.warning {{ background: #fff3cd; padding: 0.5em; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
img {{ max-width: 100%; }}
</style>
</head>
<body>
<h1>zstc eval: {html.escape(sample.path.name)}</h1>
{f'<p class="warning">{html.escape(font_warning)}</p>' if font_warning else ""}
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
    fonts = choose_fonts([*_confusion_texts(report.leader), *_comparison_texts(report)])
    font_warning = fonts.warning()
    if font_warning is not None:
        from zstc.cli.context import info

        info(font_warning)
    confusion_png = write_confusion_png(report.leader, directory / CONFUSION_PNG, fonts=fonts)
    comparison_png = write_comparison_png(report, directory / COMPARISON_PNG, fonts=fonts)
    page = directory / REPORT_HTML
    page.write_text(
        render_html(
            report,
            confusion_png=confusion_png,
            comparison_png=comparison_png,
            font_warning=font_warning,
        ),
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

"""Renders classification responses as rich tables: label, score and a bar; or, for many texts,
each text with its top label.

rich measures every cell in terminal cells (rich.cells.cell_len: a CJK character is two), so
columns stay aligned for wide characters, and a text cut to fit ends with an ellipsis, never in
the middle of a character.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from zstc.cli_errors import CliError

BAR_WIDTH = 30
# Terminal cells of a text in the many-texts table; longer texts end with "…".
TEXT_CELLS = 60
# Cells a top label keeps in a narrow terminal before it, too, ends with "…".
LABEL_CELLS = 24


def _check_response(response: Any) -> tuple[str, list[str], list[float]]:
    if not isinstance(response, dict) or not {"labels", "scores"} <= set(response):
        raise CliError(f"unexpected response (no labels/scores): {str(response)[:200]}")
    labels, scores = response["labels"], response["scores"]
    if len(labels) != len(scores):
        raise CliError(f"unexpected response: {len(labels)} labels but {len(scores)} scores")
    return str(response.get("sequence", "")), [str(x) for x in labels], [float(s) for s in scores]


def response_table(response: Any, *, bar_width: int = BAR_WIDTH) -> Table:
    """One row per label, highest score first, as the endpoint ranks them."""
    _, labels, scores = _check_response(response)
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("label")
    table.add_column("score", justify="right", no_wrap=True, min_width=len("0.000"))
    table.add_column("", no_wrap=True, min_width=bar_width)
    for label, score in zip(labels, scores, strict=True):
        filled = round(max(0.0, min(1.0, score)) * bar_width)
        # Text, not markup: a label such as "[urgent]" is printed as written.
        table.add_row(
            Text(label, no_wrap=True, overflow="ellipsis"),
            f"{score:.3f}",
            "█" * filled + "·" * (bar_width - filled),
        )
    return table


def _top_label(response: Any) -> str:
    labels = response.get("labels") if isinstance(response, dict) else None
    return str(labels[0]) if labels else ""


def responses_table(responses: list[Any]) -> Table:
    """Many responses (classify --file): each text with its top label and score."""
    table = Table(box=None, pad_edge=False, show_edge=False)
    # Only the text gives way in a narrow terminal: the other columns keep their width.
    number_cells = len(str(len(responses)))
    label_cells = max((cell_len(_top_label(response)) for response in responses), default=0)
    table.add_column("#", justify="right", no_wrap=True, min_width=number_cells)
    # The column may shrink (rich collapses wrappable columns first); each cell is one line
    # that ends with "…" where it is cut.
    table.add_column("text", max_width=TEXT_CELLS)
    table.add_column(
        "top label",
        no_wrap=True,
        overflow="ellipsis",
        min_width=min(max(label_cells, len("top label")), LABEL_CELLS),
    )
    table.add_column("score", justify="right", no_wrap=True, min_width=len("score"))
    for number, response in enumerate(responses, start=1):
        sequence, labels, scores = _check_response(response)
        table.add_row(
            str(number),
            Text(sequence, no_wrap=True, overflow="ellipsis"),
            Text(labels[0] if labels else ""),
            f"{scores[0]:.3f}" if scores else "",
        )
    return table


def _console(console: Console | None) -> Console:
    from zstc.cli.context import stdout_console

    return console or stdout_console()


def render_response(response: Any, *, console: Console | None = None) -> None:
    """Prints one response as the label/score table."""
    _console(console).print(response_table(response))


def render_responses(responses: list[Any], *, console: Console | None = None) -> None:
    _console(console).print(responses_table(responses))

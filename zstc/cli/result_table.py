"""Renders a classification response as a readable table: label, score and a bar."""

from __future__ import annotations

from typing import Any

import click

from zstc.cli_errors import CliError

BAR_WIDTH = 30


def _check_response(response: Any) -> tuple[str, list[str], list[float]]:
    if not isinstance(response, dict) or not {"labels", "scores"} <= set(response):
        raise CliError(f"unexpected response (no labels/scores): {str(response)[:200]}")
    labels, scores = response["labels"], response["scores"]
    if len(labels) != len(scores):
        raise CliError(f"unexpected response: {len(labels)} labels but {len(scores)} scores")
    return str(response.get("sequence", "")), [str(x) for x in labels], [float(s) for s in scores]


def format_table(response: Any, *, bar_width: int = BAR_WIDTH) -> str:
    """One row per label, highest score first, as the endpoint ranks them."""
    _, labels, scores = _check_response(response)
    width = max([len("label"), *(len(label) for label in labels)])
    rows = [f"{'label':<{width}}  {'score':>6}"]
    for label, score in zip(labels, scores, strict=True):
        filled = round(max(0.0, min(1.0, score)) * bar_width)
        rows.append(f"{label:<{width}}  {score:6.3f}  {'█' * filled}{'·' * (bar_width - filled)}")
    return "\n".join(rows)


def render_response(response: Any) -> None:
    """Prints one response as the label/score table."""
    click.echo(format_table(response))


def render_responses(responses: list[Any]) -> None:
    """Many responses (classify --file) as one table: each text with its top label and score."""
    from rich.table import Table

    from zstc.cli.context import stdout_console

    table = Table("#", "text", "top label", "score", box=None, pad_edge=False)
    for number, response in enumerate(responses, start=1):
        sequence, labels, scores = _check_response(response)
        table.add_row(str(number), sequence[:60], labels[0] if labels else "", f"{scores[0]:.3f}")
    stdout_console().print(table)

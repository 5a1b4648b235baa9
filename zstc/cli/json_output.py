"""JSON documents on stdout: readable UTF-8 by default, \\uXXXX escapes with --ascii-output.

JSON text exchanged between systems must be UTF-8 (RFC 8259, section 8.1), so the bytes are
written as UTF-8 whatever the terminal's locale: a Windows console or a C locale cannot then
turn a Chinese label into an encoding error. --ascii-output (the name jq gives the same switch)
escapes every non-ASCII character instead, for consumers that cannot read UTF-8; both forms
parse back to the same strings.
"""

from __future__ import annotations

import json
from typing import Any

import click


def json_text(document: Any, *, ascii_output: bool) -> str:
    """One JSON document on one line, as the endpoint's own JSON Lines would carry it."""
    return json.dumps(document, ensure_ascii=ascii_output, default=str)


def echo_json(document: Any) -> None:
    """Prints one JSON document and a newline to stdout as UTF-8 bytes."""
    from zstc.cli.context import settings

    text = json_text(document, ascii_output=settings().ascii_output)
    click.echo((text + "\n").encode("utf-8"), nl=False)

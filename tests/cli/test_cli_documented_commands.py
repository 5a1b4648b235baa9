"""Every `zstc` command line shown in README.md and docs/cli.md parses as written.

Each line is run with `--help` appended: click parses every option and argument first and fails
on an unknown one (exit 2), and only then answers --help (exit 0), so a documented flag that
does not exist, or a command that was renamed, fails here.
"""

from __future__ import annotations

import re
import shlex

import pytest
from cli_test_support import REPO_ROOT

from zstc.cli import main

DOCUMENTS = ("README.md", "docs/cli.md")
SHELL_BLOCKS = ("bash", "sh", "")


def _shell_lines(text: str) -> list[str]:
    """The lines of the shell code blocks, with backslash continuations joined."""
    lines, block, continued = [], None, ""
    for raw in text.splitlines():
        if raw.strip().startswith("```"):
            block = raw.strip().removeprefix("```").strip() if block is None else None
            continue
        if block not in SHELL_BLOCKS:
            continue
        if raw.rstrip().endswith("\\"):
            continued += raw.rstrip()[:-1] + " "
            continue
        lines.append((continued + raw).strip())
        continued = ""
    return lines


def _documented_command_lines() -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        for line in _shell_lines((REPO_ROOT / document).read_text(encoding="utf-8")):
            for prefix in (".venv/bin/zstc ", "zstc "):
                if line.startswith(prefix):
                    found.append((document, line.removeprefix(prefix)))
    return found


COMMAND_LINES = _documented_command_lines()


def test_the_documents_show_commands() -> None:
    assert len(COMMAND_LINES) >= 20
    shown = {line.split()[0] for _, line in COMMAND_LINES}
    assert {"classify", "batch", "local", "package-model", "doctor"} <= shown


@pytest.mark.parametrize(("document", "line"), COMMAND_LINES, ids=[c[1] for c in COMMAND_LINES])
def test_documented_command_parses(
    document: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    words = shlex.split(line, comments=True)
    # Placeholders such as <job> or <commit> stand for one word; `$(...)` is shell, not zstc.
    words = [re.sub(r"<[^>]+>", "placeholder", word) for word in words]
    code = main([*words, "--help"])
    assert code == 0, f"{document}: `zstc {line}`: {capsys.readouterr().err}"

"""Every `zstc` command line shown in README.md and the documentation site parses as written,
and every `make` target they show exists.

Each `zstc` line is run with `--help` appended: click parses every option and argument first and
fails on an unknown one (exit 2), and only then answers --help (exit 0), so a documented flag that
does not exist, or a command that was renamed, fails here.
"""

from __future__ import annotations

import re
import shlex

import pytest
from cli_test_support import REPO_ROOT

from zstc.cli import main

# The front page, the contributors' guide and every page of the site (docs/, mkdocs.yml).
DOCUMENTS = (
    "README.md",
    "CONTRIBUTING.md",
    *sorted(str(page.relative_to(REPO_ROOT)) for page in (REPO_ROOT / "docs").rglob("*.md")),
)
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


def _documented_lines(prefixes: tuple[str, ...]) -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        for line in _shell_lines((REPO_ROOT / document).read_text(encoding="utf-8")):
            # Environment assignments in front (AWS_PROFILE=x zstc ...) are shell, not the command.
            while re.match(r"^[A-Z_]+=\S+ ", line):
                line = line.split(" ", 1)[1]
            for prefix in prefixes:
                if line.startswith(prefix):
                    found.append((document, line.removeprefix(prefix)))
    return found


COMMAND_LINES = _documented_lines((".venv/bin/zstc ", "zstc "))
MAKE_LINES = _documented_lines(("make ",))


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


def _make_targets() -> set[str]:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    return {
        target
        for line in makefile.splitlines()
        if (match := re.match(r"^([a-z][a-z-]*( [a-z][a-z-]*)*):", line))
        for target in match.group(1).split()
    }


def test_the_documents_show_make_targets() -> None:
    assert {"demo", "test", "deploy", "destroy"} <= {line.split()[0] for _, line in MAKE_LINES}


@pytest.mark.parametrize(("document", "line"), MAKE_LINES, ids=[m[1] for m in MAKE_LINES])
def test_documented_make_target_exists(document: str, line: str) -> None:
    target = line.split()[0]
    assert target in _make_targets(), f"{document}: `make {line}`: no target {target!r} in Makefile"

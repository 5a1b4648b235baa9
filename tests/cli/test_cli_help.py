"""Every command documents itself with --help, and usage errors exit 2 with a one-line reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zstc.cli import main

# Each command and what its help must mention: subcommands for groups, options for leaves.
HELP_MENTIONS: dict[tuple[str, ...], tuple[str, ...]] = {
    (): (
        "classify",
        "batch",
        "local",
        "package-model",
        "doctor",
        "completion",
        "--version",
        "--output",
    ),
    ("classify",): ("TEXT", "--labels", "--multi-label", "--template", "--local", "--json"),
    ("batch",): ("submit", "status", "results"),
    ("batch", "submit"): ("FILE", "--labels", "--on-bad-lines", "--parts", "--split-mb"),
    ("batch", "status"): ("JOB", "--watch", "--interval", "--stack-prefix"),
    ("batch", "results"): ("JOB", "--output-file", "--region"),
    ("local",): ("serve", "batch"),
    ("local", "serve"): ("--model", "--port", "--revision"),
    ("local", "batch"): (
        "FILE",
        "--output-file",
        "--url",
        "--model",
        "--labels",
        "--max-payload-mb",
    ),
    ("package-model",): ("--model", "--revision", "--output-file"),
    ("doctor",): ("--port", "--local-only", "--region", "--output"),
    ("eval",): ("FILE", "--template", "--wording", "--model", "--local", "--results", "--report"),
}


@pytest.mark.parametrize("command", list(HELP_MENTIONS), ids=lambda c: " ".join(c) or "zstc")
def test_every_command_has_help(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: zstc {' '.join(command)}".rstrip())
    for mention in HELP_MENTIONS[command]:
        assert mention in out, f"'zstc {' '.join(command)} --help' does not mention {mention}"


def test_missing_required_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "some text"]) == 2
    assert "--labels" in capsys.readouterr().err


def test_bad_labels_are_refused_before_any_request(capsys: pytest.CaptureFixture[str]) -> None:
    # An empty label would be silently scored as "" by a careless client.
    code = main(["classify", "text", "--labels", "a,,b", "--local", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("zstc: error: --labels:")
    assert err.count("\n") == 1


def test_unreachable_local_endpoint_is_one_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["classify", "text", "--labels", "a,b", "--local", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 1
    assert "cannot reach the local endpoint at http://127.0.0.1:9/invocations" in err
    assert "Traceback" not in err


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "zstc"
    completed = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0
    assert "classify" in completed.stdout and "package-model" in completed.stdout


def test_missing_region_is_named_not_an_invalid_endpoint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "")
    monkeypatch.setenv("AWS_REGION", "")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert main(["batch", "status"]) == 2
    assert capsys.readouterr().err == (
        "zstc: error: no AWS region: pass --region or set AWS_DEFAULT_REGION\n"
    )

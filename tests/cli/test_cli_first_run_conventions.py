"""Conventions a new user meets on a first run: global options on groups, -V, usage lines that
say what is optional, --output mistaken for a file, and options a command does not use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_test_support import REGION, STACK_PREFIX, DeployedZstc

from zstc.cli import main


def test_global_options_work_after_a_group(
    deployed: DeployedZstc, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The configured region is another one: only the group's --region finds the stacks.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    argv = ["batch", "--region", REGION, "--stack-prefix", STACK_PREFIX, "--output", "json"]
    assert main([*argv, "status"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_the_value_given_last_wins(
    deployed: DeployedZstc, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--stack-prefix", "Nope", "batch", "--stack-prefix", STACK_PREFIX, "status"]
    assert main([*argv, "--region", REGION, "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_dash_v_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert main(["-V"]) == 0
    assert capsys.readouterr().out.strip() == f"zstc {version('zstc')}"


def test_batch_status_usage_shows_job_as_optional(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", "status", "--help"]) == 0
    assert "Usage: zstc batch status [OPTIONS] [JOB]" in capsys.readouterr().out


def test_output_given_a_file_name_points_at_the_file_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["batch", "results", "some-job", "--output", "out.jsonl"]) == 2
    error = capsys.readouterr().err
    assert "--output is the output format (table or json)" in error
    assert "-o/--output-file out.jsonl" in error


def test_output_elsewhere_keeps_clicks_choice_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--output", "yaml"]) == 2
    error = capsys.readouterr().err
    assert "'yaml' is not one of 'table', 'json'" in error


@pytest.mark.parametrize(
    ("command", "aws_used"),
    [
        (("local", "serve"), False),
        (("local", "batch"), False),
        (("package-model",), False),
        (("eval",), True),
        (("batch", "results"), True),
    ],
)
def test_aws_options_are_listed_only_where_used(
    command: tuple[str, ...], aws_used: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--output" in out
    for option in ("--region", "--profile", "--stack-prefix"):
        assert (option in out) == aws_used, f"{' '.join(command)} --help and {option}"
    if command == ("eval",):
        assert "Used with --endpoint." in out


def test_batch_submit_of_a_directory_names_file_not_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch", "submit", str(tmp_path), "--dry-run"]) == 2
    error = capsys.readouterr().err
    assert "FILE:" in error and "is a directory" in error
    assert "--name" not in error


def test_batch_submit_of_a_txt_file_names_file_and_offers_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "texts.txt"
    text.write_text('{"inputs": "a", "parameters": {"candidate_labels": ["x"]}}\n')
    assert main(["batch", "submit", str(text), "--dry-run"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("zstc: error: FILE's name: 'texts.txt' must end with .jsonl")
    assert "choose the object name with --name" in error


PROSE = (
    "zstc: error: --labels: 60 labels, more than the limit of 50 (Zstc-Batch output "
    "MaxCandidateLabels); see s3://zstc-data-bucket-0123456789/output/zstc-input-very-long-"
    "name-3f9a0c1d2b4e5f60/part-00001.jsonl.out for the rest\n    indented detail line that "
    "is long enough to be folded at the edge of an eighty-column terminal window"
)


def test_prose_is_folded_at_word_boundaries_in_a_terminal() -> None:
    """Defect: at 80 columns, messages wrapped in the middle of words."""
    from zstc.cli.context import wrap_prose

    folded = wrap_prose(PROSE, width=80)
    lines = folded.splitlines()
    assert len(lines) > 2
    # Nothing lost or split: the same words in the same order.
    assert folded.split() == PROSE.split()
    for line in lines:
        assert len(line) <= 80 or " " not in line.strip()  # only a lone long word may overflow
    assert wrap_prose(PROSE, width=None) == PROSE  # piped: untouched


def test_messages_are_folded_only_in_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from zstc.cli import context as cli_context

    cli_context.info(PROSE)
    assert capsys.readouterr().err == PROSE + "\n"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(
        "shutil.get_terminal_size", lambda *args, **kwargs: __import__("os").terminal_size((80, 24))
    )
    cli_context.info(PROSE)
    err = capsys.readouterr().err
    assert err != PROSE + "\n" and err.split() == PROSE.split()

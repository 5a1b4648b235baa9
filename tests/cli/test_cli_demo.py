"""The pieces of `make demo`, and one whole offline run on the real all-MiniLM-L6-v2."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from zstc.batch.jsonl_validation import validate_lines
from zstc.cli_errors import CliError
from zstc.demo import (
    CATEGORIES,
    DEMO_TEMPLATES,
    SAMPLE_FILE,
    SHOWN_ONE_AT_A_TIME,
    DemoResult,
    lay_out_model,
    load_sample,
    main,
    run_demo,
)
from zstc.evaluation.labelled_sample import BUNDLED_SAMPLE
from zstc.evaluation.metrics import SingleLabelMetrics
from zstc.evaluation.terminal_report import HIT_MARK, MISS_MARK

# What the CLI reads from each synthesized stack (zstc.stack_outputs).
OUTPUTS_THE_CLI_READS = {
    "Zstc-Data": {"BucketName", "KmsKeyArn"},
    "Zstc-Endpoint": {"EndpointName"},
    "Zstc-Batch": {"JobNamePrefix", "MaxCandidateLabels"},
}


def test_sample_is_realistic_and_valid_for_a_batch_with_the_nine_categories() -> None:
    records = load_sample()
    assert len(records) >= 30
    ids = [record["id"] for record in records]
    assert len(set(ids)) == len(ids)
    lines = SAMPLE_FILE.read_text(encoding="utf-8").splitlines()
    result = validate_lines(lines, default_labels=list(CATEGORIES))
    assert not result.problems and len(result.lines) == len(records)
    assert len(CATEGORIES) == 9


def test_sample_ships_as_package_data() -> None:
    from importlib.resources import files

    assert (files("zstc") / "data" / "new_years_resolutions.jsonl").is_file()
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"data/*.jsonl"' in pyproject


def test_default_model_is_laid_out_like_an_unpacked_model_tar_gz(tmp_path: Path) -> None:
    model_dir, description = lay_out_model(model=None, revision=None, models_dir=tmp_path)
    assert "all-MiniLM-L6-v2" in description and "embedding" in description
    for name in (
        "config.json",
        "model.safetensors",
        "modules.json",
        "1_Pooling/config.json",
        "tokenizer.json",
        "code/inference.py",
    ):
        assert (model_dir / name).is_file(), name


def test_hub_model_without_hub_access_stops_the_demo_before_synth_naming_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect: `make demo MODEL=facebook/bart-large-mnli` offline spent its synth time first,
    then suggested a CDK setting (model_weights) instead of MODEL=."""
    code = main(["--model", "facebook/bart-large-mnli", "--output-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith(
        "demo: error: MODEL=facebook/bart-large-mnli (--model): cannot get it from the Hugging "
        "Face hub"
    )
    assert "run `make demo` without MODEL=" in captured.err
    assert "model_weights" not in captured.err
    # It failed before synth and before starting a server.
    assert "synthesizing" not in captured.out
    assert not (tmp_path / "cdk.out").exists() and not (tmp_path / "logs").exists()


def test_next_commands_use_a_zstc_that_runs_as_shown(tmp_path: Path) -> None:
    """Defect: "Next, try: zstc eval" failed with command not found: only .venv/bin/zstc
    existed. The command shown is the one of this environment, as it can be typed here."""
    import os
    import subprocess
    import sys

    from cli_test_support import REPO_ROOT

    from zstc.demo import zstc_command

    bin_dir = Path(sys.executable).parent
    assert zstc_command(cwd=REPO_ROOT, path=str(bin_dir)) == ("zstc", None)
    not_on_path = str(tmp_path)
    shown, hint = zstc_command(cwd=REPO_ROOT, path=not_on_path)
    assert shown != "zstc" and hint is not None
    if (bin_dir / "activate").is_file():
        assert "source " in hint
    # Typed in a shell where zstc is not on PATH, the shown command runs.
    done = subprocess.run(
        f"{shown} --version", shell=True, cwd=REPO_ROOT, capture_output=True, text=True,
        env={**os.environ, "PATH": f"{not_on_path}{os.pathsep}/usr/bin:/bin"}, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("zstc "), done.stderr


def test_next_commands_are_whole_lines_in_a_narrow_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import sys

    from zstc import demo

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("shutil.get_terminal_size", lambda *a, **k: os.terminal_size((40, 24)))
    monkeypatch.setattr(demo, "zstc_command", lambda: ("zstc", None))
    demo.print_next_commands()
    lines = capsys.readouterr().out.splitlines()
    for command, _ in demo.NEXT_COMMANDS:
        assert f"    {command.format(zstc='zstc')}" in lines


def test_a_missing_cdk_cli_is_named(tmp_path: Path) -> None:
    from zstc.demo import synthesize

    with pytest.raises(CliError, match="the CDK CLI is not installed"):
        synthesize(cdk_out=tmp_path / "cdk.out", cdk_cli=tmp_path / "no-cdk")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str]:
    import contextlib
    import io

    shown = io.StringIO()
    with contextlib.redirect_stdout(shown):
        result = run_demo(output_dir=tmp_path_factory.mktemp("demo-output"), top=3)
    return result, shown.getvalue()


def test_demo_synthesizes_every_stack_with_the_outputs_the_cli_reads(
    demo_run: tuple[DemoResult, str],
) -> None:
    result, shown = demo_run
    assert result.failed_steps == []
    assert {stack.name for stack in result.stacks} == set(OUTPUTS_THE_CLI_READS)
    for stack in result.stacks:
        outputs = json.loads(stack.template.read_text())["Outputs"]
        assert OUTPUTS_THE_CLI_READS[stack.name] <= set(outputs), stack.name
        assert str(stack.template) in shown


def test_demo_classifies_one_by_one_and_as_a_batch_with_the_same_answers(
    demo_run: tuple[DemoResult, str],
) -> None:
    result, shown = demo_run
    single = [json.loads(line) for line in result.single_results.read_text().splitlines()]
    batch = [json.loads(line) for line in result.batch_output.read_text().splitlines()]
    sample_ids = [record["id"] for record in load_sample()]
    assert [r["id"] for r in single] == sample_ids == [r["id"] for r in batch]
    assert all(sorted(r["labels"]) == sorted(CATEGORIES) for r in batch)
    assert result.agreeing_top_labels == result.texts == len(sample_ids)
    # Batched requests pad texts together; at automatic (bf16) precision that moves scores a
    # little, within the inference code's documented 0.02 of fp32.
    for one, many in zip(single, batch, strict=True):
        assert one["scores"] == pytest.approx(many["scores"], abs=0.02)
    # Progress for each step, with its timing, and where the files are.
    assert shown.count("done in") >= 5
    assert str(result.batch_output) in shown


def test_demo_rankings_are_sensible_on_clear_cut_texts(demo_run: tuple[DemoResult, str]) -> None:
    result, _ = demo_run
    top = {
        r["sequence"]: r["labels"][0]
        for r in map(json.loads, result.batch_output.read_text().splitlines())
    }

    def top_label_of(start: str) -> str:
        return next(label for text, label in top.items() if text.startswith(start))

    assert top_label_of("Give 10% of my income to charities") == "Philanthropic"
    assert top_label_of("Stick to a budget") == "Finance"
    assert top_label_of("Switch careers into UX design") == "Career"
    assert top_label_of("Travel to at least three national parks") == "Leisure"


def test_demo_shows_a_few_single_requests_not_one_table_per_text(
    demo_run: tuple[DemoResult, str],
) -> None:
    result, shown = demo_run
    tables = [line for line in shown.splitlines() if line.startswith("[nyr-")]
    assert len(tables) == SHOWN_ONE_AT_A_TIME < result.texts
    assert f"... and {result.texts - SHOWN_ONE_AT_A_TIME} more, all saved" in shown


def test_demo_ends_with_the_eval_of_the_bundled_model_on_the_labelled_sample(
    demo_run: tuple[DemoResult, str],
) -> None:
    result, shown = demo_run
    evaluation = result.evaluation
    assert evaluation.sample.path == BUNDLED_SAMPLE
    assert [r.template for r in evaluation.results] == list(DEMO_TEMPLATES)
    default = evaluation.results[0].metrics
    assert isinstance(default, SingleLabelMetrics)
    # The accuracy it prints is the one it measured, far above chance (1 in 9).
    assert f"{DEMO_TEMPLATES[0]!r}: {default.accuracy:.3f}" in shown
    assert default.accuracy > 0.7
    # Predicted against expected for every text, each miss marked once.
    eval_part = shown[shown.index("5/6 evaluating") :]
    misses = sum(1 - right for right in default.per_example)
    assert eval_part.count(MISS_MARK) == misses > 0
    assert eval_part.count(HIT_MARK) == default.examples - misses
    # The template comparison, its verdict, the report files and the next commands.
    assert "Configurations compared on accuracy" in eval_part
    assert evaluation.comparison.verdict().split(":")[0] in eval_part
    for path in (result.report.html, result.report.confusion_png, result.report.comparison_png):
        assert path.is_file() and str(path) in shown
    assert result.report.confusion_png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    next_part = shown[shown.index("Next, try:") :]
    assert "zstc eval MY.jsonl --results out.jsonl" in next_part
    assert "zstc eval --local URL" in next_part


def test_demo_stops_the_server(demo_run: tuple[DemoResult, str]) -> None:
    _, shown = demo_run
    url = next(line.split()[2].rstrip(";") for line in shown.splitlines() if "serving at" in line)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/ping", timeout=2)

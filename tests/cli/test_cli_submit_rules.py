"""`batch submit`: every rule is checked before anything is uploaded, on every path.

The label limit is the deployed one (the Batch stack's MaxCandidateLabels output, 7 in these
stacks, not cdk.json's 50), for labels in the file and for --labels alike; hostile lines are
reported by line number and never stop the check; left-out lines keep their mapping to the
input through line-number ids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_test_support import DEPLOYED_MAX_LABELS, DeployedZstc

import zstc.bundled_code
from zstc.batch.jsonl_validation import validate_lines
from zstc.cli import main

LABELS = ["Health", "Career"]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _record(index: int, **extra: Any) -> str:
    return json.dumps({"id": index, "inputs": f"text {index}", **extra})


def _keys(deployed: DeployedZstc) -> list[str]:
    listed = deployed.s3.list_objects_v2(Bucket=deployed.bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_too_many_labels_from_the_flag_are_refused_before_upload(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect: labels given with --labels skipped the --max-labels check."""
    source = _write(tmp_path / "x.jsonl", [_record(0), _record(1)])
    many = ",".join(f"label{i}" for i in range(DEPLOYED_MAX_LABELS + 1))
    code = main(["batch", "submit", str(source), "--labels", many, *deployed.cli_args()])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--labels: {DEPLOYED_MAX_LABELS + 1} labels, more than the limit of 7" in err
    assert "MaxCandidateLabels" in err
    assert _keys(deployed) == []


def test_the_deployed_limit_applies_to_labels_in_the_file(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The limit comes from the stack output (7), not from the local cdk.json (50)."""
    eight = [f"l{i}" for i in range(8)]
    source = _write(
        tmp_path / "x.jsonl",
        [_record(0, parameters={"candidate_labels": LABELS}),
         _record(1, parameters={"candidate_labels": eight})],
    )  # fmt: skip
    code = main(["batch", "submit", str(source), *deployed.cli_args()])
    err = capsys.readouterr().err
    assert code == 2
    assert "line 2:" in err and "8 labels, more than the limit of 7" in err
    assert _keys(deployed) == []


def test_dataset_without_parts_is_refused(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect: --dataset without --parts/--split-mb was ignored silently."""
    source = _write(tmp_path / "x.jsonl", [_record(0, parameters={"candidate_labels": LABELS})])
    code = main(["batch", "submit", str(source), "--dataset", "q1", *deployed.cli_args()])
    assert code == 2
    assert "--dataset: names the parts of --parts N or --split-mb M" in capsys.readouterr().err
    assert _keys(deployed) == []


def test_keep_dry_run_does_not_count_bad_lines_as_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect: --on-bad-lines keep --dry-run counted bad lines as valid."""
    source = _write(tmp_path / "x.jsonl", [_record(0), "{oops", _record(2), "[1]"])
    args = ["batch", "submit", str(source), "--labels", "a,b", "--on-bad-lines", "keep"]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: 2 valid lines would be uploaded as x.jsonl, and 2 bad lines kept" in out


def test_drop_gives_lines_without_ids_their_line_number() -> None:
    """Defect: --on-bad-lines drop lost the mapping to the input for lines without ids."""
    lines = [
        json.dumps({"inputs": "first", "parameters": {"candidate_labels": LABELS}}),
        "{oops",
        json.dumps({"inputs": "third", "parameters": {"candidate_labels": LABELS}}),
        json.dumps({"id": "mine", "inputs": "fourth", "parameters": {"candidate_labels": LABELS}}),
    ]
    result = validate_lines(lines, policy="drop")
    assert [json.loads(line)["id"] for line in result.lines] == [1, 3, "mine"]
    assert [json.loads(line)["inputs"] for line in result.lines] == ["first", "third", "fourth"]
    assert result.ids_added == 2

    # Nothing left out: the lines go up as written, without ids added.
    untouched = validate_lines([lines[0], lines[2]], policy="drop")
    assert untouched.lines == [lines[0], lines[2]]


def _templated(labels: list[str], template: str) -> str:
    parameters = {"candidate_labels": labels, "hypothesis_template": template}
    return json.dumps({"inputs": "x", "parameters": parameters})


HOSTILE = {
    2: '{"id": NaN, "inputs": "x"}',
    3: '{"id": Infinity, "inputs": "x"}',
    4: '{"id": -Infinity, "inputs": "x"}',
    5: '{"id": 1e999, "inputs": "x"}',
    6: '{"id": ' + "9" * 4301 + ', "inputs": "x"}',
    7: '{"id": 1, "inputs": "x", "parameters": ' + "[" * 100_000 + "]" * 100_000 + "}",
    8: _templated(["a"], "{0.x}"),
    9: _templated(["a"], "{0[a]}"),
    # Fine for the first label, out of range for the second one.
    10: _templated(["long label", "ab"], "{0[3]}"),
}


def test_dry_run_reports_every_hostile_line_by_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect: these lines stopped the check with an exception (or passed it)."""
    good = _record(1)
    lines = [good, *HOSTILE.values(), _record(11)]
    source = _write(tmp_path / "hostile.jsonl", lines)
    code = main(
        ["batch", "submit", str(source), "--labels", "a,b", "--on-bad-lines", "drop", "--dry-run"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err
    for number in HOSTILE:
        assert f"line {number}: " in captured.err, number
    assert "line 1:" not in captured.err and "line 11:" not in captured.err
    assert "dry run: 2 valid lines would be uploaded" in captured.out


def test_dry_run_json_lists_the_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "x.jsonl", [_record(0), HOSTILE[2]])
    code = main(["--output", "json", "batch", "submit", str(source), "--labels", "a", "--dry-run",
                 "--on-bad-lines", "drop"])  # fmt: skip
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["valid_lines"] == 1
    assert [problem["line"] for problem in document["problems"]] == [2]
    assert "NaN" in document["problems"][0]["reason"]


def test_missing_job_naming_code_fails_before_any_upload(
    deployed: DeployedZstc,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Defect: the upload started a real job, then naming failed and no job name was printed."""
    zstc.bundled_code._load.cache_clear()
    monkeypatch.setitem(
        zstc.bundled_code._LOCATIONS,
        "transform_trigger",
        (tmp_path / "installed", tmp_path / "checkout"),
    )
    source = _write(tmp_path / "x.jsonl", [_record(0)])
    try:
        code = main(["batch", "submit", str(source), "--labels", "a,b", *deployed.cli_args()])
    finally:
        zstc.bundled_code._load.cache_clear()
    assert code == 1
    assert "job_names.py is missing from this zstc installation" in capsys.readouterr().err
    assert _keys(deployed) == []

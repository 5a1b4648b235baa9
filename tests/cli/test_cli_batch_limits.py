"""Dry runs check the deployed limits: MaxPayloadInMB from the Batch stack's outputs, or the
configured model kind's default (stacks/config.py) without a stack, and say which they used."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cli_test_support import REGION, STACK_PREFIX, DeployedZstc, create_stack

from stacks.config import BATCH_PAYLOAD_MB_BY_MODEL_KIND, load_config
from zstc.batch.limits import BYTES_PER_MB
from zstc.cli import main

LABELS = "Health,Career"


def _file_with_a_line_of(tmp_path: Path, size_bytes: int) -> Path:
    record = {"id": 1, "inputs": ""}
    overhead = len(json.dumps(record)) + 1
    record["inputs"] = "x" * (size_bytes - overhead)
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert path.stat().st_size == size_bytes
    return path


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No region and no credentials: a dry run cannot read any stack."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "ZSTC_STACK_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


def test_dry_run_refuses_a_line_over_the_nli_default_without_a_stack(
    no_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Defect: a 2 MB line passed the dry run, though the default NLI job has MaxPayloadInMB 1."""
    monkeypatch.chdir(tmp_path)  # no cdk.json here or above: the app's defaults
    source = _file_with_a_line_of(tmp_path, 2 * BYTES_PER_MB)
    assert main(["batch", "submit", str(source), "--labels", LABELS, "--dry-run"]) == 2
    error = capsys.readouterr().err
    # The line as it would be uploaded: with the --labels it gets, a little over 2 MB.
    assert error.startswith("zstc: error: line 1 is 2097")
    assert "bytes, more than MaxPayloadInMB 1 (1048576 bytes;" in error
    assert "model_kind 'auto' default from the defaults (no cdk.json found)" in error
    assert "Zstc-Batch not read (no AWS region or credentials)" in error


def test_dry_run_uses_the_configured_model_kind_from_cdk_json(
    no_aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "cdk.json").write_text(json.dumps({"context": {"model_kind": "embedding"}}))
    monkeypatch.chdir(project / "data")
    source = _file_with_a_line_of(tmp_path, 2 * BYTES_PER_MB)
    assert main(["batch", "submit", str(source), "--labels", LABELS, "--dry-run"]) == 0
    out = capsys.readouterr().out
    mb = BATCH_PAYLOAD_MB_BY_MODEL_KIND["embedding"]
    assert f"at most 50 labels and {mb} MB (MaxPayloadInMB) per line" in out
    assert f"from the configuration ({project / 'cdk.json'}; payload: model_kind" in out


def test_dry_run_reads_the_deployed_limit_from_the_stack(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    create_stack(
        deployed.cloudformation,
        "Deployed-Batch",
        {
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {
                "JobNamePrefix": {"Value": "deployed"},
                "MaxCandidateLabels": {"Value": "9"},
                "MaxPayloadInMB": {"Value": "3"},
            },
        },
    )
    argv = ["--stack-prefix", "Deployed", "--region", REGION, "--labels", LABELS, "--dry-run"]
    fits = _file_with_a_line_of(tmp_path, 2 * BYTES_PER_MB)
    assert main(["batch", "submit", str(fits), *argv]) == 0
    assert (
        "at most 9 labels and 3 MB (MaxPayloadInMB) per line, from the deployed Deployed-Batch "
        "stack's outputs" in capsys.readouterr().out
    )
    too_big = _file_with_a_line_of(tmp_path, 3 * BYTES_PER_MB + 1)
    assert main(["batch", "submit", str(too_big), *argv]) == 2
    assert "MaxPayloadInMB 3 (3145728 bytes; Deployed-Batch output MaxPayloadInMB)" in (
        capsys.readouterr().err
    )


def test_a_stack_without_the_output_falls_back_to_the_configuration(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # The fixture's Batch stack predates the MaxPayloadInMB output.
    source = _file_with_a_line_of(tmp_path, 2 * BYTES_PER_MB)
    argv = ["--stack-prefix", STACK_PREFIX, "--region", REGION, "--labels", LABELS]
    assert main(["batch", "submit", str(source), *argv]) == 2
    assert f"{STACK_PREFIX}-Batch has no MaxPayloadInMB output" in capsys.readouterr().err
    # Nothing was uploaded.
    assert deployed.s3.list_objects_v2(Bucket=deployed.bucket).get("KeyCount", 0) == 0


@pytest.fixture(scope="module")
def batch_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    from stacks.batch_stack import BatchStack
    from stacks.data_stack import DataStack

    tmp_path = tmp_path_factory.mktemp("batch-limits")
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"not a real model")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    config = load_config({"model_kind": "embedding"})
    data = DataStack(app, "Zstc-Data", config=config)
    batch = BatchStack(
        app, "Zstc-Batch", config=config, data=data, network=None, model_archive=archive
    )
    return Template.from_stack(batch)


def test_the_batch_stack_outputs_the_jobs_max_payload(batch_template: Template) -> None:
    mb = str(BATCH_PAYLOAD_MB_BY_MODEL_KIND["embedding"])
    batch_template.has_output("MaxPayloadInMB", {"Value": mb})
    environment = batch_template.find_resources("AWS::Lambda::Function")
    trigger = next(
        resource
        for resource in environment.values()
        if "MAX_PAYLOAD_MB" in resource["Properties"].get("Environment", {}).get("Variables", {})
    )
    # The output is the value the trigger gives every job.
    assert trigger["Properties"]["Environment"]["Variables"]["MAX_PAYLOAD_MB"] == mb


def test_local_batch_defaults_to_the_configured_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Defect: `zstc local batch` defaulted to 6 MB, so it passed a line the default NLI job
    (MaxPayloadInMB 1) fails on. The line is refused before any request (nothing listens)."""
    monkeypatch.chdir(tmp_path)
    source = _file_with_a_line_of(tmp_path, 2 * BYTES_PER_MB)
    argv = ["local", "batch", str(source), "-o", str(tmp_path / "out.jsonl")]
    assert main([*argv, "--url", "http://127.0.0.1:9"]) == 1
    captured = capsys.readouterr()
    assert "MaxPayloadInMB 1: model_kind 'auto' default from the defaults" in captured.err
    assert "more than --max-payload-mb 1.0" in captured.err

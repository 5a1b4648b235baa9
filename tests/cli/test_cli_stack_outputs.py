"""Where the CLI finds the stack prefix, and how it reports missing stacks and outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_test_support import DeployedZstc, create_stack

from zstc.cli_errors import CliError
from zstc.stack_outputs import data_resources, resolve_stack_prefix


def test_prefix_flag_beats_environment_beats_cdk_json_beats_default(tmp_path: Path) -> None:
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(json.dumps({"context": {"stack_prefix": "FromCdkJson"}}))
    env = {"ZSTC_STACK_PREFIX": "FromEnv"}
    assert resolve_stack_prefix(flag="FromFlag", environ=env, cdk_json=cdk_json) == "FromFlag"
    assert resolve_stack_prefix(flag=None, environ=env, cdk_json=cdk_json) == "FromEnv"
    assert resolve_stack_prefix(flag=None, environ={}, cdk_json=cdk_json) == "FromCdkJson"
    assert resolve_stack_prefix(flag=None, environ={}, cdk_json=tmp_path / "none.json") == "Zstc"


def test_the_cdk_json_is_found_from_the_working_directory_upward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect: the editable install read the checkout's cdk.json, a pip-installed zstc none; one
    rule now serves both: the nearest cdk.json from the working directory upward."""
    project = tmp_path / "project"
    (project / "data" / "today").mkdir(parents=True)
    (project / "cdk.json").write_text(json.dumps({"context": {"stack_prefix": "Team"}}))
    monkeypatch.chdir(project / "data" / "today")
    assert resolve_stack_prefix(flag=None, environ={}) == "Team"
    assert resolve_stack_prefix(flag="Other", environ={}) == "Other"
    monkeypatch.chdir(tmp_path)
    assert resolve_stack_prefix(flag=None, environ={}) == "Zstc"


def test_a_stack_without_the_needed_output_is_named_with_the_key(
    deployed: DeployedZstc,
) -> None:
    create_stack(
        deployed.cloudformation,
        "Old-Data",
        {
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {"BucketName": {"Value": "some-bucket"}},
        },
    )
    with pytest.raises(CliError) as raised:
        data_resources(cloudformation=deployed.cloudformation, stack_prefix="Old")
    assert str(raised.value).startswith(
        "stack 'Old-Data' has no output 'KmsKeyArn' (it has: BucketName)"
    )

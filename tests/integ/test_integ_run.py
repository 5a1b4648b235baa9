"""The run's bookkeeping: assertion verdicts, leftovers, and destroy after any outcome."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from stubbed_session import ACCOUNT, REGION, StubbedSession

from integ.assertion_results import assertion_failures
from integ.leftovers import STACK_NAME_TAG, find_leftovers, lambda_log_group_prefixes
from integ.preflight import BOOTSTRAP_STACK_NAME
from integ.run import (
    ASSERTION_STACK,
    EXIT_CANNOT_START,
    EXIT_FAILED,
    TEST_STACKS,
    run_integration,
)

PREFLIGHT = str(Path(__file__).resolve().parents[2] / "scripts" / "destroy_preflight.py")
# Every run ends so: the test stacks, then zstc's stacks as `make destroy` does it.
DESTROY_STEPS = ["destroy", PREFLIGHT, "destroy"]

STACKS = ["ZstcInteg-Data", "ZstcInteg-Batch"]
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:ZstcInteg-Batch-TriggerQueue"
JOB_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/zstcinteg-input-1-jsonl-0a"


def test_every_verdict_is_read_and_a_failure_named() -> None:
    outputs = {
        ASSERTION_STACK: {
            "AssertionResultsLambdaInvokeA": json.dumps({"status": "success"}),
            "AssertionResultsSQSreceiveMessageB": json.dumps(
                {"status": "fail", "message": "Expected array of length 1, got 0"}
            ),
            "SomeOtherOutput": "x",
        }
    }
    failures = assertion_failures(outputs, assertion_stack=ASSERTION_STACK, expected_count=2)
    assert failures == ["AssertionResultsSQSreceiveMessageB: Expected array of length 1, got 0"]


def test_missing_verdicts_are_a_failure() -> None:
    failures = assertion_failures({}, assertion_stack=ASSERTION_STACK, expected_count=3)
    assert failures and "0 assertion results, expected 3" in failures[0]


def _stack_gone(session: StubbedSession, name: str) -> None:
    session.stub("cloudformation").add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {name} does not exist",
        expected_params={"StackName": name},
    )


def _nothing_logged(session: StubbedSession, count: int = 2) -> None:
    for _ in range(count):
        session.stub("logs").add_response("describe_log_groups", {"logGroups": []})


def test_leftovers_allow_only_what_the_readme_lists() -> None:
    session = StubbedSession()
    for name in STACKS:
        _stack_gone(session, name)
    session.stub("resourcegroupstaggingapi").add_response(
        "get_resources",
        {
            "ResourceTagMappingList": [
                {"ResourceARN": KEY_ARN},
                {"ResourceARN": QUEUE_ARN},
                {"ResourceARN": JOB_ARN},
            ]
        },
        expected_params={"TagFilters": [{"Key": STACK_NAME_TAG, "Values": STACKS}]},
    )
    session.stub("kms").add_response(
        "describe_key",
        {"KeyMetadata": {"KeyId": "1234abcd", "KeyState": "PendingDeletion"}},
        expected_params={"KeyId": KEY_ARN},
    )
    session.stub("logs").add_response(
        "describe_log_groups",
        {"logGroups": [{"logGroupName": "/aws/lambda/ZstcInteg-Data-CustomS3AutoDelete-x"}]},
        expected_params={"logGroupNamePrefix": "/aws/lambda/ZstcInteg-Data-"},
    )
    session.stub("logs").add_response(
        "describe_log_groups",
        {"logGroups": []},
        expected_params={"logGroupNamePrefix": "/aws/lambda/ZstcInteg-Batch-"},
    )
    left = find_leftovers(
        session=session,
        region=REGION,
        stack_names=STACKS,
        log_group_prefixes=lambda_log_group_prefixes(STACKS),
    )
    assert left == [QUEUE_ARN, "log group /aws/lambda/ZstcInteg-Data-CustomS3AutoDelete-x"]
    session.assert_no_pending_responses()


def test_a_key_not_pending_deletion_is_a_leftover() -> None:
    session = StubbedSession()
    for name in STACKS:
        _stack_gone(session, name)
    session.stub("resourcegroupstaggingapi").add_response(
        "get_resources", {"ResourceTagMappingList": [{"ResourceARN": KEY_ARN}]}
    )
    session.stub("kms").add_response(
        "describe_key", {"KeyMetadata": {"KeyId": "1234abcd", "KeyState": "Enabled"}}
    )
    _nothing_logged(session)
    left = find_leftovers(
        session=session,
        region=REGION,
        stack_names=STACKS,
        log_group_prefixes=lambda_log_group_prefixes(STACKS),
    )
    assert left == [KEY_ARN]


def _ready_account(session: StubbedSession) -> None:
    session.stub("sts").add_response(
        "get_caller_identity",
        {"UserId": "AIDA", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/me"},
    )
    session.stub("cloudformation").add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": BOOTSTRAP_STACK_NAME,
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                }
            ]
        },
    )


def test_a_failed_deploy_is_still_destroyed_and_checked_for_leftovers(tmp_path: Path) -> None:
    session = StubbedSession()
    _ready_account(session)
    commands: list[list[str]] = []

    def runner(command: Sequence[str], env: Mapping[str, str]) -> int:
        commands.append(list(command))
        assert env["AWS_REGION"] == REGION and env["CDK_DEFAULT_ACCOUNT"] == ACCOUNT
        return 1 if command[1] == "deploy" else 0

    # The deploy failed before synthesis wrote an assembly: no stack names, only log groups
    # (the endpoint's, then the two test stacks' own, which a failed run keeps).
    session.stub("logs").add_response("describe_log_groups", {"logGroups": []})
    session.stub("logs").add_response(
        "describe_log_groups",
        {"logGroups": [{"logGroupName": "/aws/lambda/ZstcInteg-Probe-x"}]},
        expected_params={"logGroupNamePrefix": "/aws/lambda/ZstcInteg-Probe-"},
    )
    session.stub("logs").add_response("describe_log_groups", {"logGroups": []})
    exit_code = run_integration(
        check_serverless=False,
        session=session,
        runner=runner,
        environ={},
        work_dir=tmp_path,
        settle_seconds=0,
    )
    assert exit_code == EXIT_FAILED
    assert [command[1] for command in commands] == ["deploy", *DESTROY_STEPS]
    test_stacks, preflight, teardown = commands[1:]
    assert test_stacks[2:4] == list(TEST_STACKS) and "--force" in test_stacks
    assert preflight[2:] == ["-c", "stack_prefix=ZstcInteg"]
    # The teardown mode of the real app, as the Makefile's destroy target runs it.
    assert teardown[teardown.index("--app") + 1].endswith("app.py")
    assert {"--all", "--force", "teardown=true", "stack_prefix=ZstcInteg"} <= set(teardown)
    session.assert_no_pending_responses()


def test_the_serverless_check_is_destroyed_after_a_failure(tmp_path: Path) -> None:
    session = StubbedSession()
    _ready_account(session)
    commands: list[list[str]] = []

    def runner(command: Sequence[str], env: Mapping[str, str]) -> int:
        commands.append(list(command))
        return 1 if command[1] == "deploy" else 0

    # The serverless endpoint's log group, then the main run's three prefixes.
    session.stub("logs").add_response(
        "describe_log_groups",
        {"logGroups": []},
        expected_params={"logGroupNamePrefix": "/aws/sagemaker/Endpoints/ZstcIntegServerless-"},
    )
    for _ in range(3):
        session.stub("logs").add_response("describe_log_groups", {"logGroups": []})
    work_dir = tmp_path / "integ"
    exit_code = run_integration(
        session=session, runner=runner, environ={}, work_dir=work_dir, settle_seconds=0
    )
    assert exit_code == EXIT_FAILED
    assert [command[1] for command in commands] == ["deploy", "deploy", "destroy", *DESTROY_STEPS]
    serverless_deploy, serverless_destroy = commands[1], commands[2]
    assert serverless_deploy[2] == "ZstcIntegServerless-Endpoint"
    assert serverless_deploy[serverless_deploy.index("--app") + 1].endswith("serverless_minilm.py")
    assert {"--force", "--all"} <= set(serverless_destroy)
    assert serverless_destroy[serverless_destroy.index("--output") + 1] == str(
        tmp_path / "integ-serverless" / "cdk.out"
    )
    session.assert_no_pending_responses()


def test_no_credentials_runs_no_command(tmp_path: Path) -> None:
    session = StubbedSession()
    session.stub("sts").add_client_error("get_caller_identity", service_error_code="ExpiredToken")
    commands: list[Sequence[str]] = []
    exit_code = run_integration(
        check_serverless=False,
        session=session,
        runner=lambda command, env: commands.append(command) or 0,
        environ={},
        work_dir=tmp_path,
    )
    assert exit_code == EXIT_CANNOT_START
    assert commands == []


def test_a_passing_run_reads_verdicts_then_joins_the_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = StubbedSession()
    _ready_account(session)
    assembly = tmp_path / "cdk.out"

    def runner(command: Sequence[str], env: Mapping[str, str]) -> int:
        if command[1] == "deploy":
            assembly.mkdir()
            (assembly / "manifest.json").write_text(
                json.dumps(
                    {
                        "artifacts": {
                            name: {"type": "aws:cloudformation:stack", "displayName": name}
                            for name in [*STACKS, ASSERTION_STACK]
                        }
                    }
                )
            )
            (assembly / f"{ASSERTION_STACK}.template.json").write_text(
                json.dumps({"Outputs": {"AssertionResultsA": {"Value": "x"}}})
            )
            (tmp_path / "outputs.json").write_text(
                json.dumps(
                    {
                        ASSERTION_STACK: {"AssertionResultsA": '{"status": "success"}'},
                        "ZstcInteg-Data": {"BucketName": "zstcinteg-data-bucket"},
                    }
                )
            )
        return 0

    joined: list[str] = []
    monkeypatch.setattr(
        "integ.run.check_dataset_results",
        lambda **kwargs: joined.append(kwargs["dataset"].prefix) or [],
    )
    uploaded: list[str] = []
    monkeypatch.setattr(
        "integ.run.check_post_deploy_uploads",
        lambda **kwargs: uploaded.append(kwargs["bucket"]) or [],
    )
    for name in [*STACKS, ASSERTION_STACK]:
        _stack_gone(session, name)
    session.stub("resourcegroupstaggingapi").add_response(
        "get_resources", {"ResourceTagMappingList": []}
    )
    # Three zstc prefixes (two stacks and the endpoint's), then the two test stacks', whose
    # log group a passing run removes.
    _nothing_logged(session, count=3)
    session.stub("logs").add_response(
        "describe_log_groups",
        {"logGroups": [{"logGroupName": "/aws/lambda/ZstcInteg-Probe-x"}]},
    )
    session.stub("logs").add_response("describe_log_groups", {"logGroups": []})
    session.stub("logs").add_response(
        "delete_log_group", {}, expected_params={"logGroupName": "/aws/lambda/ZstcInteg-Probe-x"}
    )
    assert (
        run_integration(
            check_serverless=False,
            session=session,
            runner=runner,
            environ={},
            work_dir=tmp_path,
            settle_seconds=0,
        )
        == 0
    )
    assert uploaded == ["zstcinteg-data-bucket"]
    # The assertion stack's three-part dataset and the many-part one.
    assert len(joined) == 2 and joined[1].endswith("-many/")
    session.assert_no_pending_responses()


def test_ctrl_c_during_deploy_still_destroys_and_keeps_the_logs(tmp_path: Path) -> None:
    session = StubbedSession()
    _ready_account(session)
    commands: list[str] = []

    def runner(command: Sequence[str], env: Mapping[str, str]) -> int:
        commands.append(command[1])
        if command[1] == "deploy":
            raise KeyboardInterrupt
        return 0

    # The endpoint's log groups, then the two test stacks': an interrupted run deletes none.
    session.stub("logs").add_response("describe_log_groups", {"logGroups": []})
    session.stub("logs").add_response(
        "describe_log_groups", {"logGroups": [{"logGroupName": "/aws/lambda/ZstcInteg-Probe-x"}]}
    )
    session.stub("logs").add_response("describe_log_groups", {"logGroups": []})
    with pytest.raises(KeyboardInterrupt):
        run_integration(
            check_serverless=False,
            session=session,
            runner=runner,
            environ={},
            work_dir=tmp_path,
            settle_seconds=0,
        )
    assert commands == ["deploy", *DESTROY_STEPS]
    session.assert_no_pending_responses()

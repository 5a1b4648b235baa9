"""`make integ` checks region, credentials and bootstrap before anything is deployed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from stubbed_session import ACCOUNT, REGION, StubbedSession

from integ.preflight import BOOTSTRAP_STACK_NAME, PreflightError, check_target

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
CALLER_ARN = f"arn:aws:iam::{ACCOUNT}:user/ml-engineer"


def _no_credentials_environment(tmp_path: Path) -> dict[str, str]:
    """This process's environment with every source of AWS credentials removed.

    The instance metadata service is switched off too: no test sends traffic to its address.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in ("CDK_DEFAULT_ACCOUNT",)
    }
    env.update(
        {
            "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_REGION": REGION,
        }
    )
    return env


def test_without_credentials_nothing_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in _no_credentials_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    session = boto3.session.Session()
    sent: list[Any] = []
    # before-send fires for every HTTP request botocore is about to make.
    session.events.register("before-send", lambda request, **_: sent.append(request))
    with pytest.raises(PreflightError, match="no AWS credentials") as raised:
        check_target(session=session)
    assert "nothing was deployed" in str(raised.value)
    assert sent == []


def test_without_a_region_the_run_does_not_start() -> None:
    with pytest.raises(PreflightError, match="no AWS region: set AWS_REGION"):
        check_target(session=StubbedSession(region_name=None), environ={})


def test_refused_credentials_are_named() -> None:
    session = StubbedSession()
    session.stub("sts").add_client_error(
        "get_caller_identity",
        service_error_code="ExpiredToken",
        service_message="The security token included in the request is expired",
    )
    with pytest.raises(PreflightError, match=r"refused .*expired.*aws sso login"):
        check_target(session=session)


def _identity(session: StubbedSession) -> None:
    session.stub("sts").add_response(
        "get_caller_identity", {"UserId": "AIDA", "Account": ACCOUNT, "Arn": CALLER_ARN}
    )


def test_an_account_without_cdk_bootstrap_is_told_how_to_bootstrap() -> None:
    session = StubbedSession()
    _identity(session)
    session.stub("cloudformation").add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {BOOTSTRAP_STACK_NAME} does not exist",
        expected_params={"StackName": BOOTSTRAP_STACK_NAME},
    )
    with pytest.raises(PreflightError, match=f"cdk bootstrap aws://{ACCOUNT}/{REGION}"):
        check_target(session=session)


def test_a_ready_account_is_the_target() -> None:
    session = StubbedSession()
    _identity(session)
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
        expected_params={"StackName": BOOTSTRAP_STACK_NAME},
    )
    target = check_target(session=session)
    assert (target.account, target.region, target.caller_arn) == (ACCOUNT, REGION, CALLER_ARN)
    session.assert_no_pending_responses()


def test_make_integ_without_credentials_stops_before_deploying(tmp_path: Path) -> None:
    """The command `make integ` runs, in a fresh process, with no credentials anywhere."""
    completed = subprocess.run(
        [sys.executable, "-m", "integ.run"],
        cwd=REPO_ROOT,
        env=_no_credentials_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2, completed.stderr
    assert "make integ: no AWS credentials" in completed.stderr
    assert "deploy the integration stacks" not in completed.stderr


def test_the_make_target_runs_the_integration_module() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "integ"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert "-m integ.run" in dry_run.stdout

"""`zstc doctor`'s endpoint mode row and serverless concurrency quota, through a strict Stubber
on service-quotas (every request and answer is checked against the service model)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from zstc.doctor import check_endpoint_mode, check_serverless_concurrency

REGION = "eu-west-1"
# The quota as Service Quotas lists it; the check matches the words, since AWS words these
# names in prose (the exact wording is not part of any API contract).
ACCOUNT_QUOTA = "Maximum total concurrency that can be allocated across all serverless endpoints"
PER_ENDPOINT_QUOTA = "Maximum concurrency per endpoint for serverless endpoints"


def _quota(name: str, code: str, value: float) -> dict[str, Any]:
    return {
        "ServiceCode": "sagemaker",
        "ServiceName": "Amazon SageMaker",
        "QuotaArn": f"arn:aws:servicequotas:{REGION}:111122223333:sagemaker/{code}",
        "QuotaCode": code,
        "QuotaName": name,
        "Value": value,
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }


@pytest.fixture
def quotas() -> tuple[Any, Stubber]:
    client = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    ).client("service-quotas")
    return client, Stubber(client)


def _listed(stub: Stubber, *entries: dict[str, Any]) -> None:
    stub.add_response(
        "list_service_quotas", {"Quotas": list(entries)}, {"ServiceCode": "sagemaker"}
    )


def test_account_concurrency_below_max_concurrency_fails_with_the_increase_command(
    quotas: tuple[Any, Stubber],
) -> None:
    client, stub = quotas
    _listed(
        stub,
        _quota(PER_ENDPOINT_QUOTA, "L-11111111", 200),
        _quota(ACCOUNT_QUOTA, "L-22222222", 10),
    )
    with stub:
        check = check_serverless_concurrency(client, max_concurrency=20)
    assert check.outcome == "fail"
    assert "10 for the whole account; serverless_max_concurrency is 20" in check.detail
    assert "--quota-code L-22222222 --desired-value 20" in check.fix


def test_account_concurrency_that_covers_the_endpoint_is_ok(quotas: tuple[Any, Stubber]) -> None:
    client, stub = quotas
    _listed(stub, _quota(ACCOUNT_QUOTA, "L-22222222", 10))
    with stub:
        check = check_serverless_concurrency(client, max_concurrency=5)
    assert (check.outcome, check.detail) == (
        "ok",
        f"{ACCOUNT_QUOTA}: 10 for the account, 5 for this endpoint",
    )


def test_no_serverless_quota_in_the_region_is_a_warning(quotas: tuple[Any, Stubber]) -> None:
    client, stub = quotas
    _listed(stub, _quota("ml.g4dn.xlarge for endpoint usage", "L-33333333", 1))
    with stub:
        check = check_serverless_concurrency(client, max_concurrency=5)
    assert check.outcome == "warn" and "no serverless concurrency quota" in check.detail


def test_unreadable_quotas_are_a_warning_naming_the_permission(
    quotas: tuple[Any, Stubber],
) -> None:
    client, stub = quotas
    stub.add_client_error(
        "list_service_quotas", service_error_code="AccessDeniedException", http_status_code=403
    )
    with stub:
        check = check_serverless_concurrency(client, max_concurrency=5)
    assert check.outcome == "warn" and "servicequotas:ListServiceQuotas" in check.fix


@pytest.mark.parametrize(
    ("configured", "deployed", "outcome", "detail"),
    [
        ("serverless", None, "ok", "serverless (not deployed)"),
        ("async", "async", "ok", "async"),
        ("serverless", "realtime", "warn", "deployed realtime, cdk.json asks for serverless"),
    ],
)
def test_the_mode_row_compares_cdk_json_with_the_deployed_stack(
    configured: str, deployed: str | None, outcome: str, detail: str
) -> None:
    check = check_endpoint_mode(configured=configured, deployed=deployed)
    assert (check.outcome, check.detail) == (outcome, detail)


def test_doctor_command_for_a_serverless_configuration(
    deployed: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """cdk.json asks for serverless while the deployed stack is realtime: the mode row warns, the
    account's serverless concurrency is checked, and no endpoint instance quota is asked for."""
    import json

    import zstc.cli.context
    import zstc.stack_outputs
    from zstc import doctor
    from zstc.cli import main

    monkeypatch.setattr(doctor, "java_version", lambda: 17)
    monkeypatch.setattr(
        zstc.stack_outputs,
        "read_cdk_context",
        lambda **_: {"endpoint_mode": "serverless", "serverless_max_concurrency": 20},
    )
    quotas = boto3.client("service-quotas", region_name=REGION)
    lambda_client = boto3.client("lambda", region_name=REGION)
    quota_stub, lambda_stub = Stubber(quotas), Stubber(lambda_client)
    # Once for the serverless concurrency, once for the transform job instances.
    for _ in range(2):
        _listed(
            quota_stub,
            _quota(ACCOUNT_QUOTA, "L-22222222", 10),
            _quota("ml.g4dn.xlarge for transform job usage", "L-2", 5),
        )
    lambda_stub.add_response(
        "get_account_settings",
        {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 998}},
    )
    real_client = zstc.cli.context.Settings.client
    stubbed = {"service-quotas": quotas, "lambda": lambda_client}
    monkeypatch.setattr(
        zstc.cli.context.Settings,
        "client",
        lambda self, service: stubbed.get(service) or real_client(self, service),
    )
    with quota_stub, lambda_stub:
        main(["doctor", "--port", "1", "--output", "json", *deployed.cli_args()])
    quota_stub.assert_no_pending_responses()
    checks = {item["check"]: item for item in json.loads(capsys.readouterr().out)}
    assert checks["endpoint mode"]["outcome"] == "warn"
    assert checks["endpoint mode"]["detail"] == "deployed realtime, cdk.json asks for serverless"
    assert checks["quota serverless concurrency"]["outcome"] == "fail"
    assert not [name for name in checks if name.endswith("for endpoint usage")]

"""`zstc doctor`: each check at its boundary (botocore Stubber, moto, a fake `java`), each
failure with its fix, and the command's table/JSON and exit code."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cli_test_support import REGION, REPO_ROOT, DeployedZstc

import zstc.cli.context
from zstc import doctor
from zstc.cli import main


@pytest.mark.parametrize(
    ("printed", "major"),
    [
        ('openjdk version "17.0.9" 2023-10-17\nOpenJDK Runtime Environment', 17),
        ('java version "1.8.0_382"\nJava(TM) SE Runtime Environment', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("command not understood", None),
    ],
)
def test_java_version_from_java_dash_version(printed: str, major: int | None) -> None:
    assert doctor.java_version(run=lambda command: printed) == major


def test_java_check_names_the_fix() -> None:
    assert doctor.check_java(17).outcome == "ok"
    old = doctor.check_java(11)
    assert old.outcome == "fail" and "Java 11" in old.detail and "openjdk-17" in old.fix
    missing = doctor.check_java(None)
    assert missing.outcome == "fail" and "no `java` on PATH" in missing.detail


def test_busy_ports_are_named_with_the_fix() -> None:
    check = doctor.check_ports([8080, 9090], is_free=lambda port: port != 8080)
    assert check.outcome == "warn" and "8080" in check.detail and "--port" in check.fix
    assert doctor.check_ports([9090], is_free=lambda port: True).outcome == "ok"


def test_credentials_check_with_the_fix_when_rejected() -> None:
    sts = boto3.client("sts", region_name=REGION)
    with Stubber(sts) as stubber:
        stubber.add_client_error(
            "get_caller_identity", service_error_code="ExpiredToken", service_message="expired"
        )
        check, account = doctor.check_credentials(sts)
    assert check.outcome == "fail" and "ExpiredToken" in check.detail
    assert "aws sso login" in check.fix and account is None


def test_bootstrap_check(deployed: DeployedZstc) -> None:
    missing = doctor.check_bootstrap(deployed.cloudformation, account="123456789012", region=REGION)
    assert missing.outcome == "fail"
    assert missing.fix == f"node_modules/.bin/cdk bootstrap aws://123456789012/{REGION}"
    deployed.cloudformation.create_stack(
        StackName="CDKToolkit",
        TemplateBody=json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}),
    )
    present = doctor.check_bootstrap(deployed.cloudformation, account="123456789012", region=REGION)
    assert present.outcome == "ok" and "CREATE_COMPLETE" in present.detail


def test_stack_checks_name_missing_stacks(deployed: DeployedZstc) -> None:
    from cli_test_support import STACK_PREFIX

    present = doctor.check_stacks(deployed.cloudformation, stack_prefix=STACK_PREFIX)
    assert {check.outcome for check in present} == {"ok"}
    missing = doctor.check_stacks(deployed.cloudformation, stack_prefix="Nope")
    names = ["stack Nope-Data", "stack Nope-Endpoint", "stack Nope-Batch"]
    assert [check.name for check in missing] == names
    assert all(c.outcome == "fail" and "make deploy" in c.fix for c in missing)


def _quota(name: str, code: str, value: float) -> dict[str, Any]:
    return {"ServiceCode": "sagemaker", "QuotaName": name, "QuotaCode": code, "Value": value}


def test_instance_quota_below_the_configuration_fails_with_the_increase_request() -> None:
    quotas = boto3.client("service-quotas", region_name=REGION)
    with Stubber(quotas) as stubber:
        stubber.add_response(
            "list_service_quotas",
            {"Quotas": [
                _quota("ml.g4dn.xlarge for endpoint usage", "L-1111", 0),
                _quota("ml.g4dn.xlarge for transform job usage", "L-2222", 4),
            ]},
            {"ServiceCode": "sagemaker"},
        )  # fmt: skip
        checks = doctor.check_instance_quotas(
            quotas,
            needs=[
                ("ml.g4dn.xlarge", "endpoint", 2),
                ("ml.g4dn.xlarge", "transform job", 1),
                ("ml.zz.xlarge", "transform job", 1),
            ],
        )
    endpoint, transform, unknown = checks
    assert (
        endpoint.outcome == "fail" and "0 instances; the configuration needs 2" in endpoint.detail
    )
    assert "--quota-code L-1111 --desired-value 2" in endpoint.fix
    assert transform.outcome == "ok"
    assert unknown.outcome == "warn"


def test_lambda_concurrency_reserves_nothing_for_the_trigger() -> None:
    """Defect: the check failed accounts with "the trigger reserves 2", though the trigger's
    bound is its SQS event source's MaximumConcurrency, which reserves nothing."""
    client = boto3.client("lambda", region_name=REGION)
    with Stubber(client) as stubber:
        # A new account: limit 10, all of it unreserved (Lambda's floor).
        stubber.add_response(
            "get_account_settings",
            {"AccountLimit": {"ConcurrentExecutions": 10, "UnreservedConcurrentExecutions": 10}},
        )
        check = doctor.check_lambda_concurrency(client)
    assert check.outcome == "ok"
    assert "reserves 2" not in check.detail
    assert "the trigger reserves none" in check.detail


def test_the_trigger_reserves_no_concurrency_in_the_stack() -> None:
    """What the doctor says matches the stack: no ReservedConcurrentExecutions on the trigger."""
    source = (REPO_ROOT / "stacks" / "batch_stack.py").read_text(encoding="utf-8")
    assert "reserved_concurrent_executions" not in source
    assert "max_concurrency=TRIGGER_CONCURRENCY" in source


@pytest.mark.parametrize(
    ("region", "nearest"),
    [("us-eastt-1", "us-east-1"), ("eu-wset-1", "eu-west-1"), ("ap-southeast-22", None)],
)
def test_region_typos_are_named_with_the_nearest_region(region: str, nearest: str | None) -> None:
    check = doctor.check_region(region)
    assert check.outcome == "fail"
    assert repr(region) in check.detail and "is not an AWS region" in check.detail
    if nearest is not None:
        assert f"did you mean {nearest}?" in check.detail
        assert f"--region {nearest}" in check.fix


def test_regions_come_from_botocores_partitions() -> None:
    regions = doctor.known_regions()
    assert regions["eu-west-1"] == "aws"
    assert regions["cn-north-1"] == "aws-cn"
    assert regions["us-gov-west-1"] == "aws-us-gov"
    for region in ("us-east-1", "cn-north-1", "us-gov-west-1"):
        assert doctor.check_region(region).outcome == "ok"


def test_region_shaped_but_unknown_to_this_botocore_is_a_warning() -> None:
    check = doctor.check_region("mx-north-3", regions={"eu-west-1": "aws"})
    assert check.outcome == "warn" and "upgrade boto3" in check.fix


def test_a_mistyped_region_stops_the_doctor_before_blaming_credentials(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(doctor, "java_version", lambda: 17)
    assert main(["doctor", "--port", "1", "--region", "us-eastt-1", "--output", "json"]) == 1
    checks = {item["check"]: item for item in json.loads(capsys.readouterr().out)}
    detail = checks["region"]["detail"]
    assert detail == "'us-eastt-1' is not an AWS region; did you mean us-east-1?"
    assert "credentials" not in checks


def test_piped_doctor_lines_end_with_their_text(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect: piped, every line was padded with spaces to the widest row (200 characters)."""
    monkeypatch.setattr(doctor, "java_version", lambda: 17)
    main(["doctor", "--port", "1", "--region", "us-eastt-1"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 4
    assert all(line == line.rstrip() for line in lines)
    assert any(line.startswith("ok    java") for line in lines)


def test_fixes_with_brackets_survive_the_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect: rich read "[local]" in a fix as markup and printed pip install "zstc"."""
    monkeypatch.setattr(doctor, "java_version", lambda: 17)
    monkeypatch.setattr(
        doctor,
        "check_java",
        lambda version: doctor.Check(
            name="java", outcome="warn", detail="x", fix="pip install '/src/zstc[local]'"
        ),
    )
    main(["doctor", "--local-only", "--port", "1"])
    assert "pip install '/src/zstc[local]'" in capsys.readouterr().out


def test_doctor_command_reports_every_check_and_exits_1_on_a_failure(
    deployed: DeployedZstc, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(doctor, "java_version", lambda: 17)
    quotas = boto3.client("service-quotas", region_name=REGION)
    lambda_client = boto3.client("lambda", region_name=REGION)
    quota_stub, lambda_stub = Stubber(quotas), Stubber(lambda_client)
    quota_stub.add_response(
        "list_service_quotas",
        {"Quotas": [_quota("ml.g4dn.xlarge for endpoint usage", "L-1", 5),
                    _quota("ml.g4dn.xlarge for transform job usage", "L-2", 5)]},
    )  # fmt: skip
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
        code = main(["doctor", "--port", "1", "--output", "json", *deployed.cli_args()])
    checks = {item["check"]: item for item in json.loads(capsys.readouterr().out)}
    # No CDK bootstrap stack in this account: the one failure, with its fix.
    assert code == 1
    assert checks["cdk bootstrap"]["outcome"] == "fail"
    assert checks["cdk bootstrap"]["fix"].startswith("node_modules/.bin/cdk bootstrap aws://")
    others = {name: item["outcome"] for name, item in checks.items() if name != "cdk bootstrap"}
    assert others.pop("ports") in ("ok", "warn")
    assert set(others.values()) == {"ok"}
    assert {"java", "region", "credentials", "lambda concurrency"} <= set(others)
    assert "quota ml.g4dn.xlarge for transform job usage" in others

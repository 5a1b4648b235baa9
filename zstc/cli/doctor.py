"""`zstc doctor`: checks this machine and the AWS account, and says how to fix what fails."""

from __future__ import annotations

from typing import Any

import click

from zstc.cli.context import global_options, settings, stdout_console
from zstc.cli_errors import CliError

DEFAULT_PORTS = (8080,)
MARKS = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}


def _configured_needs(context: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(instance type, quota usage, instances) from cdk.json, as `make deploy` would use them."""
    needs = []
    # A serverless endpoint runs on no instance of the account's: its quota is concurrency.
    if context.get("endpoint_enabled", True) and _configured_mode(context) != "serverless":
        count = max(
            int(context.get("endpoint_instance_count", 1)),
            int(context.get("autoscaling_max_capacity", 1)),
        )
        needs.append(
            (str(context.get("endpoint_instance_type", "ml.g4dn.xlarge")), "endpoint", count)
        )
    needs.append(
        (
            str(context.get("batch_instance_type", "ml.g4dn.xlarge")),
            "transform job",
            int(context.get("batch_instance_count", 1)),
        )
    )
    return needs


def _configured_mode(context: dict[str, Any]) -> str:
    return str(context.get("endpoint_mode", "realtime"))


def _mode_checks(options: Any, *, stack_prefix: str, context: dict[str, Any]) -> list[Any]:
    """The endpoint mode row and, for serverless, the account's serverless concurrency."""
    from zstc import doctor

    configured = _configured_mode(context)
    deployed = doctor.deployed_endpoint_mode(
        options.client("cloudformation"), stack_prefix=stack_prefix
    )
    checks = [doctor.check_endpoint_mode(configured=configured, deployed=deployed)]
    if "serverless" in (configured, deployed):
        max_concurrency = int(context.get("serverless_max_concurrency", 5))
        checks.append(
            doctor.check_serverless_concurrency(
                options.client("service-quotas"), max_concurrency=max_concurrency
            )
        )
    return checks


@click.command("doctor")
@click.option(
    "--port",
    "ports",
    type=int,
    multiple=True,
    help="Local port to check is free (repeatable; default 8080).",
)
@click.option("--local-only", is_flag=True, help="Check only this machine (Java, ports).")
@global_options
def command(ports: tuple[int, ...], local_only: bool) -> int:
    """Check Java 17 and free ports, AWS credentials, region and CDK bootstrap, the stacks and
    their outputs, SageMaker instance quotas for the configured types, and Lambda concurrency.
    Every failed check says how to fix it; exit 1 if any failed."""
    from zstc import doctor

    options = settings()
    checks = [doctor.check_java(doctor.java_version())]
    try:
        from zstc.local.endpoint import port_is_free
    except ImportError as error:
        from zstc.install_hints import install_command

        checks.append(
            doctor.Check(
                name="local serving",
                outcome="warn",
                detail=f"not installed ({error.name} is missing)",
                fix=f"for zstc local serve / local batch: {install_command('local')}",
            )
        )
    else:
        checks.append(doctor.check_ports(ports or DEFAULT_PORTS, is_free=port_is_free))
    if not local_only:
        session = options.session()
        region_check = doctor.check_region(session.region_name)
        checks.append(region_check)
        # Past a wrong region every AWS call fails, and its errors would blame the credentials.
        if region_check.outcome != "fail" and session.region_name:
            try:
                sts = options.client("sts")
            except CliError as error:
                checks.append(doctor.Check(name="credentials", outcome="fail", detail=str(error)))
            else:
                credentials, account = doctor.check_credentials(sts)
                checks.append(credentials)
                if account is not None:
                    cloudformation = options.client("cloudformation")
                    checks.append(
                        doctor.check_bootstrap(
                            cloudformation, account=account, region=session.region_name
                        )
                    )
                    stacks = doctor.check_stacks(
                        cloudformation, stack_prefix=options.resolved_stack_prefix()
                    )
                    checks.extend(stacks)
                    from zstc.stack_outputs import read_cdk_context

                    # One read of cdk.json for every check that compares against it.
                    context = read_cdk_context()
                    checks.extend(
                        _mode_checks(
                            options, stack_prefix=options.resolved_stack_prefix(), context=context
                        )
                    )
                    checks.extend(
                        doctor.check_instance_quotas(
                            options.client("service-quotas"), needs=_configured_needs(context)
                        )
                    )
                    checks.append(doctor.check_lambda_concurrency(options.client("lambda")))
    failed = any(check.outcome == "fail" for check in checks)
    if options.json_output:
        from zstc.cli.json_output import echo_json

        echo_json([check.as_dict() for check in checks])
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table("", "check", "result", "fix", box=None, pad_edge=False)
        for check in checks:
            # Text, not markup: a fix such as pip install '...[local]' must print its brackets.
            table.add_row(
                Text.from_markup(MARKS[check.outcome]),
                Text(check.name),
                Text(check.detail),
                Text(check.fix),
            )
        stdout_console().print(table)
    return 1 if failed else 0

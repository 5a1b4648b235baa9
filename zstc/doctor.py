"""`zstc doctor`: what must hold for zstc to work here, each check with the fix when it fails.

Every check takes what it inspects as arguments (clients, a Java runner, a port probe), so each
is tested at its boundary with botocore's Stubber or moto.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

Outcome = Literal["ok", "warn", "fail"]
REQUIRED_JAVA = 17
# The CDK bootstrap stack's default name (`cdk bootstrap`, aws-cdk's DEFAULT_TOOLKIT_STACK_NAME).
CDK_TOOLKIT_STACK = "CDKToolkit"
# The trigger reserves no concurrency: its SQS event source's MaximumConcurrency bounds it, and it
# runs in the account's unreserved pool (stacks/batch_stack.py, TRIGGER_CONCURRENCY). Lambda keeps
# at least 10 executions unreserved in every account (Lambda developer guide, "Configuring
# reserved concurrency"), so the pool is never empty; the check reports what there is.
STACK_OUTPUTS = {
    "-Data": ("BucketName", "KmsKeyArn"),
    "-Endpoint": ("EndpointName",),
    "-Batch": ("JobNamePrefix", "MaxCandidateLabels"),
}


@dataclass(frozen=True, kw_only=True)
class Check:
    name: str
    outcome: Outcome
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"check": self.name, "outcome": self.outcome, "detail": self.detail, "fix": self.fix}


def _aws_message(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'error')}: {details.get('Message', '')}"
    return str(error)


def java_version(run: Callable[[list[str]], str] | None = None) -> int | None:
    """The major version of `java` on PATH, or None when there is none."""
    if run is None:
        if shutil.which("java") is None:
            return None

        def run(command: list[str]) -> str:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
            return done.stderr + done.stdout  # `java -version` writes to stderr

    match = re.search(r'version "(\d+)(?:\.(\d+))?', run(["java", "-version"]))
    if match is None:
        return None
    major = int(match.group(1))
    # Java 8 and older call themselves 1.x.
    return int(match.group(2) or 0) if major == 1 else major


def check_java(version: int | None) -> Check:
    fix = (
        "install a Java 17 runtime (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; "
        "macOS: brew install openjdk@17) and put its `java` first on PATH"
    )
    if version is None:
        return Check(name="java", outcome="fail", detail="no `java` on PATH", fix=fix)
    if version < REQUIRED_JAVA:
        return Check(
            name="java",
            outcome="fail",
            detail=f"Java {version}; the local model server needs Java {REQUIRED_JAVA}",
            fix=fix,
        )
    return Check(name="java", outcome="ok", detail=f"Java {version}")


def check_ports(ports: Iterable[int], *, is_free: Callable[[int], bool]) -> Check:
    busy = [port for port in ports if not is_free(port)]
    if busy:
        return Check(
            name="ports",
            outcome="warn",
            detail=f"in use on 127.0.0.1: {', '.join(map(str, busy))}",
            fix="stop what listens there, or pass another --port to `zstc local serve`",
        )
    return Check(name="ports", outcome="ok", detail="free: " + ", ".join(map(str, ports)))


def known_regions() -> dict[str, str]:
    """Region name -> partition, from botocore's own endpoint data (endpoints.json partitions)."""
    import botocore.session

    endpoints = botocore.session.get_session().get_data("endpoints")
    return {
        region: partition["partition"]
        for partition in endpoints["partitions"]
        for region in partition.get("regions", {})
    }


def _partition_patterns() -> list[re.Pattern[str]]:
    import botocore.session

    endpoints = botocore.session.get_session().get_data("endpoints")
    return [
        re.compile(partition["regionRegex"])
        for partition in endpoints["partitions"]
        if partition.get("regionRegex")
    ]


def check_region(region: str | None, *, regions: dict[str, str] | None = None) -> Check:
    """The region must be one botocore knows; a typo is named with the nearest real region."""
    import difflib

    # botocore reads AWS_DEFAULT_REGION, not AWS_REGION (botocore/configprovider.py).
    fix_missing = (
        "pass --region, set AWS_DEFAULT_REGION, or run `aws configure set region eu-west-1`"
    )
    if not region:
        return Check(
            name="region", outcome="fail", detail="no AWS region configured", fix=fix_missing
        )
    regions = known_regions() if regions is None else regions
    if region in regions:
        return Check(name="region", outcome="ok", detail=region)
    nearest = difflib.get_close_matches(region, list(regions), n=1, cutoff=0.75)
    if nearest:
        return Check(
            name="region",
            outcome="fail",
            detail=f"{region!r} is not an AWS region; did you mean {nearest[0]}?",
            fix=f"pass --region {nearest[0]}, or correct AWS_DEFAULT_REGION / your AWS config",
        )
    if any(pattern.fullmatch(region) for pattern in _partition_patterns()):
        import botocore

        # Shaped like a region, but newer than this botocore's list.
        return Check(
            name="region",
            outcome="warn",
            detail=f"{region!r} is not in botocore {botocore.__version__}'s region list",
            fix="if the region is new, upgrade boto3/botocore; otherwise correct --region",
        )
    return Check(
        name="region",
        outcome="fail",
        detail=f"{region!r} is not an AWS region (such as eu-west-1)",
        fix=fix_missing,
    )


def check_credentials(sts: Any) -> tuple[Check, str | None]:
    """Who the credentials are; returns the account id for the checks that need it."""
    fix = (
        "run `aws configure`, choose a profile with AWS_PROFILE or --profile, or sign in with "
        "`aws sso login`"
    )
    try:
        identity = sts.get_caller_identity()
    except (ClientError, BotoCoreError) as error:
        return Check(name="credentials", outcome="fail", detail=_aws_message(error), fix=fix), None
    return (
        Check(name="credentials", outcome="ok", detail=f"{identity['Arn']}"),
        str(identity["Account"]),
    )


def check_bootstrap(cloudformation: Any, *, account: str | None, region: str) -> Check:
    target = f"aws://{account or 'ACCOUNT'}/{region}"
    fix = f"node_modules/.bin/cdk bootstrap {target}"
    try:
        stacks = cloudformation.describe_stacks(StackName=CDK_TOOLKIT_STACK)["Stacks"]
    except ClientError as error:
        if "does not exist" in _aws_message(error):
            return Check(
                name="cdk bootstrap",
                outcome="fail",
                detail=f"{CDK_TOOLKIT_STACK} is not deployed in {region}",
                fix=fix,
            )
        return Check(name="cdk bootstrap", outcome="fail", detail=_aws_message(error), fix=fix)
    except BotoCoreError as error:
        return Check(name="cdk bootstrap", outcome="fail", detail=str(error), fix=fix)
    status = stacks[0].get("StackStatus", "")
    if not status.endswith("_COMPLETE") or "ROLLBACK" in status or "DELETE" in status:
        return Check(
            name="cdk bootstrap",
            outcome="fail",
            detail=f"{CDK_TOOLKIT_STACK} is {status}",
            fix=fix,
        )
    return Check(name="cdk bootstrap", outcome="ok", detail=f"{CDK_TOOLKIT_STACK} {status}")


def check_stacks(cloudformation: Any, *, stack_prefix: str) -> list[Check]:
    checks = []
    for suffix, keys in STACK_OUTPUTS.items():
        name = stack_prefix + suffix
        try:
            stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        except (ClientError, BotoCoreError) as error:
            message = _aws_message(error)
            detail = "not deployed" if "does not exist" in message else message
            checks.append(
                Check(
                    name=f"stack {name}",
                    outcome="fail",
                    detail=detail,
                    fix="make deploy (or pass --stack-prefix / --region)",
                )
            )
            continue
        outputs = {item["OutputKey"] for item in stack.get("Outputs", [])}
        missing = [key for key in keys if key not in outputs]
        if missing:
            checks.append(
                Check(
                    name=f"stack {name}",
                    outcome="fail",
                    detail=f"{stack.get('StackStatus')}, outputs missing: {', '.join(missing)}",
                    fix="redeploy with this version of zstc: make deploy",
                )
            )
        else:
            checks.append(
                Check(name=f"stack {name}", outcome="ok", detail=str(stack.get("StackStatus")))
            )
    return checks


def _sagemaker_quotas(service_quotas: Any) -> dict[str, tuple[str, float]]:
    """Quota name -> (quota code, value) for every applied SageMaker quota."""
    quotas: dict[str, tuple[str, float]] = {}
    paginator = service_quotas.get_paginator("list_service_quotas")
    for page in paginator.paginate(ServiceCode="sagemaker"):
        for quota in page.get("Quotas", []):
            quotas[quota["QuotaName"]] = (quota["QuotaCode"], float(quota.get("Value", 0)))
    return quotas


def check_instance_quotas(
    service_quotas: Any, *, needs: Iterable[tuple[str, str, int]]
) -> list[Check]:
    """needs: (instance type, usage, instances) with usage "endpoint" or "transform job".

    SageMaker names its instance quotas "<type> for endpoint usage" and "<type> for transform
    job usage" (the names CreateEndpoint's ResourceLimitExceeded error quotes).
    """
    try:
        quotas = _sagemaker_quotas(service_quotas)
    except (ClientError, BotoCoreError) as error:
        return [
            Check(
                name="sagemaker quotas",
                outcome="warn",
                detail=f"cannot read Service Quotas: {_aws_message(error)}",
                fix="allow servicequotas:ListServiceQuotas, or check the quotas in the console",
            )
        ]
    checks = []
    for instance_type, usage, count in needs:
        quota_name = f"{instance_type} for {usage} usage"
        name = f"quota {quota_name}"
        if quota_name not in quotas:
            checks.append(
                Check(
                    name=name,
                    outcome="warn",
                    detail="not listed by Service Quotas in this region",
                    fix="check that the instance type exists in this region",
                )
            )
            continue
        code, value = quotas[quota_name]
        if value < count:
            checks.append(
                Check(
                    name=name,
                    outcome="fail",
                    detail=f"{value:g} instances; the configuration needs {count}",
                    fix=(
                        "aws service-quotas request-service-quota-increase --service-code "
                        f"sagemaker --quota-code {code} --desired-value {count}"
                    ),
                )
            )
        else:
            checks.append(Check(name=name, outcome="ok", detail=f"{value:g} instances"))
    return checks


def check_lambda_concurrency(lambda_client: Any) -> Check:
    """What the account offers the trigger, which reserves nothing and runs in the unreserved
    pool (that pool is never below Lambda's minimum of 10 executions)."""
    try:
        limit = lambda_client.get_account_settings()["AccountLimit"]
    except (ClientError, BotoCoreError) as error:
        return Check(name="lambda concurrency", outcome="warn", detail=_aws_message(error))
    unreserved = int(limit.get("UnreservedConcurrentExecutions", 0))
    total = int(limit.get("ConcurrentExecutions", 0))
    return Check(
        name="lambda concurrency",
        outcome="ok",
        detail=(
            f"account limit {total}, {unreserved} unreserved; the trigger reserves none "
            "(it runs in the unreserved pool)"
        ),
    )


def check_endpoint_mode(*, configured: str, deployed: str | None) -> Check:
    """The endpoint mode cdk.json asks for, and the one the deployed Endpoint stack runs.

    A stack deployed before endpoint modes existed has no EndpointMode output: realtime.
    """
    if deployed is None:
        return Check(name="endpoint mode", outcome="ok", detail=f"{configured} (not deployed)")
    if deployed != configured:
        return Check(
            name="endpoint mode",
            outcome="warn",
            detail=f"deployed {deployed}, cdk.json asks for {configured}",
            fix="make deploy to switch the endpoint to the configured mode",
        )
    return Check(name="endpoint mode", outcome="ok", detail=deployed)


def deployed_endpoint_mode(cloudformation: Any, *, stack_prefix: str) -> str | None:
    """The Endpoint stack's EndpointMode output; None when the stack is not deployed."""
    try:
        stack = cloudformation.describe_stacks(StackName=stack_prefix + "-Endpoint")["Stacks"][0]
    except (ClientError, BotoCoreError):
        return None
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    return outputs.get("EndpointMode", "realtime")


def _is_serverless_account_concurrency(quota_name: str) -> bool:
    """SageMaker's per-region quota on the concurrency shared by all serverless endpoints.

    Matched by words, not by one exact name or code: AWS words Service Quotas names in prose
    ("Maximum total concurrency that can be allocated across all serverless endpoints"-style),
    and the per-endpoint limit (MaxConcurrency, at most 200) is a separate, non-adjustable
    one that names a single endpoint.
    """
    name = quota_name.lower()
    return (
        "serverless" in name
        and "concurrency" in name
        and ("all serverless" in name or "total" in name)
        and "per endpoint" not in name
        and "provisioned" not in name
    )


def check_serverless_concurrency(service_quotas: Any, *, max_concurrency: int) -> Check:
    """The account's serverless concurrency (per region, shared by every serverless endpoint)
    must cover the endpoint's MaxConcurrency, or requests are throttled below it; SageMaker also
    refuses an endpoint whose MaxConcurrency exceeds what the account has left."""
    name = "quota serverless concurrency"
    try:
        quotas = _sagemaker_quotas(service_quotas)
    except (ClientError, BotoCoreError) as error:
        return Check(
            name=name,
            outcome="warn",
            detail=f"cannot read Service Quotas: {_aws_message(error)}",
            fix="allow servicequotas:ListServiceQuotas, or check the quotas in the console",
        )
    matching = {
        quota_name: entry
        for quota_name, entry in quotas.items()
        if _is_serverless_account_concurrency(quota_name)
    }
    if not matching:
        return Check(
            name=name,
            outcome="warn",
            detail="no serverless concurrency quota listed by Service Quotas in this region",
            fix="check that Serverless Inference is available in this region",
        )
    quota_name, (code, value) = sorted(matching.items())[0]
    if value < max_concurrency:
        return Check(
            name=name,
            outcome="fail",
            detail=(
                f"{quota_name}: {value:g} for the whole account; serverless_max_concurrency is "
                f"{max_concurrency}"
            ),
            fix=(
                f"lower serverless_max_concurrency to {value:g}, or: aws service-quotas "
                f"request-service-quota-increase --service-code sagemaker --quota-code {code} "
                f"--desired-value {max_concurrency}"
            ),
        )
    return Check(
        name=name,
        outcome="ok",
        detail=f"{quota_name}: {value:g} for the account, {max_concurrency} for this endpoint",
    )

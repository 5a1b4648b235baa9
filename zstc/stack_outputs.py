"""Finds the deployed zstc resources (bucket, key, endpoint, job prefix) from stack outputs.

Users never copy resource names: the CDK stacks export them as CloudFormation outputs, and every
command looks them up by stack name. The stack prefix comes from --stack-prefix, then the
ZSTC_STACK_PREFIX environment variable, then the project's cdk.json, then the default "Zstc".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from zstc.cli_errors import CliError

DEFAULT_STACK_PREFIX = "Zstc"
STACK_PREFIX_ENV = "ZSTC_STACK_PREFIX"


# The project's cdk.json: the nearest one from the working directory upward, for every kind of
# install (zstc/project_config.py); None where there is none.
def _project_cdk_json() -> Path | None:
    from zstc.project_config import find_cdk_json

    return find_cdk_json()


DATA_STACK_SUFFIX = "-Data"
ENDPOINT_STACK_SUFFIX = "-Endpoint"
BATCH_STACK_SUFFIX = "-Batch"


def read_cdk_context(*, cdk_json: Path | None = None) -> dict[str, Any]:
    """The "context" object of cdk.json (default: the project's), or {} when there is none."""
    from zstc.project_config import read_context

    cdk_json = cdk_json if cdk_json is not None else _project_cdk_json()
    if cdk_json is None or not cdk_json.is_file():
        return {}
    return read_context(cdk_json)


def resolve_stack_prefix(
    *, flag: str | None, environ: dict[str, str] | None = None, cdk_json: Path | None = None
) -> str:
    """The stack prefix: the flag wins, then $ZSTC_STACK_PREFIX, then cdk.json, then "Zstc"."""
    if flag:
        return flag
    env = os.environ if environ is None else environ
    if env.get(STACK_PREFIX_ENV):
        return env[STACK_PREFIX_ENV]
    prefix = read_cdk_context(cdk_json=cdk_json).get("stack_prefix")
    return prefix if isinstance(prefix, str) and prefix else DEFAULT_STACK_PREFIX


def read_stack_outputs(*, cloudformation: Any, stack_name: str) -> dict[str, str]:
    """All outputs of one stack as {OutputKey: OutputValue}; a clear error when not deployed."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        if "does not exist" in message:
            raise CliError(
                f"stack {stack_name!r} is not deployed in this account/region "
                "(deploy it with `make deploy`, or pass --stack-prefix / --region)"
            ) from error
        raise CliError(f"cannot read stack {stack_name!r}: {message}") from error
    except BotoCoreError as error:
        raise CliError(f"cannot read stack {stack_name!r}: {error}") from error
    if not stacks:
        raise CliError(f"stack {stack_name!r} is not deployed in this account/region")
    stack = stacks[0]
    status = stack.get("StackStatus", "")
    if status.endswith("_IN_PROGRESS") and not stack.get("Outputs"):
        raise CliError(f"stack {stack_name!r} is still being deployed (status {status})")
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}


def require_output(outputs: dict[str, str], *, stack_name: str, key: str) -> str:
    value = outputs.get(key)
    if not value:
        known = ", ".join(sorted(outputs)) or "none"
        raise CliError(
            f"stack {stack_name!r} has no output {key!r} (it has: {known}); "
            "redeploy it with this version of zstc"
        )
    return value


@dataclass(frozen=True, kw_only=True)
class DataResources:
    bucket_name: str
    kms_key_arn: str


@dataclass(frozen=True, kw_only=True)
class BatchResources:
    job_name_prefix: str
    # The deployed model's label limit (ZSTC_MAX_CANDIDATE_LABELS), not the local cdk.json's.
    max_candidate_labels: int


def data_resources(*, cloudformation: Any, stack_prefix: str) -> DataResources:
    stack_name = stack_prefix + DATA_STACK_SUFFIX
    outputs = read_stack_outputs(cloudformation=cloudformation, stack_name=stack_name)
    return DataResources(
        bucket_name=require_output(outputs, stack_name=stack_name, key="BucketName"),
        kms_key_arn=require_output(outputs, stack_name=stack_name, key="KmsKeyArn"),
    )


@dataclass(frozen=True, kw_only=True)
class EndpointTarget:
    """The deployed endpoint and how it is invoked (the stack's EndpointMode output)."""

    name: str
    # realtime and serverless: InvokeEndpoint; async: InvokeEndpointAsync through the bucket.
    mode: str
    bucket_name: str | None = None
    async_input_prefix: str | None = None


def endpoint_target(
    *, cloudformation: Any, stack_prefix: str, name_override: str | None = None
) -> EndpointTarget:
    """The endpoint stack's name and mode; for async, the bucket and prefix requests go to.

    A stack deployed before endpoint modes existed has no EndpointMode output: it is realtime.
    """
    stack_name = stack_prefix + ENDPOINT_STACK_SUFFIX
    outputs = read_stack_outputs(cloudformation=cloudformation, stack_name=stack_name)
    name = name_override or require_output(outputs, stack_name=stack_name, key="EndpointName")
    mode = outputs.get("EndpointMode", "realtime")
    if mode != "async":
        return EndpointTarget(name=name, mode=mode)
    data = data_resources(cloudformation=cloudformation, stack_prefix=stack_prefix)
    return EndpointTarget(
        name=name,
        mode=mode,
        bucket_name=data.bucket_name,
        async_input_prefix=require_output(outputs, stack_name=stack_name, key="AsyncInputPrefix"),
    )


def endpoint_name(*, cloudformation: Any, stack_prefix: str) -> str:
    stack_name = stack_prefix + ENDPOINT_STACK_SUFFIX
    outputs = read_stack_outputs(cloudformation=cloudformation, stack_name=stack_name)
    return require_output(outputs, stack_name=stack_name, key="EndpointName")


def batch_resources(*, cloudformation: Any, stack_prefix: str) -> BatchResources:
    stack_name = stack_prefix + BATCH_STACK_SUFFIX
    outputs = read_stack_outputs(cloudformation=cloudformation, stack_name=stack_name)
    raw_limit = require_output(outputs, stack_name=stack_name, key="MaxCandidateLabels")
    if not raw_limit.isdigit() or int(raw_limit) < 1:
        raise CliError(
            f"stack {stack_name!r} output MaxCandidateLabels is {raw_limit!r}, not a positive "
            "integer; redeploy it with this version of zstc"
        )
    return BatchResources(
        job_name_prefix=require_output(outputs, stack_name=stack_name, key="JobNamePrefix"),
        max_candidate_labels=int(raw_limit),
    )

"""Checks, before anything is deployed, that an integration run can start: region, credentials,
a bootstrapped CDK environment. Each check is the AWS call the run itself depends on.

Without credentials botocore raises NoCredentialsError while signing, before any request is
sent (botocore/auth.py SigV4Auth.add_auth), so a run without credentials stops here having
sent nothing and spent nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

# The stack `cdk bootstrap` creates (its default name; the CLI's --toolkit-stack-name changes it).
BOOTSTRAP_STACK_NAME = "CDKToolkit"


class PreflightError(RuntimeError):
    """The run cannot start; the message says what to do."""


@dataclass(frozen=True, kw_only=True)
class Target:
    account: str
    region: str
    caller_arn: str


def check_target(
    *,
    session: Any,
    bootstrap_stack_name: str = BOOTSTRAP_STACK_NAME,
    environ: Mapping[str, str] | None = None,
) -> Target:
    """The account and region the run would deploy into, or PreflightError saying why not.

    botocore reads the region from AWS_DEFAULT_REGION and the profile only; the CDK CLI and the
    AWS SDK for JavaScript also read AWS_REGION, so that counts here too.
    """
    env = os.environ if environ is None else environ
    region = session.region_name or env.get("AWS_REGION", "")
    if not region:
        raise PreflightError(
            "no AWS region: set AWS_REGION or AWS_DEFAULT_REGION (or a region in your AWS "
            "profile) to the region to deploy the integration stacks into"
        )
    try:
        identity = session.client("sts", region_name=region).get_caller_identity()
    except NoCredentialsError as error:
        raise PreflightError(
            "no AWS credentials: configure them (AWS_PROFILE, aws configure, aws sso login, or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) for the account to run the integration "
            "test in; nothing was deployed"
        ) from error
    except (ClientError, BotoCoreError) as error:
        raise PreflightError(
            f"the AWS credentials were refused ({error}); refresh them (e.g. aws sso login) "
            "and run again; nothing was deployed"
        ) from error
    try:
        session.client("cloudformation", region_name=region).describe_stacks(
            StackName=bootstrap_stack_name
        )
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        if "does not exist" in message:
            raise PreflightError(
                f"account {identity['Account']} is not CDK-bootstrapped in {region}: run "
                f"node_modules/.bin/cdk bootstrap aws://{identity['Account']}/{region} once; "
                "nothing was deployed"
            ) from error
        raise PreflightError(
            f"cannot read the CDK bootstrap stack {bootstrap_stack_name!r}: {message}"
        ) from error
    return Target(account=identity["Account"], region=region, caller_arn=identity["Arn"])

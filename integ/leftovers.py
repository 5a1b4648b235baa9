"""After destroy: nothing of the run's stacks may remain that the README does not list as staying.

The README ("Deploy, use, update, destroy") lists what stays: transform job records, the shared
/aws/sagemaker/TransformJobs log group, the CDK bootstrap stack's asset bucket, and a created KMS
key, scheduled for deletion (PendingDeletion) rather than deleted at once.

CloudFormation tags every resource it creates with aws:cloudformation:stack-name, so the tagging
API finds what a stack left behind; log groups that Lambda creates by itself carry no tag and are
looked up by name. The tagging API is eventually consistent, so a resource deleted moments ago
may still be listed: the check repeats until the list settles or the time is up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

STACK_NAME_TAG = "aws:cloudformation:stack-name"
# Transform job records cannot be deleted; the README lists them as staying (they are free).
_ALLOWED_ARN_PARTS = (":transform-job/",)
SETTLE_SECONDS = 300
POLL_SECONDS = 30


def _stacks_left(cloudformation: Any, stack_names: list[str]) -> list[str]:
    # A deleted stack answers "does not exist" to its name (only its id still finds it).
    left = []
    for name in stack_names:
        try:
            stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
        except ClientError as error:
            if "does not exist" in error.response.get("Error", {}).get("Message", ""):
                continue
            raise
        left += [f"stack {name} ({stack['StackStatus']})" for stack in stacks]
    return left


def _key_pending_deletion(kms: Any, key_arn: str) -> bool:
    try:
        state = kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"]
    except ClientError:
        return False
    return bool(state == "PendingDeletion")


def _tagged_left(tagging: Any, kms: Any, stack_names: list[str]) -> list[str]:
    left: list[str] = []
    if not stack_names:
        return left
    paginator = tagging.get_paginator("get_resources")
    for page in paginator.paginate(TagFilters=[{"Key": STACK_NAME_TAG, "Values": stack_names}]):
        for resource in page.get("ResourceTagMappingList", []):
            arn = resource["ResourceARN"]
            if any(part in arn for part in _ALLOWED_ARN_PARTS):
                continue
            if ":kms:" in arn and _key_pending_deletion(kms, arn):
                continue
            left.append(arn)
    return left


def log_groups(logs: Any, prefixes: list[str]) -> list[str]:
    """The names of the log groups under these prefixes."""
    names = []
    for prefix in prefixes:
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
            names += [group["logGroupName"] for group in page.get("logGroups", [])]
    return names


def lambda_log_group_prefixes(stack_names: list[str]) -> list[str]:
    """Where Lambda puts the log groups it creates itself for these stacks' functions.

    A function without a log group of its own logs to /aws/lambda/<function name>, created on
    first use and left behind by CloudFormation; functions are named <stack name>-<id>-<suffix>.
    """
    return [f"/aws/lambda/{name}-" for name in stack_names]


def find_leftovers(
    *, session: Any, region: str, stack_names: list[str], log_group_prefixes: list[str]
) -> list[str]:
    clients = {
        name: session.client(name, region_name=region)
        for name in ("cloudformation", "resourcegroupstaggingapi", "kms", "logs")
    }
    return [
        *_stacks_left(clients["cloudformation"], stack_names),
        *_tagged_left(clients["resourcegroupstaggingapi"], clients["kms"], stack_names),
        *(f"log group {name}" for name in log_groups(clients["logs"], log_group_prefixes)),
    ]


def wait_for_no_leftovers(
    *,
    session: Any,
    region: str,
    stack_names: list[str],
    log_group_prefixes: list[str],
    settle_seconds: float = SETTLE_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[str]:
    """The leftovers once the tagging index has settled (empty when nothing is left)."""
    deadline = clock() + settle_seconds
    while True:
        left = find_leftovers(
            session=session,
            region=region,
            stack_names=stack_names,
            log_group_prefixes=log_group_prefixes,
        )
        if not left or clock() >= deadline:
            return left
        sleep(poll_seconds)

"""Network teardown: wait, on delete, until no network interface uses the models' security group.

SageMaker attaches its containers to the VPC through network interfaces in the zstc subnets
with the zstc model security group, and releases them only some time after the endpoint or
transform job is gone. Until then, deleting the security group or the subnets fails with
DependencyViolation and the network stack ends DELETE_FAILED while its interface endpoints keep
billing (aws-cloudformation/cloudformation-coverage-roadmap#1327). This custom resource sits
between those resources and everything that uses them: CloudFormation deletes it first, and its
delete completes only once describe_network_interfaces finds no interface in the group. The
interfaces are SageMaker's to remove; this only waits, so its role needs no delete permission.

Create and Update have nothing to do. The CDK Provider framework polls is_complete until it
returns IsComplete true, for at most its total timeout; a Delete that times out fails with the
interfaces still present, named in the message.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def on_event(event: dict[str, Any]) -> dict[str, Any]:
    group_id = event["ResourceProperties"]["SecurityGroupId"]
    if event["RequestType"] == "Delete":
        logger.info("Waiting until no network interface uses %s", group_id)
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    return {"PhysicalResourceId": group_id}


def interfaces_in_group(ec2: Any, *, group_id: str) -> list[str]:
    """'<id> (<status>, <description>)' of each interface that still uses the group."""
    found = []
    paginator = ec2.get_paginator("describe_network_interfaces")
    for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": [group_id]}]):
        for interface in page["NetworkInterfaces"]:
            found.append(
                f"{interface['NetworkInterfaceId']} ({interface.get('Status')}, "
                f"{interface.get('Description', '')})"
            )
    return found


def is_complete(event: dict[str, Any], *, ec2: Any) -> dict[str, Any]:
    if event["RequestType"] != "Delete":
        return {"IsComplete": True}
    group_id = event["ResourceProperties"]["SecurityGroupId"]
    remaining = interfaces_in_group(ec2, group_id=group_id)
    if remaining:
        logger.info("%d interface(s) still use %s: %s", len(remaining), group_id, remaining)
        return {"IsComplete": False}
    logger.info("No network interface uses %s any more", group_id)
    return {"IsComplete": True}

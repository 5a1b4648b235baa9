"""VPC teardown waits for SageMaker's network interfaces (cloudformation-coverage-roadmap#1327).

The wait's logic runs against botocore's Stubber (EC2 service model); the template side checks
that CloudFormation deletes the wait before the security group and the subnets.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from infra_synth import SynthesizedApp, resources_of_type, synth, vpc_create

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lambda" / "network_interfaces_wait"))

import interfaces_wait

from stacks.network_interfaces_wait import RESOURCE_TYPE

GROUP = "sg-0123456789abcdef0"


def _delete_event() -> dict[str, Any]:
    return {
        "RequestType": "Delete",
        "PhysicalResourceId": GROUP,
        "ResourceProperties": {"SecurityGroupId": GROUP, "SubnetIds": ["subnet-1", "subnet-2"]},
    }


def _ec2() -> Any:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    )
    return session.client("ec2")


def _interfaces(stub: Stubber, *ids: str) -> None:
    stub.add_response(
        "describe_network_interfaces",
        {
            "NetworkInterfaces": [
                {"NetworkInterfaceId": eni, "Status": "in-use", "Description": "SageMaker"}
                for eni in ids
            ]
        },
        {"Filters": [{"Name": "group-id", "Values": [GROUP]}]},
    )


def test_delete_completes_only_once_no_interface_uses_the_group() -> None:
    ec2 = _ec2()
    event = {**_delete_event(), **interfaces_wait.on_event(_delete_event())}
    with Stubber(ec2) as stub:
        _interfaces(stub, "eni-0aaa", "eni-0bbb")
        _interfaces(stub, "eni-0bbb")
        _interfaces(stub)
        results = [interfaces_wait.is_complete(event, ec2=ec2) for _ in range(3)]
        stub.assert_no_pending_responses()
    assert results == [{"IsComplete": False}, {"IsComplete": False}, {"IsComplete": True}]


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_wait_for_nothing(request_type: str) -> None:
    event = {**_delete_event(), "RequestType": request_type}
    assert interfaces_wait.on_event(event) == {"PhysicalResourceId": GROUP}
    # No client call: the Stubber would fail on any.
    ec2 = _ec2()
    with Stubber(ec2):
        assert interfaces_wait.is_complete(event, ec2=ec2) == {"IsComplete": True}


@pytest.fixture(scope="module")
def vpc_app(tiny_nli_model_dir: Path) -> SynthesizedApp:
    return synth(vpc_create(tiny_nli_model_dir))


def test_the_wait_is_deleted_before_the_security_group_and_the_subnets(
    vpc_app: SynthesizedApp,
) -> None:
    assert vpc_app.stacks.network is not None
    template = vpc_app.templates[vpc_app.stacks.network.stack_name]
    ((_, wait),) = resources_of_type(template, RESOURCE_TYPE).items()
    properties = wait["Properties"]
    (group_id,) = [
        logical_id
        for logical_id, group in resources_of_type(template, "AWS::EC2::SecurityGroup").items()
        if "models" in group["Properties"]["GroupDescription"]
    ]
    # A reference makes CloudFormation delete the wait first (dependents before dependencies).
    assert properties["SecurityGroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    subnets = set(resources_of_type(template, "AWS::EC2::Subnet"))
    assert {ref["Ref"] for ref in properties["SubnetIds"]} == subnets

"""Puts the readiness Lambda's modules on sys.path, and builds real-shaped Provider events."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

READINESS_DIR = Path(__file__).resolve().parents[2] / "lambda" / "endpoint_readiness"
if str(READINESS_DIR) not in sys.path:
    sys.path.insert(0, str(READINESS_DIR))

REGION = "eu-west-1"
ENDPOINT_NAME = "Zstc-Endpoint"
ENDPOINT_CONFIG_NAME = "EndpointConfig-a1B2c3D4e5F6"
OLD_ENDPOINT_CONFIG_NAME = "EndpointConfig-z9Y8x7W6v5U4"
TIMEOUT_SECONDS = 1200
STACK_ID = (
    "arn:aws:cloudformation:eu-west-1:111122223333:stack/Zstc-Endpoint/"
    "5b3f2a10-8c1d-11f0-9e2b-0a1b2c3d4e5f"
)


def cloudformation_request(
    request_type: str = "Create", endpoint_config_name: str = ENDPOINT_CONFIG_NAME
) -> dict[str, Any]:
    """A CloudFormation custom resource request as the Provider framework passes it on.

    Shape: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html
    (every property value arrives as a string).
    """
    request: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:eu-west-1:111122223333:function:Zstc-Endpoint-Framework",
        "ResponseURL": "...",
        "StackId": STACK_ID,
        "RequestId": "3f0c6a52-1f8e-4a55-9d1e-7b2d6f7c8a90",
        "LogicalResourceId": "ReadinessCheck",
        "ResourceType": "Custom::EndpointReadiness",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:eu-west-1:111122223333:function:Framework",
            "EndpointName": ENDPOINT_NAME,
            "EndpointConfigName": endpoint_config_name,
            "ModelName": "Model-Q1w2E3r4T5y6",
            "TimeoutSeconds": str(TIMEOUT_SECONDS),
        },
    }
    if request_type != "Create":
        request["PhysicalResourceId"] = ENDPOINT_NAME
    return request


def is_complete_request(
    on_event_result: dict[str, Any], request_type: str = "Create", **kwargs: Any
) -> dict[str, Any]:
    """What is_complete receives: the request combined with on_event's result."""
    return {**cloudformation_request(request_type, **kwargs), **on_event_result}

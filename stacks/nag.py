"""Acknowledging cdk-nag 3 findings that cannot be fixed, each with its specific reason."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

# cdk-nag 3 reports findings of the AwsSolutions pack under this plugin prefix.
_PLUGIN_PREFIX = "AwsSolutions::"


def acknowledge(construct: IConstruct, *, rule_id: str, reason: str) -> None:
    """Acknowledges one finding (e.g. "AwsSolutions-IAM5[Resource::*]") on a construct and
    everything below it. cdk-nag 3 has no bulk suppression: each finding is named exactly."""
    if not rule_id.startswith("AwsSolutions-"):
        raise ValueError(f"rule_id: {rule_id!r} is not an AwsSolutions rule id")
    cdk.Validations.of(construct).acknowledge(
        cdk.Acknowledgment(id=f"{_PLUGIN_PREFIX}{rule_id}", reason=reason)
    )

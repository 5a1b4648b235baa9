"""Every Lambda function of every stack logs to a log group its own stack owns.

A function without one logs to /aws/lambda/<function name>, which Lambda creates on first use:
no stack owns it, it never expires and it outlives `cdk destroy` (the CDK's S3 auto-delete
provider did exactly that). Checked over every configuration the gates cover, on the
synthesized templates, so a provider added later is caught too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from infra_synth import SynthesizedApp, all_configs, resources_of_type, synth

CONFIG_NAMES = ("default", "vpc-create", "existing-key-retain", "batch-only", "cpu-endpoint")


@pytest.fixture(scope="module", params=CONFIG_NAMES)
def synthesized(request: pytest.FixtureRequest, tiny_nli_model_dir: Path) -> SynthesizedApp:
    return synth(all_configs(tiny_nli_model_dir)[request.param])


def _function_log_groups(template: dict[str, Any]) -> dict[str, Any]:
    return {
        logical_id: function["Properties"].get("LoggingConfig", {}).get("LogGroup")
        for logical_id, function in resources_of_type(template, "AWS::Lambda::Function").items()
    }


def test_every_function_logs_to_a_group_of_its_stack_that_expires(
    synthesized: SynthesizedApp,
) -> None:
    checked = 0
    for stack_name, template in synthesized.templates.items():
        log_groups = resources_of_type(template, "AWS::Logs::LogGroup")
        for function_id, log_group in _function_log_groups(template).items():
            where = f"{stack_name}/{function_id}"
            assert isinstance(log_group, dict) and set(log_group) == {"Ref"}, where
            group = log_groups.get(log_group["Ref"])
            assert group is not None, f"{where}: its log group is not in the stack"
            assert "RetentionInDays" in group["Properties"], where
            # Only the batch stack's groups follow removal_policy=retain; the others always go.
            allowed = {"Delete"}
            if synthesized.config.retain_data and stack_name.endswith("-Batch"):
                allowed.add("Retain")
            assert group.get("DeletionPolicy", "Delete") in allowed, where
            checked += 1
    assert checked


def test_the_s3_auto_delete_provider_logs_to_the_data_stacks_group(
    synthesized: SynthesizedApp,
) -> None:
    template = synthesized.templates[synthesized.stacks.data.stack_name]
    providers = {
        logical_id: function
        for logical_id, function in resources_of_type(template, "AWS::Lambda::Function").items()
        if "S3AutoDeleteObjectsCustomResourceProvider"
        in function.get("Metadata", {}).get("aws:cdk:path", "")
    }
    if synthesized.config.retain_data:
        # Retained buckets are never emptied: no provider at all.
        assert providers == {}
        return
    ((provider_id, provider),) = providers.items()
    group_id = provider["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    group = resources_of_type(template, "AWS::Logs::LogGroup")[group_id]
    assert group["DeletionPolicy"] == "Delete"
    assert group["Properties"]["RetentionInDays"] == synthesized.config.log_retention_days
    # Deleted after the custom resources that run the function one last time.
    for custom in resources_of_type(template, "Custom::S3AutoDeleteObjects").values():
        assert custom["Properties"]["ServiceToken"] == {"Fn::GetAtt": [provider_id, "Arn"]}

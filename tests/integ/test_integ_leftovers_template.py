"""What destroy really leaves, read from the synthesized integration app.

The leftovers check looks for log groups under /aws/lambda/<zstc stack>-: a function with no
log group of its own would leave one there after every destroy (the CDK's S3 auto-delete
provider did, and the check would fail on it). Every function of zstc's stacks must log to a
group its stack owns, so destroy deletes it.
"""

from __future__ import annotations

from typing import Any

import pytest
from integ_synth import synth_integ_app

from integ.cheap_config import INTEG_STACK_PREFIX


@pytest.fixture(scope="module")
def zstc_templates() -> dict[str, dict[str, Any]]:
    return {
        name: template
        for name, template in synth_integ_app().templates.items()
        if name.startswith(f"{INTEG_STACK_PREFIX}-")
        and name.split("-", 1)[1] in ("Data", "Network", "Endpoint", "Batch")
    }


def test_no_zstc_function_logs_where_no_stack_owns_the_group(
    zstc_templates: dict[str, dict[str, Any]],
) -> None:
    assert {"ZstcInteg-Data", "ZstcInteg-Endpoint", "ZstcInteg-Batch"} <= set(zstc_templates)
    for stack_name, template in zstc_templates.items():
        resources = template["Resources"]
        for logical_id, resource in resources.items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            log_group = resource["Properties"].get("LoggingConfig", {}).get("LogGroup")
            assert isinstance(log_group, dict), f"{stack_name}/{logical_id} logs to /aws/lambda"
            group = resources[log_group["Ref"]]
            assert group["Type"] == "AWS::Logs::LogGroup"
            assert group.get("DeletionPolicy", "Delete") == "Delete", f"{stack_name}/{logical_id}"

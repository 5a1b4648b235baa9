"""Reads the assertions' verdicts from the assertion stack's outputs after `cdk deploy`.

Every assertion with an expected result writes a CfnOutput named AssertionResults<id> holding
{"status": "success"} or {"status": "fail", "message": ...} (integ-tests-alpha
lib/assertions/sdk.ts and providers/lambda-handler/assertion.ts). A failed `expect` does not
fail the deployment; only a waiter that times out does. So the outputs must be read.
"""

from __future__ import annotations

import json
from typing import Any

RESULTS_OUTPUT_PREFIX = "AssertionResults"


def assertion_failures(
    outputs: dict[str, dict[str, Any]], *, assertion_stack: str, expected_count: int
) -> list[str]:
    """One line per failed or missing assertion; empty when every assertion passed."""
    results = {
        name: value
        for name, value in outputs.get(assertion_stack, {}).items()
        if name.startswith(RESULTS_OUTPUT_PREFIX)
    }
    failures = []
    if len(results) != expected_count:
        failures.append(
            f"{assertion_stack}: {len(results)} assertion results, expected {expected_count} "
            "(did the assertion stack deploy?)"
        )
    for name, value in sorted(results.items()):
        try:
            verdict = json.loads(value)
        except (TypeError, json.JSONDecodeError):
            failures.append(f"{name}: unreadable result {value!r}")
            continue
        if verdict.get("status") != "success":
            failures.append(f"{name}: {verdict.get('message', verdict)}")
    return failures

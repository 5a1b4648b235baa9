"""The trigger's timeout, the queue's visibility timeout and the per-record budget fit together.

- Lambda: "set the source queue's visibility timeout to at least six times the configuration
  timeout on your function" (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
- The trigger starts a record only with RECORD_BUDGET_SECONDS left (time_budget.py), and that
  budget covers the largest input it accepts (stacks/trigger_budget.py), so a fresh invocation
  always starts its first record and no invocation times out as a whole.
"""

from __future__ import annotations

from typing import Any

import pytest
import version_pinning
from aws_cdk.assertions import Template
from lambda_context import RunningDownContext
from time_budget import TimeBudget

from stacks import trigger_budget
from stacks.batch_stack import SQS_BATCH_SIZE

# A cold start (runtime init and imports) comes out of the same timeout; Lambda reports init
# durations of a few seconds for a Python function with boto3, so this is generous.
COLD_START_MS = 10_000


@pytest.fixture(scope="module")
def template(default_batch_stack: Any) -> Template:
    return Template.from_stack(default_batch_stack)


def _trigger(template: Template) -> dict[str, Any]:
    [function] = [
        resource["Properties"]
        for resource in template.find_resources("AWS::Lambda::Function").values()
        if resource["Properties"].get("Handler") == "handler.handler"
    ]
    return dict(function)


def test_the_queue_keeps_a_message_hidden_six_times_as_long_as_the_trigger_may_run(
    template: Template,
) -> None:
    timeout = _trigger(template)["Timeout"]
    [queue] = [
        resource["Properties"]
        for resource in template.find_resources("AWS::SQS::Queue").values()
        if "RedrivePolicy" in resource["Properties"]
    ]

    assert timeout == trigger_budget.TRIGGER_TIMEOUT_SECONDS <= 900
    assert queue["VisibilityTimeout"] == 6 * timeout
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"FunctionResponseTypes": ["ReportBatchItemFailures"], "BatchSize": SQS_BATCH_SIZE},
    )


def test_the_trigger_gets_the_limits_and_the_budget_the_timeout_was_sized_for(
    template: Template,
) -> None:
    variables = _trigger(template)["Environment"]["Variables"]

    assert {name: variables[name] for name in trigger_budget.trigger_limit_environment()} == (
        trigger_budget.trigger_limit_environment()
    )
    budget_seconds = int(variables["RECORD_BUDGET_SECONDS"])
    largest_file = trigger_budget.single_file_seconds(int(variables["MAX_OBJECT_BYTES"]))
    largest_dataset = trigger_budget.dataset_seconds(
        parts=int(variables["MAX_DATASET_PARTS"]),
        total_bytes=int(variables["MAX_DATASET_BYTES"]),
        listed_versions=int(variables["MAX_DATASET_LISTED_VERSIONS"]),
    )
    assert budget_seconds >= max(largest_file, largest_dataset)
    # The rest of a batch gets at least a minute beside its largest record.
    assert _trigger(template)["Timeout"] - budget_seconds >= 60


def test_a_fresh_invocation_always_has_time_for_its_first_record(template: Template) -> None:
    function = _trigger(template)
    budget = TimeBudget(
        record_ms=1000 * int(function["Environment"]["Variables"]["RECORD_BUDGET_SECONDS"])
    )
    context = RunningDownContext(
        timeout_ms=1000 * function["Timeout"] - COLD_START_MS, call_ms=0, clients=()
    )

    assert budget.allows_a_record(context)


def test_the_sizing_assumes_what_the_trigger_does() -> None:
    """The budget assumes COPY_WORKERS copies at a time, in parts of the multipart threshold."""
    assert trigger_budget.COPY_WORKERS == version_pinning.COPY_WORKERS
    assert trigger_budget.MULTIPART_PART_BYTES == version_pinning.MULTIPART_COPY_THRESHOLD

"""Job names, the job-state rule and the trigger's IAM resource are scoped per deployment.

Before, every deployment used "<stack prefix lowercased>-": "zstc-" of a deployment named Zstc
also matched "zstc-dev-..." of one named Zstc-Dev, so each could start, describe and hear
about the other's jobs. The prefix now comes from stacks/job_name_prefix.py alone.
"""

from __future__ import annotations

import re
from typing import Any

import batch_events  # noqa: F401  (puts the Lambda's modules on sys.path)
import pytest
from aws_cdk.assertions import Template
from batch_synth import synth_batch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from job_names import MAX_PREFIX_LENGTH, transform_job_name

from stacks.job_name_prefix import deployment_job_name_prefix

# stacks/config.py's rule for stack_prefix.
stack_prefixes = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,31}", fullmatch=True)
keys = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=200)
SAGEMAKER_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


@settings(max_examples=300, deadline=None)
@given(first=stack_prefixes, second=stack_prefixes, key=keys)
def test_no_deployment_prefix_matches_another_deployments_job_names(
    first: str, second: str, key: str
) -> None:
    assume(first != second)
    first_prefix = deployment_job_name_prefix(first)
    second_prefix = deployment_job_name_prefix(second)
    job = transform_job_name(prefix=first_prefix, bucket="b", key=key, version="v")

    assert not job.startswith(second_prefix)
    assert not first_prefix.startswith(second_prefix)
    assert not second_prefix.startswith(first_prefix)


@settings(max_examples=200, deadline=None)
@given(stack_prefix=stack_prefixes, key=keys)
def test_every_deployment_prefix_gives_valid_lowercase_job_names(
    stack_prefix: str, key: str
) -> None:
    prefix = deployment_job_name_prefix(stack_prefix)
    job = transform_job_name(prefix=prefix, bucket="b", key=key, version="v")

    assert prefix == prefix.lower() and len(prefix) <= MAX_PREFIX_LENGTH
    assert SAGEMAKER_JOB_NAME.fullmatch(job) and len(job) <= 63
    assert job.startswith(prefix)


@pytest.mark.parametrize(
    ("first", "second"),
    [("Zstc", "Zstc-Dev"), ("Zstc", "zstc"), ("Zs-tc", "Zs--tc"), ("team", "team-")],
)
def test_the_prefixes_that_collided_before_are_apart(first: str, second: str) -> None:
    assert not deployment_job_name_prefix(second).startswith(deployment_job_name_prefix(first))
    assert not deployment_job_name_prefix(first).startswith(deployment_job_name_prefix(second))


def _scopes(template: Template) -> dict[str, str]:
    """The job name prefix as each part of the template uses it."""
    as_json = template.to_json()
    [rule] = template.find_resources("AWS::Events::Rule").values()
    [start] = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") == "StartOwnTransformJobs"
    ]
    [function] = [
        r["Properties"]
        for r in template.find_resources("AWS::Lambda::Function").values()
        if r["Properties"].get("Handler") == "handler.handler"
    ]
    iam_tail = start["Resource"]["Fn::Join"][1][-1]
    return {
        "rule": rule["Properties"]["EventPattern"]["detail"]["TransformJobName"][0]["prefix"],
        "iam": iam_tail.removeprefix(":transform-job/").removesuffix("*"),
        "trigger": function["Environment"]["Variables"]["JOB_NAME_PREFIX"],
        "output": as_json["Outputs"]["JobNamePrefix"]["Value"],
    }


def test_two_deployments_templates_do_not_overlap(
    default_batch_stack: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    dev = synth_batch(tmp_path_factory.mktemp("dev"), {"stack_prefix": "Zstc-Dev"})
    default_scopes = _scopes(Template.from_stack(default_batch_stack))
    dev_scopes = _scopes(Template.from_stack(dev))

    # One source of truth: the rule, IAM, the trigger and the output agree within a stack.
    assert set(default_scopes.values()) == {deployment_job_name_prefix("Zstc")}
    assert set(dev_scopes.values()) == {deployment_job_name_prefix("Zstc-Dev")}
    default_prefix, dev_prefix = default_scopes["iam"], dev_scopes["iam"]
    assert not dev_prefix.startswith(default_prefix)
    assert not default_prefix.startswith(dev_prefix)

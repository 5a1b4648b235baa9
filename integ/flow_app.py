"""Builds the integration app: zstc's own stacks (through app_wiring), the probe, the assertions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import integ_tests_alpha as integ_tests

from integ.cheap_config import ASSERTION_STACK_NAME, PROBE_STACK_NAME, integ_config
from integ.discovery import DiscoveredAlarm, DiscoveredTopic, find_alarms, find_topics
from integ.flow_assertions import FlowAssertions
from integ.flow_data import dataset, single_file
from integ.probe_stack import ProbeStack
from stacks.app_wiring import REPO_ROOT, ZstcStacks, build_stacks
from stacks.batch_stack import job_name_prefix
from stacks.config import ZstcConfig
from stacks.nag import acknowledge

# Its own archive, so an integration synth never overwrites the one `make synth` built.
INTEG_MODEL_ARCHIVE_PATH = REPO_ROOT / "build" / "integ" / "model.tar.gz"
# The CDK feature flags the integration app sets on top of cdk.json's: an SQS subscription to
# an encrypted queue then lets SNS use the key only for the subscribed topic (aws:SourceArn),
# instead of for any topic.
INTEG_FEATURE_FLAGS = {"@aws-cdk/aws-sns-subscriptions:restrictSqsDescryption": True}


def integ_app_context(cdk_json: Path = REPO_ROOT / "cdk.json") -> dict[str, Any]:
    """The integration app's context: cdk.json's CDK feature flags plus INTEG_FEATURE_FLAGS.

    Only the flags come from cdk.json; the zstc configuration is the cheap one (cheap_config).
    """
    context = json.loads(cdk_json.read_text(encoding="utf-8"))["context"]
    flags = {key: value for key, value in context.items() if key.startswith("@")}
    return {**flags, **INTEG_FEATURE_FLAGS}


@dataclass(frozen=True)
class IntegApp:
    config: ZstcConfig
    zstc: ZstcStacks
    probe: ProbeStack
    assertion_stack: cdk.Stack
    test: integ_tests.IntegTest
    alarms: list[DiscoveredAlarm]
    topics: list[DiscoveredTopic]

    @property
    def stacks(self) -> list[cdk.Stack]:
        """Every stack of the run, in deployment order."""
        return [*zstc_stack_list(self.zstc), self.probe, self.assertion_stack]


def zstc_stack_list(zstc: ZstcStacks) -> list[cdk.Stack]:
    """zstc's own stacks of the run, in deployment order."""
    stacks: list[cdk.Stack | None] = [zstc.data, zstc.network, zstc.endpoint, zstc.batch]
    return [stack for stack in stacks if stack is not None]


def _acknowledge_assertion_framework(stack: cdk.Stack) -> None:
    """The DeployAssert stack is integ-tests-alpha's own provider and waiter machinery.

    It exists for one run and is destroyed with it; its providers grant each SDK call on '*'
    (AssertionsProvider.addPolicyStatementFromSdkCall) and use the AWS managed basic execution
    role, which zstc's own stacks never do.
    """
    findings = {
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AWSLambdaBasicExecutionRole]": "integ-tests-alpha's assertion provider role; test-only, "
        "lives for one integration run.",
        "AwsSolutions-IAM5[Resource::*]": "integ-tests-alpha grants each assertion's SDK call on "
        "'*'; test-only, lives for one integration run.",
        "AwsSolutions-L1": "integ-tests-alpha picks its provider's Node.js runtime itself.",
        "AwsSolutions-SF1": "The waiter state machine only polls an assertion; its history is in "
        "the Step Functions console for the run.",
        "AwsSolutions-SF2": "The waiter state machine only polls an assertion; no tracing needed.",
    }
    for rule_id, reason in findings.items():
        acknowledge(stack, rule_id=rule_id, reason=reason)


def build_integ_app(app: cdk.App, *, run_id: str, model_dir: Path | None = None) -> IntegApp:
    config = integ_config(model_dir)
    zstc = build_stacks(app, config, model_archive_path=INTEG_MODEL_ARCHIVE_PATH)
    zstc_stacks = zstc_stack_list(zstc)
    alarms = find_alarms(zstc_stacks)
    topics = find_topics(zstc_stacks)
    probe = ProbeStack(app, PROBE_STACK_NAME, zstc=zstc, alarms=alarms, topics=topics)
    assertion_stack = cdk.Stack(
        app,
        ASSERTION_STACK_NAME,
        description="zstc integration run: integ-tests-alpha assertions (test only)",
    )
    _acknowledge_assertion_framework(assertion_stack)
    test = integ_tests.IntegTest(
        app,
        "ZstcFlow",
        test_cases=[*zstc_stacks, probe],
        assertion_stack=assertion_stack,
    )
    FlowAssertions(
        assertions=test.assertions,
        zstc=zstc,
        probe=probe,
        alarms=alarms,
        single=single_file(run_id),
        dataset=dataset(run_id),
        job_name_prefix=job_name_prefix(config),
    )
    return IntegApp(
        config=config,
        zstc=zstc,
        probe=probe,
        assertion_stack=assertion_stack,
        test=test,
        alarms=alarms,
        topics=topics,
    )

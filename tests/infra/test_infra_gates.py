"""Security and validity gates over every stack of every covered configuration.

cdk-nag (AwsSolutions): zero unacknowledged findings, each acknowledgment with a specific reason.
cfn-lint: zero errors on every synthesized template.
IAM: no "*" resource outside a short allow-list, no AWS managed policies on zstc's roles.
Notifications: every alarm action, EventBridge target and S3 notification can publish through
its target's resource policy and key policy (notification_walk.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file
from iam_walk import template_findings
from infra_synth import SynthesizedApp, all_configs, synth
from notification_walk import notification_findings, publishers_in

CONFIG_NAMES = (
    "default",
    "vpc-create",
    "existing-key-retain",
    "batch-only",
    "cpu-endpoint",
    "serverless-provisioned",
    "async",
)

# cfn-lint rules ignored on zstc templates, each with the reason. Keep this empty unless a rule
# is wrong about CDK output; warnings (W*) and informational (I*) matches are not gated.
CFN_LINT_IGNORED_RULES: dict[str, str] = {}

# Phrases that say nothing about why a finding is acceptable.
_VAGUE_REASONS = ("suppress", "ignore", "not needed", "n/a", "todo", "false positive", "ok")
MIN_REASON_LENGTH = 40


@pytest.fixture(scope="module", params=CONFIG_NAMES)
def synthesized(request: pytest.FixtureRequest, tiny_nli_model_dir: Path) -> SynthesizedApp:
    return synth(all_configs(tiny_nli_model_dir)[request.param])


def test_cdk_nag_finds_nothing_unacknowledged(synthesized: SynthesizedApp) -> None:
    listed = "\n".join(f"{v['rule']} at {v['paths']}" for v in synthesized.nag_violations)
    assert not synthesized.nag_violations, f"unacknowledged cdk-nag findings:\n{listed}"
    assert synthesized.templates, "synth produced no templates"


def test_every_nag_acknowledgment_has_a_specific_reason(synthesized: SynthesizedApp) -> None:
    # aws-cdk-lib acknowledges some of its own CloudFormation-Validate warnings; ours are the
    # cdk-nag ones.
    nag_acknowledgments = [
        a for a in synthesized.acknowledgments if a.rule_id.startswith("AwsSolutions::")
    ]
    assert nag_acknowledgments, "expected the known IAM5 findings to be acknowledged"
    for acknowledgment in nag_acknowledgments:
        reason = acknowledgment.reason.strip()
        where = f"{acknowledgment.rule_id} at {acknowledgment.construct_path}"
        assert len(reason) >= MIN_REASON_LENGTH, f"{where}: reason too short: {reason!r}"
        assert reason.lower().rstrip(".") not in _VAGUE_REASONS, f"{where}: vague: {reason!r}"


def test_cfn_lint_reports_no_errors(synthesized: SynthesizedApp) -> None:
    assert synthesized.templates
    arguments = ManualArgs(ignore_checks=list(CFN_LINT_IGNORED_RULES))
    for stack_name in synthesized.templates:
        matches = lint_file(synthesized.template_path(stack_name), config=arguments)
        errors = [m for m in matches if m.rule.id.startswith("E")]
        assert not errors, f"{stack_name}:\n" + "\n".join(str(m) for m in errors)


def test_iam_policies_are_least_privilege(synthesized: SynthesizedApp) -> None:
    assert synthesized.templates
    for stack_name, template in synthesized.templates.items():
        findings = template_findings(template)
        assert not findings, f"{stack_name}:\n" + "\n".join(str(f) for f in findings)


def test_every_publisher_may_publish_to_its_target(synthesized: SynthesizedApp) -> None:
    found = publishers_in(synthesized.templates)
    principals = {publisher.principal for publisher in found}
    # The DLQ alarm, the job-state rule and the upload notifications exist in every config.
    assert {"cloudwatch.amazonaws.com", "events.amazonaws.com", "s3.amazonaws.com"} <= principals
    if synthesized.stacks.endpoint is not None:
        endpoint = synthesized.stacks.endpoint.stack_name
        assert len([p for p in found if p.stack == endpoint]) >= 2, "endpoint alarms"
    findings = notification_findings(synthesized.templates)
    assert not findings, "\n".join(str(f) for f in findings)

"""Synthesizes the whole zstc app for one config, once per test session, with cdk-nag on.

Every gate (cdk-nag, cfn-lint, IAM) walks every stack the app creates, so a stack added later
is covered without touching the gates. The notification walker runs on every config any test
synthesizes here: a publisher its target would refuse fails that synth.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template
from notification_walk import notification_findings

from stacks.app_wiring import ZstcStacks, build_stacks
from stacks.config import ZstcConfig, load_config

_OUTDIRS: list[Path] = []


@atexit.register
def _remove_outdirs() -> None:
    for outdir in _OUTDIRS:
        shutil.rmtree(outdir, ignore_errors=True)


@dataclass(frozen=True)
class Acknowledgment:
    construct_path: str
    rule_id: str
    reason: str


@dataclass(frozen=True)
class SynthesizedApp:
    config: ZstcConfig
    stacks: ZstcStacks
    outdir: Path
    # Stack name -> CloudFormation template, for every stack in the app.
    templates: dict[str, dict[str, Any]]
    # cdk-nag violations from validation-report.json (empty when synth passed).
    nag_violations: list[dict[str, Any]] = field(default_factory=list)
    acknowledgments: list[Acknowledgment] = field(default_factory=list)

    def template(self, stack: cdk.Stack) -> Template:
        return Template.from_json(self.templates[stack.stack_name])

    def template_path(self, stack_name: str) -> Path:
        return self.outdir / f"{stack_name}.template.json"


def _acknowledgments(app: cdk.App) -> list[Acknowledgment]:
    metadata_key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = []
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != metadata_key:
                continue
            for rule_id, reason in dict(entry.data).items():
                found.append(Acknowledgment(construct.node.path, rule_id, str(reason)))
    return found


def _nag_violations(outdir: Path) -> list[dict[str, Any]]:
    report_path = outdir / "validation-report.json"
    if not report_path.is_file():
        return []
    report = json.loads(report_path.read_text(encoding="utf-8"))
    return [
        {
            "rule": violation["ruleName"],
            "paths": [c.get("constructPath") for c in violation["violatingConstructs"]],
        }
        for plugin in report.get("pluginReports", [])
        for violation in plugin.get("violations", [])
    ]


REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def cdk_json_context() -> dict[str, Any]:
    """The context `cdk synth` starts from: config defaults and the CDK feature flags."""
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))
    context: dict[str, Any] = cdk_json["context"]
    return context


def _require_deliverable_notifications(templates: dict[str, dict[str, Any]]) -> None:
    findings = notification_findings(templates)
    if findings:
        listed = "\n".join(str(finding) for finding in findings)
        raise AssertionError(f"publishers their targets would refuse:\n{listed}")


@cache
def _synth(context_items: tuple[tuple[str, Any], ...]) -> SynthesizedApp:
    context = {**cdk_json_context(), **dict(context_items)}
    # The CLI writes each resource's construct path into its Metadata; the IAM walker uses it to
    # recognise aws-cdk-lib's own provider roles.
    context["aws:cdk:enable-path-metadata"] = True
    config = load_config(context)
    outdir = Path(tempfile.mkdtemp(prefix="zstc-infra-"))
    _OUTDIRS.append(outdir)
    app = cdk.App(outdir=str(outdir), context=context)
    stacks = build_stacks(app, config)
    try:
        assembly = app.synth()
    except RuntimeError:
        # cdk-nag 3 fails synth on unacknowledged findings; the report says which.
        violations = _nag_violations(outdir)
        if not violations:
            raise
        # The templates are written before validation runs, so the other gates still see them.
        templates = {
            path.name.removesuffix(".template.json"): json.loads(path.read_text(encoding="utf-8"))
            for path in outdir.glob("*.template.json")
        }
        _require_deliverable_notifications(templates)
        return SynthesizedApp(config, stacks, outdir, templates, violations, _acknowledgments(app))
    templates = {stack.stack_name: stack.template for stack in assembly.stacks}
    _require_deliverable_notifications(templates)
    return SynthesizedApp(
        config, stacks, outdir, templates, _nag_violations(outdir), _acknowledgments(app)
    )


def synth(context: Mapping[str, Any] | None = None) -> SynthesizedApp:
    """The synthesized app for these context overrides (on top of the config defaults)."""
    return _synth(tuple(sorted((context or {}).items())))


# The configurations the infra gates cover; vpc=create also needs packaged weights.
DEFAULT: dict[str, Any] = {}
EXISTING_KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EXISTING_KEY_RETAIN: dict[str, Any] = {
    "kms_key": EXISTING_KEY_ARN,
    "removal_policy": "retain",
    "notification_email": "ml-team@example.com",
}
BATCH_ONLY: dict[str, Any] = {"endpoint_enabled": False}
CPU_ENDPOINT: dict[str, Any] = {"endpoint_instance_type": "ml.c7i.xlarge"}
ASYNC: dict[str, Any] = {"endpoint_mode": "async"}


def serverless_provisioned(model_dir: Path) -> dict[str, Any]:
    """Serverless with every optional part: provisioned concurrency, and packaged weights, which
    would turn network isolation on for any other mode."""
    return {
        "endpoint_mode": "serverless",
        "serverless_provisioned_concurrency": 2,
        "model_weights": str(model_dir),
    }


def vpc_create(model_dir: Path) -> dict[str, Any]:
    return {"vpc": "create", "model_weights": str(model_dir)}


def all_configs(model_dir: Path) -> dict[str, dict[str, Any]]:
    """Every config the gates run over, by a readable name."""
    return {
        "default": DEFAULT,
        "vpc-create": vpc_create(model_dir),
        "existing-key-retain": EXISTING_KEY_RETAIN,
        "batch-only": BATCH_ONLY,
        "cpu-endpoint": CPU_ENDPOINT,
        "serverless-provisioned": serverless_provisioned(model_dir),
        "async": ASYNC,
    }


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == resource_type
    }

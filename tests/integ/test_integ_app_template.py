"""The integration app, synthesized offline: the cheap configuration, the probes, cdk-nag.

Alarms and topics are found in the synthesized zstc templates here, independently of
integ/discovery.py, so an alarm the app failed to cover shows up as a missing call.
"""

from __future__ import annotations

import json
import tarfile
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from integ_synth import SynthesizedIntegApp, synth_integ_app

from integ.cheap_config import CPU_INSTANCE_TYPE
from integ.flow_app import INTEG_MODEL_ARCHIVE_PATH, zstc_stack_list
from integ.run import expected_assertion_count


@pytest.fixture(scope="module")
def synthesized() -> SynthesizedIntegApp:
    return synth_integ_app()


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == resource_type
    }


def _export_of(template: dict[str, Any], value: dict[str, Any]) -> str:
    """The export name of the output whose value is exactly `value` (a cross-stack reference)."""
    (name,) = [
        output["Export"]["Name"]
        for output in template.get("Outputs", {}).values()
        if output.get("Value") == value and "Export" in output
    ]
    return name


def _zstc_templates(synthesized: SynthesizedIntegApp) -> list[dict[str, Any]]:
    return [synthesized.template_of(stack) for stack in zstc_stack_list(synthesized.integ.zstc)]


def _alarm_exports(synthesized: SynthesizedIntegApp) -> list[str]:
    return [
        _export_of(template, {"Ref": logical_id})
        for template in _zstc_templates(synthesized)
        for alarm_type in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
        for logical_id, alarm in _resources(template, alarm_type).items()
        if alarm["Properties"].get("AlarmActions")
    ]


def _topic_exports(synthesized: SynthesizedIntegApp) -> list[str]:
    return [
        _export_of(template, {"Fn::GetAtt": [logical_id, "TopicArn"]})
        for template in _zstc_templates(synthesized)
        for logical_id in _resources(template, "AWS::SNS::Topic")
    ]


def _calls(template: dict[str, Any], service: str, api: str) -> list[dict[str, Any]]:
    return [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == f"Custom::DeployAssert@SdkCall{service}{api}"
    ]


def test_endpoint_and_transform_jobs_run_on_the_cheap_cpu_type(
    synthesized: SynthesizedIntegApp,
) -> None:
    zstc = synthesized.integ.zstc
    assert zstc.endpoint is not None
    Template.from_json(synthesized.template_of(zstc.endpoint)).has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like({"InstanceType": CPU_INSTANCE_TYPE, "InitialInstanceCount": 1})
            ],
            # ml.m5.large has EBS storage: the zstc key encrypts the volume.
            "KmsKeyId": Match.any_value(),
        },
    )
    Template.from_json(synthesized.template_of(zstc.batch)).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {"INSTANCE_TYPE": CPU_INSTANCE_TYPE, "VOLUME_KMS_KEY_ENABLED": "true"}
                )
            }
        },
    )


def test_models_run_network_isolated_on_the_cpu_image(synthesized: SynthesizedIntegApp) -> None:
    zstc = synthesized.integ.zstc
    for stack in (zstc.endpoint, zstc.batch):
        assert stack is not None
        models = _resources(synthesized.template_of(stack), "AWS::SageMaker::Model")
        assert len(models) == 1, stack.stack_name
        (model,) = models.values()
        properties = model["Properties"]
        assert properties["EnableNetworkIsolation"] is True
        container = properties["PrimaryContainer"]
        assert container["Environment"]["HF_HUB_OFFLINE"] == "1"
        assert "ZSTC_MODEL_ID" not in container["Environment"]
        image_parts = container["Image"]["Fn::Join"][1]
        assert any(isinstance(part, str) and "-cpu-py312-" in part for part in image_parts)


def test_model_archive_carries_the_bundled_minilm_and_the_inference_code(
    synthesized: SynthesizedIntegApp,
) -> None:
    with tarfile.open(INTEG_MODEL_ARCHIVE_PATH) as archive:
        names = set(archive.getnames())
    assert {"config.json", "modules.json", "model.safetensors", "tokenizer.json"} <= names
    assert "code/inference.py" in names


def test_every_alarm_is_set_to_alarm_and_its_notification_awaited(
    synthesized: SynthesizedIntegApp,
) -> None:
    assertions = synthesized.template_of(synthesized.integ.assertion_stack)
    alarm_exports = _alarm_exports(synthesized)
    assert alarm_exports, "the zstc stacks have alarms"
    set_states = _calls(assertions, "CloudWatch", "setAlarmState")
    alarm_names = [json.dumps(call["parameters"]["AlarmName"]) for call in set_states]
    for export in alarm_exports:
        matching = [name for name in alarm_names if json.dumps({"Fn::ImportValue": export}) in name]
        assert len(matching) == 1, f"alarm exported as {export} is set to ALARM once"
    for call in set_states:
        assert call["parameters"]["StateValue"] == json.dumps("ALARM")
    # One awaited receive per alarm queue, plus one for the job notification queue.
    receives = _calls(assertions, "SQS", "receiveMessage")
    assert len(receives) == len(alarm_exports) + 1
    assert all("stateMachineArn" in call for call in receives), "every receive is waited for"


def test_every_topic_feeds_every_probe_queue(synthesized: SynthesizedIntegApp) -> None:
    probe = synthesized.template_of(synthesized.integ.probe)
    subscriptions = list(_resources(probe, "AWS::SNS::Subscription").values())
    alarm_count = len(_alarm_exports(synthesized))
    topic_exports = _topic_exports(synthesized)
    assert len(topic_exports) >= 2, "the job topic and the endpoint alarm topic"
    for export in topic_exports:
        of_topic = [
            subscription["Properties"]
            for subscription in subscriptions
            if subscription["Properties"]["TopicArn"] == {"Fn::ImportValue": export}
        ]
        assert len(of_topic) == alarm_count + 1, export
        filtered = [p for p in of_topic if "FilterPolicy" in p]
        assert len(filtered) == alarm_count
        for properties in filtered:
            assert properties["FilterPolicyScope"] == "MessageBody"
            assert properties["FilterPolicy"]["NewStateValue"] == ["ALARM"]
        assert all(p["Protocol"] == "sqs" and p["RawMessageDelivery"] for p in of_topic)


def test_probe_key_lets_sns_in_only_for_the_subscribed_topics(
    synthesized: SynthesizedIntegApp,
) -> None:
    Template.from_json(synthesized.template_of(synthesized.integ.probe)).has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "sns.amazonaws.com"},
                                "Condition": {"ArnEquals": {"aws:SourceArn": Match.any_value()}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_integ_app_passes_cdk_nag(synthesized: SynthesizedIntegApp) -> None:
    report_path = synthesized.outdir / "validation-report.json"
    if report_path.is_file():
        report = json.loads(report_path.read_text(encoding="utf-8"))
        violations = [
            violation
            for plugin in report.get("pluginReports", [])
            for violation in plugin.get("violations", [])
        ]
        assert violations == []
    assert set(synthesized.templates) == {stack.stack_name for stack in synthesized.integ.stacks}


def _role_statements(template: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [
        [
            statement
            for policy in role["Properties"].get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"]
        ]
        for role in _resources(template, "AWS::IAM::Role").values()
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def _key_export(synthesized: SynthesizedIntegApp, stack: Any, key_logical_id_prefix: str) -> str:
    template = synthesized.template_of(stack)
    (logical_id,) = [
        logical_id
        for logical_id in _resources(template, "AWS::KMS::Key")
        if logical_id.startswith(key_logical_id_prefix)
    ]
    return _export_of(template, {"Fn::GetAtt": [logical_id, "Arn"]})


@pytest.mark.parametrize(
    ("call_action", "key_actions", "key_owner"),
    [
        ("s3:PutObject", {"kms:GenerateDataKey"}, "data"),
        ("sqs:SendMessage", {"kms:GenerateDataKey", "kms:Decrypt"}, "data"),
        ("sqs:ReceiveMessage", {"kms:Decrypt"}, "probe"),
    ],
)
def test_assertion_providers_may_use_the_key_their_calls_need(
    synthesized: SynthesizedIntegApp, call_action: str, key_actions: set[str], key_owner: str
) -> None:
    integ = synthesized.integ
    stack, prefix = (
        (integ.zstc.data, "DataKey") if key_owner == "data" else (integ.probe, "ProbeKey")
    )
    key_reference = {"Fn::ImportValue": _key_export(synthesized, stack, prefix)}
    roles = [
        statements
        for statements in _role_statements(synthesized.template_of(integ.assertion_stack))
        if any(call_action in _actions(statement) for statement in statements)
    ]
    assert roles, f"some assertion provider calls {call_action}"
    for statements in roles:
        granted = {
            action
            for statement in statements
            if key_reference in statement.get("Resource", [])
            for action in _actions(statement)
        }
        assert key_actions <= granted, call_action


def test_every_expectation_reports_its_verdict_as_an_output(
    synthesized: SynthesizedIntegApp,
) -> None:
    """make integ counts the verdicts in the outputs; each expectation must write one."""
    template = synthesized.template_of(synthesized.integ.assertion_stack)
    expecting = [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"].startswith("Custom::DeployAssert@SdkCall")
        and "expected" in resource["Properties"]
    ]
    assert expecting
    assert expected_assertion_count(synthesized.outdir) == len(expecting)

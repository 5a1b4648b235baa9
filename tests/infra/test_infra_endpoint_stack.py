"""The endpoint stack: model, volume-key rule per instance type, scaling, alarms, logs, IAM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from infra_synth import (
    BATCH_ONLY,
    CPU_ENDPOINT,
    DEFAULT,
    EXISTING_KEY_RETAIN,
    SynthesizedApp,
    resources_of_type,
    synth,
    vpc_create,
)

from stacks.endpoint_stack import (
    CONTAINER_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS,
    MODEL_DATA_DOWNLOAD_TIMEOUT_SECONDS,
)

ENDPOINT_NAME = "Zstc-Endpoint"
DATA_KEY_IMPORT = {"Fn::ImportValue": Match.string_like_regexp("^Zstc-Data:.*DataKey.*Arn")}


@pytest.fixture(scope="module")
def default_app() -> SynthesizedApp:
    return synth(DEFAULT)


@pytest.fixture(scope="module")
def cpu_app() -> SynthesizedApp:
    return synth(CPU_ENDPOINT)


@pytest.fixture(scope="module")
def vpc_app(tiny_nli_model_dir: Path) -> SynthesizedApp:
    return synth(vpc_create(tiny_nli_model_dir))


@pytest.fixture(scope="module")
def retain_app() -> SynthesizedApp:
    return synth(EXISTING_KEY_RETAIN)


def _endpoint(app: SynthesizedApp) -> tuple[Template, dict[str, Any]]:
    assert app.stacks.endpoint is not None
    return app.template(app.stacks.endpoint), app.templates[app.stacks.endpoint.stack_name]


def _role_statements(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of the model's execution role (the one SageMaker assumes)."""
    (execution_role_id,) = [
        logical_id
        for logical_id, role in resources_of_type(raw, "AWS::IAM::Role").items()
        if role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "sagemaker.amazonaws.com"}
    ]
    return [
        statement
        for policy in resources_of_type(raw, "AWS::IAM::Policy").values()
        if {"Ref": execution_role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _statement_with(raw: dict[str, Any], action: str) -> dict[str, Any]:
    (statement,) = [s for s in _role_statements(raw) if action in s["Action"]]
    return statement


def test_gpu_endpoint_config_has_no_volume_key_and_no_data_capture(
    default_app: SynthesizedApp,
) -> None:
    template, _ = _endpoint(default_app)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "KmsKeyId": Match.absent(),
            "DataCaptureConfig": Match.absent(),
            "ProductionVariants": [
                Match.object_like(
                    {
                        "InstanceType": "ml.g4dn.xlarge",
                        "InitialInstanceCount": 1,
                        "ContainerStartupHealthCheckTimeoutInSeconds": (
                            CONTAINER_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS
                        ),
                        "ModelDataDownloadTimeoutInSeconds": MODEL_DATA_DOWNLOAD_TIMEOUT_SECONDS,
                    }
                )
            ],
        },
    )
    # bart-large (1.6 GB) needs well over SageMaker's default startup allowance.
    assert CONTAINER_STARTUP_HEALTH_CHECK_TIMEOUT_SECONDS >= 1200
    assert MODEL_DATA_DOWNLOAD_TIMEOUT_SECONDS >= 1200


def test_cpu_endpoint_config_encrypts_the_volume_with_the_data_key(
    cpu_app: SynthesizedApp,
) -> None:
    template, _ = _endpoint(cpu_app)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "KmsKeyId": DATA_KEY_IMPORT,
            "ProductionVariants": [Match.object_like({"InstanceType": "ml.c7i.xlarge"})],
        },
    )


def test_hub_model_gets_model_id_and_network_and_one_worker_per_gpu() -> None:
    # model_weights=hub is an opt-in since the default became s3 (test_infra_model_weights.py).
    template, _ = _endpoint(synth({"model_weights": "hub"}))
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "EnableNetworkIsolation": False,
            "VpcConfig": Match.absent(),
            "PrimaryContainer": Match.object_like(
                {
                    "Environment": {
                        "ZSTC_MODEL_ID": "facebook/bart-large-mnli",
                        "ZSTC_MODEL_REVISION": "main",
                        "ZSTC_MAX_CANDIDATE_LABELS": "50",
                        "ZSTC_MAX_PAIRS_PER_REQUEST": "200",
                        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
                        "SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS": "60",
                        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "1",
                    }
                }
            ),
        },
    )


def test_cpu_model_runs_one_server_worker(cpu_app: SynthesizedApp) -> None:
    template, _ = _endpoint(cpu_app)
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": Match.object_like(
                {"Environment": Match.object_like({"SAGEMAKER_MODEL_SERVER_WORKERS": "1"})}
            )
        },
    )


def test_vpc_model_is_isolated_offline_and_attached_to_the_subnets(
    vpc_app: SynthesizedApp,
) -> None:
    template, _ = _endpoint(vpc_app)
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "EnableNetworkIsolation": True,
            "VpcConfig": {
                "SecurityGroupIds": [Match.any_value()],
                "Subnets": Match.any_value(),
            },
            "PrimaryContainer": Match.object_like(
                {
                    "Environment": {
                        "HF_HUB_OFFLINE": "1",
                        "ZSTC_MAX_CANDIDATE_LABELS": "50",
                        "ZSTC_MAX_PAIRS_PER_REQUEST": "200",
                        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
                        "SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS": "60",
                        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "1",
                    }
                }
            ),
        },
    )
    _, raw = _endpoint(vpc_app)
    (model,) = resources_of_type(raw, "AWS::SageMaker::Model").values()
    assert len(model["Properties"]["VpcConfig"]["Subnets"]) == 2


def test_role_has_no_managed_policies_and_reads_only_the_model_archive() -> None:
    # With model_weights=s3 (the default) the role reads its copy instead of the archive
    # (tests/infra/test_infra_model_weights.py); hub mode serves model.tar.gz.
    template, raw = _endpoint(synth({"model_weights": "hub"}))
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": Match.object_like(
                {
                    "Statement": [
                        Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})
                    ]
                }
            ),
            "ManagedPolicyArns": Match.absent(),
        },
    )
    (model,) = resources_of_type(raw, "AWS::SageMaker::Model").values()
    archive_key = model["Properties"]["PrimaryContainer"]["ModelDataUrl"]["Fn::Sub"].split("/")[-1]
    read = _statement_with(raw, "s3:GetObject*")
    assert len(read["Resource"]) == 2
    last_parts = [arn["Fn::Join"][1][-1] for arn in read["Resource"]]
    # The asset bucket's ARN (for GetBucket*/List*) and the one archive object; never bucket/*.
    assert f"/{archive_key}" in last_parts
    assert not any(isinstance(part, str) and part.endswith("/*") for part in last_parts)


def test_role_writes_only_its_endpoints_logs_and_sagemaker_metrics(
    default_app: SynthesizedApp,
) -> None:
    _, raw = _endpoint(default_app)
    logs_statement = _statement_with(raw, "logs:PutLogEvents")
    rendered = str(logs_statement["Resource"])
    assert f":log-group:/aws/sagemaker/Endpoints/{ENDPOINT_NAME}*" in rendered
    metrics = _statement_with(raw, "cloudwatch:PutMetricData")
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}


def test_role_gets_network_interface_permissions_only_in_vpc_mode(
    default_app: SynthesizedApp, vpc_app: SynthesizedApp
) -> None:
    _, raw = _endpoint(default_app)
    assert not [s for s in _role_statements(raw) if "ec2:CreateNetworkInterface" in s["Action"]]
    _, vpc_raw = _endpoint(vpc_app)
    create = _statement_with(vpc_raw, "ec2:CreateNetworkInterface")
    assert "*" not in create["Resource"]


def test_endpoint_log_group_exists_before_the_endpoint_and_goes_with_it(
    default_app: SynthesizedApp,
) -> None:
    template, raw = _endpoint(default_app)
    template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {
                "LogGroupName": f"/aws/sagemaker/Endpoints/{ENDPOINT_NAME}",
                "RetentionInDays": 30,
                "KmsKeyId": DATA_KEY_IMPORT,
            },
            "DeletionPolicy": "Delete",
        },
    )
    (log_group_id,) = [
        logical_id
        for logical_id, group in resources_of_type(raw, "AWS::Logs::LogGroup").items()
        if group["Properties"].get("LogGroupName") == f"/aws/sagemaker/Endpoints/{ENDPOINT_NAME}"
    ]
    (endpoint,) = resources_of_type(raw, "AWS::SageMaker::Endpoint").values()
    assert endpoint["Properties"]["EndpointName"] == ENDPOINT_NAME
    assert log_group_id in endpoint["DependsOn"]


def test_existing_key_log_group_uses_default_encryption(retain_app: SynthesizedApp) -> None:
    # The owner's key policy may not admit CloudWatch Logs; the group must still create.
    template, _ = _endpoint(retain_app)
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"LogGroupName": f"/aws/sagemaker/Endpoints/{ENDPOINT_NAME}", "KmsKeyId": Match.absent()},
    )


def test_autoscaling_tracks_invocations_per_instance_within_config_bounds(
    default_app: SynthesizedApp,
) -> None:
    template, _ = _endpoint(default_app)
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "MinCapacity": 1,
            "MaxCapacity": 2,
            "ResourceId": f"endpoint/{ENDPOINT_NAME}/variant/AllTraffic",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "ServiceNamespace": "sagemaker",
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "TargetValue": 600,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                    },
                }
            ),
        },
    )


@pytest.mark.parametrize("metric_name", ["Invocation5XXErrors", "ModelLatency"])
def test_alarms_watch_the_endpoint_and_notify_the_encrypted_topic(
    default_app: SynthesizedApp, metric_name: str
) -> None:
    template, raw = _endpoint(default_app)
    (topic_id,) = resources_of_type(raw, "AWS::SNS::Topic")
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": metric_name,
            "Namespace": "AWS/SageMaker",
            "Dimensions": Match.array_with([{"Name": "EndpointName", "Value": ENDPOINT_NAME}]),
            "AlarmActions": [{"Ref": topic_id}],
        },
    )
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": DATA_KEY_IMPORT})


def test_alarm_email_subscription_only_when_configured(
    default_app: SynthesizedApp, retain_app: SynthesizedApp
) -> None:
    _endpoint(default_app)[0].resource_count_is("AWS::SNS::Subscription", 0)
    _endpoint(retain_app)[0].has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ml-team@example.com"}
    )


def test_endpoint_name_is_an_output_for_the_cli(default_app: SynthesizedApp) -> None:
    template, raw = _endpoint(default_app)
    (endpoint_id,) = resources_of_type(raw, "AWS::SageMaker::Endpoint")
    template.has_output("EndpointName", {"Value": {"Fn::GetAtt": [endpoint_id, "EndpointName"]}})


def test_endpoint_disabled_leaves_out_the_endpoint_stack_only() -> None:
    app = synth(BATCH_ONLY)
    assert app.stacks.endpoint is None
    assert ENDPOINT_NAME not in app.templates
    assert app.stacks.data.stack_name in app.templates
    assert app.stacks.batch.stack_name in app.templates


def _key_statements(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for s in _role_statements(raw)
        if any(
            a.startswith("kms:")
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        )
    ]


def test_nvme_endpoint_role_gets_no_key_permission(default_app: SynthesizedApp) -> None:
    """ml.g4dn (NVMe storage) takes no volume key; the key only decrypts the model's S3 copy.

    SageMaker rejects KmsKeyId on an EndpointConfig for instance types with local instance
    storage (botocore sagemaker service model, CreateEndpointConfigInput.KmsKeyId).
    """
    _, raw = _endpoint(default_app)
    (statement,) = _key_statements(raw)
    assert statement["Sid"] == "DecryptModelCopies"
    assert statement["Action"] == "kms:Decrypt"
    _, hub_raw = _endpoint(synth({"model_weights": "hub"}))
    assert _key_statements(hub_raw) == []


def test_cpu_endpoint_role_may_only_grant_the_volume_key_to_aws_resources(
    cpu_app: SynthesizedApp,
) -> None:
    _, raw = _endpoint(cpu_app)
    (statement,) = [s for s in _key_statements(raw) if s.get("Sid") != "DecryptModelCopies"]
    assert sorted(statement["Action"]) == ["kms:CreateGrant", "kms:DescribeKey"]
    assert set(statement["Resource"]) == {"Fn::ImportValue"}
    assert "DataKey" in statement["Resource"]["Fn::ImportValue"]
    assert statement["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}

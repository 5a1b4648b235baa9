"""endpoint_mode: each mode's endpoint config against botocore's own CreateEndpointConfig input
shape, and what each mode's template must hold (serverless, async).

The endpoint config's properties are resolved the way CloudFormation passes them to SageMaker
(intrinsics replaced by values of the real shape) and checked with botocore's validator, plus
the `max`, `pattern` and `enum` constraints of the service model that botocore's client-side
validator leaves to the service: the check is stricter than a boto3 call.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aws_cdk.assertions import Match, Template
from botocore.model import Shape, StructureShape
from botocore.validate import validate_parameters
from infra_synth import (
    ASYNC,
    SynthesizedApp,
    resources_of_type,
    serverless_provisioned,
    synth,
    vpc_create,
)

from stacks.config import ConfigError, load_config

ACCOUNT = "111122223333"
REGION = "eu-west-1"
# Values of the real shapes for what only exists at deploy time.
_DEPLOY_TIME_VALUES = {
    "KmsKeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "ModelName": "ModelA1b2C3d4-E5f6G7h8",
    "SuccessTopic": f"arn:aws:sns:{REGION}:{ACCOUNT}:Zstc-Endpoint-AsyncSuccessTopic-A1B2C3",
    "ErrorTopic": f"arn:aws:sns:{REGION}:{ACCOUNT}:Zstc-Endpoint-AsyncErrorTopic-D4E5F6",
}
_IMPORTED_BUCKET = "zstc-data-databucket-a1b2c3d4e5f6"


@pytest.fixture(scope="module")
def serverless_app(tiny_nli_model_dir: Path) -> SynthesizedApp:
    return synth(serverless_provisioned(tiny_nli_model_dir))


@pytest.fixture(scope="module")
def async_app() -> SynthesizedApp:
    return synth(ASYNC)


@pytest.fixture(scope="module")
def realtime_app() -> SynthesizedApp:
    return synth({})


def _endpoint_template(app: SynthesizedApp) -> dict[str, Any]:
    assert app.stacks.endpoint is not None
    return app.templates[app.stacks.endpoint.stack_name]


def _deploy_time(value: Any, *, name: str) -> Any:
    """The value CloudFormation would pass for a property built from intrinsic functions."""
    if isinstance(value, list):
        return [_deploy_time(item, name=name) for item in value]
    if not isinstance(value, dict):
        return value
    intrinsic = next((key for key in value if key == "Ref" or key.startswith("Fn::")), None)
    if intrinsic is None:
        return {key: _deploy_time(item, name=key) for key, item in value.items()}
    if intrinsic == "Fn::Join":
        separator, parts = value["Fn::Join"]
        return separator.join(str(_deploy_time(part, name=name)) for part in parts)
    if intrinsic == "Fn::Select":
        index, items = value["Fn::Select"]
        return _deploy_time(items, name=name)[index]
    if intrinsic == "Fn::Split":
        separator, text = value["Fn::Split"]
        return str(_deploy_time(text, name=name)).split(separator)
    if intrinsic == "Fn::ImportValue" and value["Fn::ImportValue"].endswith(
        ("DataBucketArn", "BucketArnForModels")
    ):
        return f"arn:aws:s3:::{_IMPORTED_BUCKET}"
    return _DEPLOY_TIME_VALUES[name]


def _strict_problems(value: Any, shape: Shape, path: str) -> list[str]:
    """The constraints botocore's client-side validator does not check: max, pattern, enum."""
    problems: list[str] = []
    metadata = shape.metadata
    if isinstance(shape, StructureShape):
        for member, member_shape in shape.members.items():
            if member in value:
                problems += _strict_problems(value[member], member_shape, f"{path}.{member}")
        return problems
    if shape.type_name == "list":
        for index, item in enumerate(value):
            problems += _strict_problems(item, shape.member, f"{path}[{index}]")  # type: ignore[attr-defined]
        size = len(value)
    elif shape.type_name == "string":
        size = len(value)
        pattern = metadata.get("pattern")
        if pattern and not re.match(pattern, value):
            problems.append(f"{path}: {value!r} does not match {pattern}")
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.enum}")
    elif shape.type_name in ("integer", "long", "float", "double"):
        size = value
    else:
        return problems
    if "max" in metadata and size > metadata["max"]:
        problems.append(f"{path}: {size} is above the maximum {metadata['max']}")
    if "min" in metadata and size < metadata["min"]:
        problems.append(f"{path}: {size} is below the minimum {metadata['min']}")
    return problems


def _create_endpoint_config_request(app: SynthesizedApp) -> dict[str, Any]:
    (config,) = resources_of_type(
        _endpoint_template(app), "AWS::SageMaker::EndpointConfig"
    ).values()
    request = _deploy_time(config["Properties"], name="EndpointConfig")
    # CloudFormation names the config itself when the template does not.
    return {"EndpointConfigName": "EndpointConfig-a1B2c3D4e5F6", **request}


@pytest.mark.parametrize("mode", ["realtime", "serverless", "async"])
def test_each_modes_endpoint_config_is_a_valid_create_endpoint_config_request(
    mode: str,
    realtime_app: SynthesizedApp,
    serverless_app: SynthesizedApp,
    async_app: SynthesizedApp,
) -> None:
    app = {"realtime": realtime_app, "serverless": serverless_app, "async": async_app}[mode]
    request = _create_endpoint_config_request(app)
    model = botocore.session.get_session().get_service_model("sagemaker")
    input_shape = model.operation_model("CreateEndpointConfig").input_shape
    validate_parameters(request, input_shape)  # raises ParamValidationError, naming each problem
    assert _strict_problems(request, input_shape, "CreateEndpointConfig") == []


def test_the_strict_check_refuses_what_the_service_would() -> None:
    """The check above can fail: memory above 6144 MB and a bad S3 path are refused."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    input_shape = model.operation_model("CreateEndpointConfig").input_shape
    request = {
        "EndpointConfigName": "c",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": "m",
                "ServerlessConfig": {"MemorySizeInMB": 8192, "MaxConcurrency": 5},
            }
        ],
        "AsyncInferenceConfig": {"OutputConfig": {"S3OutputPath": "bucket/async/"}},
    }
    problems = _strict_problems(request, input_shape, "CreateEndpointConfig")
    assert any("MemorySizeInMB: 8192 is above the maximum 6144" in p for p in problems)
    assert any("S3OutputPath" in p and "does not match" in p for p in problems)


def test_serverless_variant_has_no_instance_and_the_configured_memory_and_concurrency(
    serverless_app: SynthesizedApp,
) -> None:
    (variant,) = _create_endpoint_config_request(serverless_app)["ProductionVariants"]
    assert variant["ServerlessConfig"] == {
        "MemorySizeInMB": serverless_app.config.serverless_memory_size_mb,
        "MaxConcurrency": 5,
        "ProvisionedConcurrency": 2,
    }
    for instance_only in ("InstanceType", "InitialInstanceCount"):
        assert instance_only not in variant


def test_serverless_model_runs_the_cpu_image_of_the_gpu_images_versions_without_isolation(
    serverless_app: SynthesizedApp, realtime_app: SynthesizedApp
) -> None:
    def image_tag(app: SynthesizedApp) -> str:
        (model,) = resources_of_type(_endpoint_template(app), "AWS::SageMaker::Model").values()
        parts = model["Properties"]["PrimaryContainer"]["Image"]["Fn::Join"][1]
        return str(parts[-1]).rsplit(":", 1)[1]

    serverless_tag, gpu_tag = image_tag(serverless_app), image_tag(realtime_app)
    assert "-cpu-" in serverless_tag and "-gpu-" in gpu_tag
    # Same PyTorch and transformers versions: the tags differ only in the processor part.
    assert serverless_tag.split("-cpu-")[0] == gpu_tag.split("-gpu-")[0]
    (model,) = resources_of_type(
        _endpoint_template(serverless_app), "AWS::SageMaker::Model"
    ).values()
    # Packaged weights would turn isolation on in any other mode; serverless supports none.
    assert serverless_app.config.weights_packaged
    assert model["Properties"]["EnableNetworkIsolation"] is False
    assert "VpcConfig" not in model["Properties"]


def test_serverless_provisioned_concurrency_is_target_tracked_up_to_max_concurrency(
    serverless_app: SynthesizedApp,
) -> None:
    template = Template.from_json(_endpoint_template(serverless_app))
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "ScalableDimension": "sagemaker:variant:DesiredProvisionedConcurrency",
            "MinCapacity": 2,
            "MaxCapacity": 5,
            "ResourceId": "endpoint/Zstc-Endpoint-Serverless/variant/AllTraffic",
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "SageMakerVariantProvisionedConcurrencyUtilization"
                    }
                }
            ),
        },
    )
    # No instance count to scale in serverless mode.
    template.resource_properties_count_is(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"ScalableDimension": "sagemaker:variant:DesiredInstanceCount"},
        0,
    )


def test_serverless_alarms_watch_cold_starts_and_concurrency_against_the_limit(
    serverless_app: SynthesizedApp,
) -> None:
    template = Template.from_json(_endpoint_template(serverless_app))
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ModelSetupTime",
            "Namespace": "AWS/SageMaker",
            "Dimensions": Match.array_with(
                [{"Name": "EndpointName", "Value": "Zstc-Endpoint-Serverless"}]
            ),
            "AlarmActions": Match.any_value(),
        },
    )
    alarms = resources_of_type(_endpoint_template(serverless_app), "AWS::CloudWatch::Alarm")
    concurrency = [
        alarm
        for alarm in alarms.values()
        if any(
            "/ 5" in query.get("Expression", "") for query in alarm["Properties"].get("Metrics", [])
        )
    ]
    assert concurrency, "an alarm on Invocations x latency against MaxConcurrency (5)"
    names = {
        query["MetricStat"]["Metric"]["MetricName"]
        for query in concurrency[0]["Properties"]["Metrics"]
        if "MetricStat" in query
    }
    assert names == {"Invocations", "ModelLatency", "OverheadLatency"}


def test_async_config_writes_under_the_stacks_async_prefixes_with_the_data_key(
    async_app: SynthesizedApp,
) -> None:
    request = _create_endpoint_config_request(async_app)
    output = request["AsyncInferenceConfig"]["OutputConfig"]
    assert output["S3OutputPath"] == f"s3://{_IMPORTED_BUCKET}/async/outputs/Zstc-Endpoint/"
    assert output["S3FailurePath"] == f"s3://{_IMPORTED_BUCKET}/async/failures/Zstc-Endpoint/"
    assert output["KmsKeyId"] == _DEPLOY_TIME_VALUES["KmsKeyId"]
    assert set(output["NotificationConfig"]) == {"SuccessTopic", "ErrorTopic"}
    assert request["AsyncInferenceConfig"]["ClientConfig"] == {
        "MaxConcurrentInvocationsPerInstance": async_app.config.async_max_concurrent_invocations
    }


def test_async_topics_are_encrypted_and_only_this_stacks_role_may_publish(
    async_app: SynthesizedApp,
) -> None:
    raw = _endpoint_template(async_app)
    topics = resources_of_type(raw, "AWS::SNS::Topic")
    (config,) = resources_of_type(raw, "AWS::SageMaker::EndpointConfig").values()
    notification = config["Properties"]["AsyncInferenceConfig"]["OutputConfig"][
        "NotificationConfig"
    ]
    for topic_ref in notification.values():
        topic = topics[topic_ref["Ref"]]
        assert "KmsMasterKeyId" in topic["Properties"]
        policies = [
            policy
            for policy in resources_of_type(raw, "AWS::SNS::TopicPolicy").values()
            if topic_ref in policy["Properties"]["Topics"]
        ]
        (policy,) = policies
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        allows = [s for s in statements if s["Effect"] == "Allow"]
        (allow,) = allows
        assert allow["Action"] == "sns:Publish"
        role_arn = {"Fn::GetAtt": [_execution_role_id(raw), "Arn"]}
        assert allow["Principal"] == {"AWS": role_arn}
        account = {"Ref": "AWS::AccountId"}
        assert allow["Condition"]["StringEquals"] == {"aws:PrincipalAccount": account}
        assert allow["Condition"]["ArnEquals"] == {"aws:PrincipalArn": role_arn}


def _execution_role_id(raw: dict[str, Any]) -> str:
    (model,) = resources_of_type(raw, "AWS::SageMaker::Model").values()
    role_id: str = model["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
    return role_id


def test_async_execution_role_reaches_exactly_its_prefixes_topics_and_key(
    async_app: SynthesizedApp,
) -> None:
    raw = _endpoint_template(async_app)
    role_id = _execution_role_id(raw)
    statements = [
        statement
        for policy in resources_of_type(raw, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {statement.get("Sid"): statement for statement in statements}
    assert by_sid["ReadAsyncRequests"]["Action"] == "s3:GetObject"
    assert "async/inputs/Zstc-Endpoint/*" in str(by_sid["ReadAsyncRequests"]["Resource"])
    written = str(by_sid["WriteAsyncAnswers"]["Resource"])
    assert "async/outputs/Zstc-Endpoint/*" in written
    assert "async/failures/Zstc-Endpoint/*" in written
    assert by_sid["WriteAsyncAnswers"]["Action"] == "s3:PutObject"
    assert by_sid["UseDataKeyForAsync"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert by_sid["PublishAsyncNotifications"]["Action"] == "sns:Publish"


def test_async_scales_to_zero_out_of_zero_on_backlog_and_tracks_backlog_per_instance(
    async_app: SynthesizedApp,
) -> None:
    raw = _endpoint_template(async_app)
    template = Template.from_json(raw)
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "MinCapacity": 0,
            "MaxCapacity": async_app.config.autoscaling_max_capacity,
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "TargetValue": async_app.config.async_backlog_per_instance,
                    "CustomizedMetricSpecification": Match.object_like(
                        {
                            "MetricName": "ApproximateBacklogSizePerInstance",
                            "Namespace": "AWS/SageMaker",
                            "Dimensions": [
                                {"Name": "EndpointName", "Value": "Zstc-Endpoint-Async"}
                            ],
                        }
                    ),
                }
            ),
        },
    )
    step_policies = {
        logical_id: policy
        for logical_id, policy in resources_of_type(
            raw, "AWS::ApplicationAutoScaling::ScalingPolicy"
        ).items()
        if policy["Properties"]["PolicyType"] == "StepScaling"
    }
    ((step_id, step),) = step_policies.items()
    configuration = step["Properties"]["StepScalingPolicyConfiguration"]
    assert configuration["AdjustmentType"] == "ChangeInCapacity"
    assert configuration["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}
    ]
    # The alarm that runs it: HasBacklogWithoutCapacity of this endpoint.
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "HasBacklogWithoutCapacity",
            "Dimensions": [{"Name": "EndpointName", "Value": "Zstc-Endpoint-Async"}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [{"Ref": step_id}],
        },
    )


def test_async_requests_and_answers_expire_in_the_data_bucket(async_app: SynthesizedApp) -> None:
    template = async_app.template(async_app.stacks.data)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Id": "ExpireAsyncInference",
                                "Prefix": "async/",
                                "Status": "Enabled",
                                "ExpirationInDays": 7,
                            }
                        )
                    ]
                )
            }
        },
    )


def test_async_readiness_probe_gets_its_bucket_and_a_longer_wait(async_app: SynthesizedApp) -> None:
    template = Template.from_json(_endpoint_template(async_app))
    template.has_resource_properties(
        "Custom::EndpointReadiness",
        {
            "EndpointMode": "async",
            "ProbeInputPrefix": "async/inputs/Zstc-Endpoint/readiness/",
            "ProbeBucket": Match.any_value(),
            "TimeoutSeconds": "2400",
        },
    )


def test_each_mode_family_has_its_own_endpoint_name(
    realtime_app: SynthesizedApp, serverless_app: SynthesizedApp, async_app: SynthesizedApp
) -> None:
    """SageMaker cannot update an instance endpoint into a serverless one: a change of mode
    must replace the endpoint, which a new name makes CloudFormation do."""
    names = {
        app.config.endpoint_mode: resources_of_type(
            _endpoint_template(app), "AWS::SageMaker::Endpoint"
        ).popitem()[1]["Properties"]["EndpointName"]
        for app in (realtime_app, serverless_app, async_app)
    }
    assert names == {
        "realtime": "Zstc-Endpoint",
        "serverless": "Zstc-Endpoint-Serverless",
        "async": "Zstc-Endpoint-Async",
    }


@pytest.mark.parametrize("app_name", ["realtime", "serverless", "async"])
def test_the_mode_is_a_stack_output_for_the_client(
    app_name: str,
    realtime_app: SynthesizedApp,
    serverless_app: SynthesizedApp,
    async_app: SynthesizedApp,
) -> None:
    app = {"realtime": realtime_app, "serverless": serverless_app, "async": async_app}[app_name]
    outputs = _endpoint_template(app)["Outputs"]
    assert outputs["EndpointMode"]["Value"] == app.config.endpoint_mode
    assert ("AsyncInputPrefix" in outputs) == (app_name == "async")


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (
            {"endpoint_mode": "serverless", "vpc": "create", "model_weights": "package"},
            r"endpoint_mode: 'serverless' is not allowed with vpc='create'.*no VPC",
        ),
        ({"endpoint_mode": "edge"}, r"endpoint_mode: 'edge' is not allowed; expected one of"),
        (
            {"endpoint_mode": "serverless", "serverless_memory_mb": "1500"},
            r"serverless_memory_mb: '1500' is not allowed; expected 'auto' or one of 1024, 2048",
        ),
        (
            {"endpoint_mode": "serverless", "serverless_max_concurrency": "201"},
            r"serverless_max_concurrency: 201 is out of range; expected 1 to 200",
        ),
        (
            {"endpoint_mode": "serverless", "serverless_provisioned_concurrency": "9"},
            r"serverless_provisioned_concurrency: 9 is larger than serverless_max_concurrency",
        ),
        (
            {"endpoint_mode": "async", "serverless_provisioned_concurrency": "1"},
            r"serverless_provisioned_concurrency: 1 has no effect with endpoint_mode 'async'",
        ),
        (
            {"endpoint_mode": "async", "async_max_concurrent_invocations": "0"},
            r"async_max_concurrent_invocations: 0 is out of range; expected 1 to 1000",
        ),
    ],
)
def test_impossible_mode_combinations_are_refused_naming_key_mode_and_why(
    context: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(context)


def test_serverless_memory_auto_follows_the_model_kind() -> None:
    assert load_config({"endpoint_mode": "serverless"}).serverless_memory_size_mb == 6144
    embedding = load_config({"endpoint_mode": "serverless", "model_kind": "embedding"})
    assert embedding.serverless_memory_size_mb == 2048
    chosen = load_config({"endpoint_mode": "serverless", "serverless_memory_mb": 3072})
    assert chosen.serverless_memory_size_mb == 3072


def test_async_has_no_seconds_scale_latency_alarm_but_one_on_waiting_requests(
    async_app: SynthesizedApp, realtime_app: SynthesizedApp
) -> None:
    def metric_names(app: SynthesizedApp) -> set[str]:
        alarms = resources_of_type(_endpoint_template(app), "AWS::CloudWatch::Alarm")
        return {alarm["Properties"].get("MetricName", "") for alarm in alarms.values()}

    assert "ModelLatency" in metric_names(realtime_app)
    assert "ModelLatency" not in metric_names(async_app)
    assert "ApproximateAgeOfOldestRequest" in metric_names(async_app)


def test_async_model_server_waits_an_hour_and_takes_requests_up_to_100_mb(
    async_app: SynthesizedApp,
) -> None:
    (model,) = resources_of_type(_endpoint_template(async_app), "AWS::SageMaker::Model").values()
    environment = model["Properties"]["PrimaryContainer"]["Environment"]
    assert environment["SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS"] == "3600"
    assert environment["MMS_MAX_REQUEST_SIZE"] == str(100 * 1024 * 1024)


def test_serverless_with_hub_weights_warns_about_cold_start_downloads(
    serverless_app: SynthesizedApp,
) -> None:
    from aws_cdk.assertions import Annotations

    def warnings(app: SynthesizedApp) -> list[Any]:
        assert app.stacks.endpoint is not None
        return Annotations.from_stack(app.stacks.endpoint).find_warning(
            "*", Match.string_like_regexp("downloads the model from the hub at every cold start")
        )

    assert warnings(synth({"endpoint_mode": "serverless", "model_weights": "hub"}))
    # Packaged weights: nothing to download at a cold start, no warning.
    assert not warnings(serverless_app)


def test_async_runs_inside_a_vpc_with_network_isolation(tiny_nli_model_dir: Path) -> None:
    """Async, unlike serverless, supports a VPC and network isolation; the gates hold there too."""
    app = synth({"endpoint_mode": "async", **vpc_create(tiny_nli_model_dir)})
    (model,) = resources_of_type(_endpoint_template(app), "AWS::SageMaker::Model").values()
    assert model["Properties"]["EnableNetworkIsolation"] is True
    assert "VpcConfig" in model["Properties"]
    assert app.nag_violations == []


def test_async_readiness_role_reaches_only_its_probe_and_the_answers(
    async_app: SynthesizedApp,
) -> None:
    raw = _endpoint_template(async_app)
    statements = [
        statement
        for policy in resources_of_type(raw, "AWS::IAM::Policy").values()
        if "ReadinessCheck" in str(policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {statement.get("Sid"): statement for statement in statements}
    assert by_sid["ProbeThisEndpoint"]["Action"] == [
        "sagemaker:DescribeEndpoint",
        "sagemaker:InvokeEndpointAsync",
    ]
    assert sorted(by_sid["WriteAndReadTheProbe"]["Action"]) == ["s3:GetObject", "s3:PutObject"]
    assert "async/inputs/Zstc-Endpoint/readiness/*" in str(by_sid["WriteAndReadTheProbe"])
    assert by_sid["ReadTheAnswer"]["Action"] == "s3:GetObject"
    assert by_sid["TellMissingFromDenied"]["Condition"]["StringLike"]["s3:prefix"] == [
        "async/inputs/Zstc-Endpoint/readiness/*",
        "async/outputs/Zstc-Endpoint/*",
        "async/failures/Zstc-Endpoint/*",
    ]
    actions = [
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert not [
        action for action in actions if action.startswith(("s3:", "kms:")) and "*" in action
    ]

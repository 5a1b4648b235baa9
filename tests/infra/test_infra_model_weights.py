"""model_weights=s3 (the default) in the synthesized templates: the deploy-time copy, the models
that read it with network isolation, and a synth that fetched nothing.

The Model properties are also checked against botocore's CreateModel input shape, the API
CloudFormation calls, so a misspelt key or a value of the wrong type fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aws_cdk.assertions import Match
from botocore.validate import ParamValidator
from infra_synth import SynthesizedApp, resources_of_type, synth

from stacks.model_weights import FUNCTION_MEMORY_MB, RESOURCE_TYPE, model_data_root


@pytest.fixture(scope="module")
def default_app() -> SynthesizedApp:
    return synth()


@pytest.fixture(scope="module")
def hub_app() -> SynthesizedApp:
    return synth({"model_weights": "hub"})


def _only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    (found,) = resources_of_type(template, resource_type).items()
    return found


def _tokens_to_strings(value: Any) -> Any:
    """Intrinsic functions become placeholder strings, as CloudFormation resolves them."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref")):
            return "s3://resolved-at-deploy/model-data/x/"
        return {k: _tokens_to_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tokens_to_strings(v) for v in value]
    return value


def _create_model_problems(properties: dict[str, Any]) -> str:
    shape = (
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .operation_model("CreateModel")
        .input_shape
    )
    params = {
        "ModelName": "zstc-model",
        "ExecutionRoleArn": "arn:aws:iam::111122223333:role/zstc",
        "PrimaryContainer": _tokens_to_strings(properties["PrimaryContainer"]),
        "EnableNetworkIsolation": properties["EnableNetworkIsolation"],
    }
    report = ParamValidator().validate(params, shape)
    return str(report.generate_report()) if report.has_errors() else ""


def test_the_endpoint_reads_an_uncompressed_prefix_of_its_own_copy_with_no_network(
    default_app: SynthesizedApp,
) -> None:
    stack = default_app.stacks.endpoint
    assert stack is not None
    template = default_app.templates[stack.stack_name]
    copy_id, copy = _only(template, RESOURCE_TYPE)
    _, model = _only(template, "AWS::SageMaker::Model")
    container = model["Properties"]["PrimaryContainer"]

    assert model["Properties"]["EnableNetworkIsolation"] is True
    assert container["ModelDataSource"] == {
        "S3DataSource": {
            "S3Uri": {"Fn::GetAtt": [copy_id, "S3Uri"]},
            "S3DataType": "S3Prefix",
            "CompressionType": "None",
        }
    }
    assert "ModelDataUrl" not in container
    assert container["Environment"]["HF_HUB_OFFLINE"] == "1"
    assert "ZSTC_MODEL_ID" not in container["Environment"]
    assert copy["Properties"]["Layout"] == "prefix"
    assert copy["Properties"]["PrefixRoot"] == model_data_root(stack.stack_name)
    assert copy["Properties"]["ModelId"] == "facebook/bart-large-mnli"
    assert copy["Properties"]["Revision"] == "main"
    assert _create_model_problems(model["Properties"]) == ""


def test_batch_reads_the_copy_as_model_tar_gz_since_transform_takes_no_model_data_source(
    default_app: SynthesizedApp,
) -> None:
    template = default_app.templates[default_app.stacks.batch.stack_name]
    copy_id, copy = _only(template, RESOURCE_TYPE)
    _, model = _only(template, "AWS::SageMaker::Model")
    container = model["Properties"]["PrimaryContainer"]

    assert model["Properties"]["EnableNetworkIsolation"] is True
    assert container["ModelDataUrl"] == {"Fn::GetAtt": [copy_id, "ArchiveS3Uri"]}
    assert "ModelDataSource" not in container
    assert copy["Properties"]["Layout"] == "archive"
    assert _create_model_problems(model["Properties"]) == ""


def test_each_serving_stack_records_the_commit_it_serves(default_app: SynthesizedApp) -> None:
    for stack in (default_app.stacks.endpoint, default_app.stacks.batch):
        assert stack is not None
        template = default_app.template(stack)
        copy_id, _ = _only(default_app.templates[stack.stack_name], RESOURCE_TYPE)
        outputs = template.find_outputs("*", {"Value": {"Fn::GetAtt": [copy_id, "Commit"]}})
        assert len(outputs) == 1, stack.stack_name


def test_the_copy_functions_have_time_memory_and_their_own_log_group(
    default_app: SynthesizedApp,
) -> None:
    stack = default_app.stacks.endpoint
    assert stack is not None
    template = default_app.templates[stack.stack_name]
    functions = [
        resource["Properties"]
        for resource in resources_of_type(template, "AWS::Lambda::Function").values()
        if str(resource["Properties"].get("Handler", "")).startswith("weights_copy_handler.")
    ]
    assert len(functions) == 2
    log_groups = resources_of_type(template, "AWS::Logs::LogGroup")
    for function in functions:
        assert function["Timeout"] == 900
        assert function["MemorySize"] == FUNCTION_MEMORY_MB
        (log_group_id,) = function["LoggingConfig"]["LogGroup"].values()
        assert log_group_id in log_groups


def test_the_copy_role_writes_only_below_its_own_prefix(default_app: SynthesizedApp) -> None:
    stack = default_app.stacks.endpoint
    assert stack is not None
    template = default_app.templates[stack.stack_name]
    root = model_data_root(stack.stack_name)
    resources = [
        json.dumps(statement["Resource"])
        for policy in resources_of_type(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(
            action.startswith(("s3:Put", "s3:Delete"))
            for action in (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
        )
    ]
    assert resources
    for resource in resources:
        assert f"/{root}*" in resource, resource


def test_hub_mode_downloads_at_start_and_so_runs_without_isolation(
    hub_app: SynthesizedApp,
) -> None:
    for stack in (hub_app.stacks.endpoint, hub_app.stacks.batch):
        assert stack is not None
        template = hub_app.template(stack)
        template.resource_count_is(RESOURCE_TYPE, 0)
        template.has_resource_properties(
            "AWS::SageMaker::Model",
            {
                "EnableNetworkIsolation": False,
                "PrimaryContainer": Match.object_like(
                    {"ModelDataUrl": Match.any_value(), "ModelDataSource": Match.absent()}
                ),
            },
        )


def test_synth_fetched_nothing_the_model_archive_holds_code_only(
    default_app: SynthesizedApp,
) -> None:
    import tarfile

    from stacks.app_wiring import MODEL_ARCHIVE_PATH

    with tarfile.open(MODEL_ARCHIVE_PATH, "r:gz") as tar:
        names = [member.name for member in tar.getmembers() if member.isfile()]
    assert names and all(name.startswith("code/") for name in names), names


def test_the_execution_role_reads_only_its_own_copies(default_app: SynthesizedApp) -> None:
    stack = default_app.stacks.endpoint
    assert stack is not None
    template = default_app.templates[stack.stack_name]
    (role_id,) = [
        logical_id
        for logical_id, role in resources_of_type(template, "AWS::IAM::Role").items()
        if "sagemaker.amazonaws.com" in json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
    ]
    statements = [
        statement
        for policy in resources_of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    s3_resources = [
        json.dumps(statement["Resource"])
        for statement in statements
        if "s3:" in json.dumps(statement["Action"])
    ]
    # Objects under its own stack's prefix, and listing limited to that prefix; never the CDK
    # asset bucket (the code is in the copy).
    assert s3_resources
    assert not any("cdk-" in resource for resource in s3_resources), s3_resources
    (read,) = [s for s in statements if s["Action"] == "s3:GetObject"]
    assert f"/{model_data_root(stack.stack_name)}*" in json.dumps(read["Resource"])
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": [f"{model_data_root(stack.stack_name)}*"]}
    }


def test_a_hosting_option_without_isolation_can_turn_it_off(tmp_path: Path) -> None:
    """Serverless inference supports neither network isolation nor ModelDataSource (botocore
    sagemaker model, ContainerDefinition.ModelDataSource): such a model takes the copy's
    archive with isolation off."""
    import aws_cdk as cdk

    from stacks.app_wiring import build_model_archive_for
    from stacks.config import load_config
    from stacks.data_stack import DataStack
    from stacks.serving_model import ServingModel
    from zstc.model_server_settings import REAL_TIME_MODEL_SERVER

    config = load_config({})
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    data = DataStack(app, "Zstc-Data", config=config)
    stack = cdk.Stack(app, "Zstc-Serverless")
    ServingModel(
        stack,
        "Model",
        config=config,
        instance_type="ml.c7i.xlarge",
        model_server=REAL_TIME_MODEL_SERVER,
        model_archive=build_model_archive_for(config, tmp_path / "model.tar.gz"),
        key=data.key,
        network=None,
        log_group_name_prefix="/aws/sagemaker/Endpoints/Zstc-Serverless",
        data=data,
        uncompressed_model_data=False,
        network_isolation=False,
    )
    template = app.synth().get_stack_by_name("Zstc-Serverless").template
    copy_id, copy = _only(template, RESOURCE_TYPE)
    _, model = _only(template, "AWS::SageMaker::Model")
    assert model["Properties"]["EnableNetworkIsolation"] is False
    assert model["Properties"]["PrimaryContainer"]["ModelDataUrl"] == {
        "Fn::GetAtt": [copy_id, "ArchiveS3Uri"]
    }
    assert copy["Properties"]["Layout"] == "archive"

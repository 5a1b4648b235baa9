"""The image URI in the templates equals what the sagemaker SDK gives, in every listed region."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from cfn_resolve import partition_of, resolve
from infra_synth import CPU_ENDPOINT, DEFAULT, SynthesizedApp, resources_of_type, synth

from scripts.generate_image_uri_mapping import build_mapping, listed_regions, retrieve_image_uri
from stacks.config import ConfigError
from stacks.container_image import image_uri, load_image_uri_mapping

GPU_INSTANCE = "ml.g4dn.xlarge"
CPU_INSTANCE = "ml.c7i.xlarge"


@pytest.fixture(scope="module")
def gpu_app() -> SynthesizedApp:
    return synth(DEFAULT)


@pytest.fixture(scope="module")
def cpu_app() -> SynthesizedApp:
    return synth(CPU_ENDPOINT)


def _endpoint_template_and_image(app: SynthesizedApp) -> tuple[dict, object]:
    assert app.stacks.endpoint is not None
    template = app.templates[app.stacks.endpoint.stack_name]
    models = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    assert len(models) == 1
    return template, models[0]["Properties"]["PrimaryContainer"]["Image"]


def test_committed_mapping_is_what_the_generator_writes_from_the_sdk() -> None:
    # Fails when sagemaker-core's registry changed and the JSON was not regenerated.
    assert load_image_uri_mapping() == build_mapping()


def test_template_mapping_covers_every_region_the_sdk_lists(gpu_app: SynthesizedApp) -> None:
    template, _ = _endpoint_template_and_image(gpu_app)
    (mapping,) = template["Mappings"].values()
    assert set(mapping) == set(listed_regions())
    assert len(mapping) >= 35
    assert {entry["DomainSuffix"] for entry in mapping.values()} >= {
        "amazonaws.com",
        "amazonaws.com.cn",
    }


@pytest.mark.parametrize(
    ("app_fixture", "instance_type"), [("gpu_app", GPU_INSTANCE), ("cpu_app", CPU_INSTANCE)]
)
def test_image_uri_equals_sdk_retrieve_in_every_region(
    request: pytest.FixtureRequest, app_fixture: str, instance_type: str
) -> None:
    app: SynthesizedApp = request.getfixturevalue(app_fixture)
    template, image = _endpoint_template_and_image(app)
    mismatches = {}
    for region in listed_regions():
        expected = retrieve_image_uri(region=region, instance_type=instance_type)
        actual = resolve(image, template=template, region=region)
        if actual != expected:
            mismatches[region] = (actual, expected)
    assert not mismatches


def test_batch_model_uses_the_batch_instance_types_image(cpu_app: SynthesizedApp) -> None:
    # The CPU endpoint config leaves batch on ml.g4dn: each model follows its own instance type.
    template = cpu_app.templates[cpu_app.stacks.batch.stack_name]
    models = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    assert models, "the batch stack has its own SageMaker model"
    for model in models:
        image = resolve(
            model["Properties"]["PrimaryContainer"]["Image"], template=template, region="us-east-1"
        )
        assert image == retrieve_image_uri(region="us-east-1", instance_type=GPU_INSTANCE)


def test_ecr_pull_is_scoped_to_the_image_repository_of_the_region(
    gpu_app: SynthesizedApp,
) -> None:
    template, _ = _endpoint_template_and_image(gpu_app)
    pull_statements = [
        statement
        for policy in resources_of_type(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ecr:BatchGetImage" in statement["Action"]
    ]
    assert len(pull_statements) == 1
    registry = load_image_uri_mapping()["regions"]
    for region in ("us-east-1", "eu-south-1", "cn-north-1", "us-gov-west-1"):
        partition, _ = partition_of(region)
        resource = resolve(pull_statements[0]["Resource"], template=template, region=region)
        assert resource == (
            f"arn:{partition}:ecr:{region}:{registry[region]['account']}:repository/"
            "huggingface-pytorch-inference"
        )


def test_a_region_without_the_image_fails_synth_naming_it_and_the_supported_ones() -> None:
    """A known region missing from the table fails at synth, not with CloudFormation's opaque
    "Fn::FindInMap - Key 'xx' not found in Mapping" at deploy time."""
    app = cdk.App()
    stack = cdk.Stack(
        app, "Somewhere", env=cdk.Environment(account="111122223333", region="xx-moon-1")
    )
    with pytest.raises(ConfigError) as raised:
        image_uri(stack, instance_type=GPU_INSTANCE)
    message = str(raised.value)
    assert "xx-moon-1" in message
    assert "us-east-1" in message and "eu-west-1" in message


def test_an_unknown_region_is_refused_by_a_template_rule_before_any_resource(
    gpu_app: SynthesizedApp,
) -> None:
    """Environment-agnostic templates learn the region at deploy time; a Rules assertion then
    refuses the stack with a message that lists the supported regions
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html).
    """
    for stack_name, template in gpu_app.templates.items():
        if "Mappings" not in template:
            continue
        (assertion,) = template["Rules"]["SupportedRegion"]["Assertions"]
        regions, region = assertion["Assert"]["Fn::Contains"]
        assert region == {"Ref": "AWS::Region"}, stack_name
        assert set(regions) == set(listed_regions()), stack_name
        assert "supported regions: af-south-1" in assertion["AssertDescription"], stack_name

"""The Hugging Face PyTorch inference image, resolved per region inside the template.

The image lives in a different ECR registry account in many regions, and in other DNS suffixes
outside the commercial partition. The app is environment-agnostic, so the region is only known at
deploy time: the template carries a CfnMapping (region -> registry account and domain suffix)
generated from the sagemaker SDK's registry by scripts/generate_image_uri_mapping.py, and the
image URI is assembled with Fn::FindInMap on AWS::Region.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import aws_cdk as cdk
from constructs import Construct

from stacks.config import ConfigError
from stacks.instance_storage import instance_family

# What the container runs; the local test environment pins the same versions.
TRANSFORMERS_VERSION = "4.51.3"
PYTORCH_VERSION = "2.6.0"
PY_VERSION = "py312"

IMAGE_URI_MAPPING_PATH = Path(__file__).parent / "image_uri_mapping.json"
_MAPPING_ID = "HuggingFaceInferenceImageRegistry"
ACCOUNT_KEY = "Account"
DOMAIN_SUFFIX_KEY = "DomainSuffix"

Processor = Literal["gpu", "cpu"]

# Graviton families (c7g, m6gd, c6gn, t4g, g5g): the Hugging Face image is built for x86 only.
_ARM_FAMILY = re.compile(r"^[a-z]+\d+g[a-z]*$")


def processor_for(instance_type: str) -> Processor:
    """GPU image for NVIDIA families (ml.g*, ml.p*), CPU image for x86 CPU families.

    Raises ConfigError for types the image cannot run on: Inferentia and Trainium need Neuron
    images, Graviton needs an arm64 image.
    """
    family = instance_family(instance_type)
    if family.startswith(("inf", "trn")):
        raise ConfigError(
            f"instance type: {instance_type!r} is not allowed; Inferentia and Trainium need "
            "Neuron images. Use a GPU type (ml.g*, ml.p*) or an x86 CPU type such as ml.c7i.xlarge"
        )
    if _ARM_FAMILY.fullmatch(family):
        raise ConfigError(
            f"instance type: {instance_type!r} is not allowed; it is a Graviton (arm64) type and "
            "the Hugging Face PyTorch inference image is x86 only. Use a GPU type (ml.g*, ml.p*) "
            "or an x86 CPU type such as ml.c7i.xlarge"
        )
    return "gpu" if family.startswith(("g", "p")) else "cpu"


@cache
def load_image_uri_mapping() -> dict[str, Any]:
    """The generated registry table: repository, image tags per processor, and regions."""
    loaded: dict[str, Any] = json.loads(IMAGE_URI_MAPPING_PATH.read_text(encoding="utf-8"))
    return loaded


def _unsupported_region_message(region: str, regions: list[str]) -> str:
    return (
        f"region: {region} has no Hugging Face PyTorch inference image in zstc's registry table "
        f"(stacks/image_uri_mapping.json); supported regions: {', '.join(sorted(regions))}"
    )


def _require_supported_region(stack: cdk.Stack, regions: list[str]) -> None:
    """Fails early, with the region and the supported ones, instead of an opaque FindInMap.

    An environment-agnostic stack learns its region only at deploy time: a CloudFormation rule
    then refuses the stack (create or update, before any resource changes) with the same
    message. A stack with a known region is checked at synth.
    """
    if not cdk.Token.is_unresolved(stack.region) and stack.region not in regions:
        raise ConfigError(_unsupported_region_message(stack.region, regions))
    cdk.CfnRule(
        stack,
        "SupportedRegion",
        assertions=[
            cdk.CfnRuleAssertion(
                assert_=cdk.Fn.condition_contains(sorted(regions), cdk.Aws.REGION),
                assert_description=_unsupported_region_message("this stack's region", regions),
            )
        ],
    )


def _registry_mapping(scope: Construct) -> cdk.CfnMapping:
    """One CfnMapping per stack, shared by every image reference in it."""
    stack = cdk.Stack.of(scope)
    existing = stack.node.try_find_child(_MAPPING_ID)
    if isinstance(existing, cdk.CfnMapping):
        return existing
    regions = load_image_uri_mapping()["regions"]
    _require_supported_region(stack, list(regions))
    return cdk.CfnMapping(
        stack,
        _MAPPING_ID,
        mapping={
            region: {ACCOUNT_KEY: entry["account"], DOMAIN_SUFFIX_KEY: entry["domain_suffix"]}
            for region, entry in regions.items()
        },
    )


def registry_account(scope: Construct) -> str:
    """The ECR registry account of the image in the deploy region (a token)."""
    return _registry_mapping(scope).find_in_map(cdk.Aws.REGION, ACCOUNT_KEY)


def image_uri(scope: Construct, *, instance_type: str | None) -> str:
    """The image URI for the deploy region and the instance type's processor (a token).

    instance_type None is a serverless endpoint: Serverless Inference runs on CPU only
    (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html, "Feature
    exclusions"), so it gets the CPU image, of the same PyTorch and transformers versions as the
    GPU one (both tags come from the one generated table).
    """
    table = load_image_uri_mapping()
    processor: Processor = "cpu" if instance_type is None else processor_for(instance_type)
    tag = table["image_tags"][processor]
    mapping = _registry_mapping(scope)
    return cdk.Fn.join(
        "",
        [
            mapping.find_in_map(cdk.Aws.REGION, ACCOUNT_KEY),
            ".dkr.ecr.",
            cdk.Aws.REGION,
            ".",
            mapping.find_in_map(cdk.Aws.REGION, DOMAIN_SUFFIX_KEY),
            f"/{table['repository']}:{tag}",
        ],
    )


def image_repository_name() -> str:
    """The image's ECR repository name, the same in every region."""
    repository: str = load_image_uri_mapping()["repository"]
    return repository


def image_repository_arn(scope: Construct) -> str:
    """The ARN of the image's ECR repository, for scoping the pull permissions to it."""
    return cdk.Stack.of(scope).format_arn(
        service="ecr",
        account=registry_account(scope),
        resource="repository",
        resource_name=image_repository_name(),
    )

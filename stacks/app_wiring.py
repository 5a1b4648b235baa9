"""Creates the zstc stacks for one config and wires them together."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.batch_stack import BatchStack
from stacks.config import ZstcConfig, moving_revision_warning
from stacks.data_stack import DataStack
from stacks.endpoint_stack import EndpointStack
from stacks.network_stack import NetworkStack
from zstc.models.artifact import build_model_archive

REPO_ROOT = Path(__file__).resolve().parent.parent
# model.tar.gz is rebuilt on every synth; it is byte-for-byte deterministic, so the CDK asset
# hash only changes when the inference code or the packaged weights change.
MODEL_ARCHIVE_PATH = REPO_ROOT / "build" / "model.tar.gz"


@dataclass(frozen=True)
class ZstcStacks:
    data: DataStack
    network: NetworkStack | None
    endpoint: EndpointStack | None
    batch: BatchStack


def _environment(config: ZstcConfig) -> cdk.Environment | None:
    # The app is environment-agnostic, so synth needs no credentials. Importing an existing VPC
    # is the one exception: Vpc.from_lookup needs the account and region of the credentials.
    if config.vpc_mode != "existing":
        return None
    return cdk.Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
    )


def build_model_archive_for(config: ZstcConfig, output_path: Path = MODEL_ARCHIVE_PATH) -> Path:
    """Builds the model.tar.gz that both the endpoint and batch transform serve."""
    if config.weights_source in ("hub", "s3"):
        # Code only: the weights come from the hub at start-up, or from the deploy-time copy.
        return build_model_archive(output_path)
    if config.model_weights_dir is not None:
        return build_model_archive(output_path, weights_dir=config.model_weights_dir)
    return build_model_archive(
        output_path, hub_model_id=config.model_id, hub_revision=config.model_revision
    )


def build_stacks(
    app: cdk.App, config: ZstcConfig, *, model_archive_path: Path = MODEL_ARCHIVE_PATH
) -> ZstcStacks:
    env = _environment(config)
    prefix = config.stack_prefix
    model_archive = build_model_archive_for(config, model_archive_path)

    data = DataStack(app, f"{prefix}-Data", config=config, env=env)
    network = (
        NetworkStack(
            app,
            f"{prefix}-Network",
            config=config,
            log_encryption_key=data.log_encryption_key,
            env=env,
        )
        if config.vpc_mode != "none"
        else None
    )
    endpoint = (
        EndpointStack(
            app,
            f"{prefix}-Endpoint",
            config=config,
            data=data,
            network=network,
            model_archive=model_archive,
            env=env,
        )
        if config.endpoint_enabled
        else None
    )
    batch = BatchStack(
        app,
        f"{prefix}-Batch",
        config=config,
        data=data,
        network=network,
        model_archive=model_archive,
        env=env,
    )
    revision_warning = moving_revision_warning(config)
    if revision_warning is not None:
        for serving_stack in (endpoint, batch):
            if serving_stack is not None:
                cdk.Annotations.of(serving_stack).add_warning_v2(
                    "zstc:movingModelRevision", revision_warning
                )
    # cdk-nag 3: the AwsSolutions pack runs on every synth and fails it on any finding that is
    # neither fixed nor acknowledged with a reason.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return ZstcStacks(data=data, network=network, endpoint=endpoint, batch=batch)

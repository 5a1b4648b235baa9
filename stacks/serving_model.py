"""A SageMaker Model on the Hugging Face inference image, with its weights and code.

Shared by the endpoint stack and the batch stack; each creates its own (and, with
model_weights=s3, its own copy of the weights), so either stack can be deployed or destroyed
on its own.

Where the container's files come from (docs/lifecycle.md, "Where the weights come from"):
- model_weights=s3: the deploy-time copy in the data bucket (stacks/model_weights.py), read as
  an uncompressed S3 prefix (real-time endpoints) or as its model.tar.gz (batch, serverless);
- model_weights=package or a directory: model.tar.gz with the weights in it;
- model_weights=hub: model.tar.gz with the code only; the container downloads the weights.
Only hub mode needs internet at container start, so every other mode runs with network
isolation unless the caller turns it off (serverless inference supports no isolation).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks.config import ZstcConfig
from stacks.container_image import (
    image_repository_arn,
    image_repository_name,
    image_uri,
)
from stacks.instance_storage import supports_volume_kms_key
from stacks.model_weights import ModelWeightsCopy
from stacks.nag import acknowledge
from zstc.model_server_settings import ModelServerSettings

if TYPE_CHECKING:
    from stacks.data_stack import DataStack
    from stacks.network_stack import NetworkStack

# SageMaker publishes instance and invocation metrics under these namespaces with the execution
# role; the PutMetricData permission is limited to them.
SAGEMAKER_METRIC_NAMESPACES = "/aws/sagemaker/*"


def container_environment(
    *, config: ZstcConfig, model_server: ModelServerSettings
) -> dict[str, str]:
    """The environment variables of the serving container."""
    environment = {
        "ZSTC_MAX_CANDIDATE_LABELS": str(config.max_candidate_labels),
        "ZSTC_MAX_PAIRS_PER_REQUEST": str(config.max_pairs_per_request),
        # Timeout (seconds, and the minutes variable kept consistent) and workers; the local
        # endpoint serves with the same definition (zstc/model_server_settings.py).
        **model_server.environment(),
    }
    if config.model_kind != "auto":
        environment["ZSTC_MODEL_KIND"] = config.model_kind
    if config.precision != "auto":
        environment["ZSTC_PRECISION"] = config.precision
    if config.weights_source == "hub":
        environment["ZSTC_MODEL_ID"] = config.model_id
        environment["ZSTC_MODEL_REVISION"] = config.model_revision
    else:
        # Weights from S3 or packaged: nothing may try the hub (no network under isolation).
        environment["HF_HUB_OFFLINE"] = "1"
    return environment


class ServingModel(Construct):
    """A SageMaker Model on the HF inference image, with its role and (s3 mode) its weights.

    uncompressed_model_data: read the s3-mode copy as an uncompressed S3 prefix; only real-time
    endpoints support that (batch transform and serverless need model.tar.gz).
    network_isolation: None means on unless the weights come from the hub at start-up; pass
    False where the hosting option supports no isolation (serverless inference).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ZstcConfig,
        instance_type: str | None,
        model_server: ModelServerSettings,
        model_archive: Path,
        key: kms.IKey,
        network: NetworkStack | None,
        log_group_name_prefix: str,
        data: DataStack | None = None,
        uncompressed_model_data: bool = False,
        network_isolation: bool | None = None,
    ) -> None:
        """instance_type None: serverless (SageMaker picks the CPU compute; CPU image).
        network_isolation None: on exactly when the weights are packaged; serverless must pass
        False (Serverless Inference supports no network isolation)."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)

        self.artifact = s3_assets.Asset(self, "ModelArchive", path=str(model_archive))
        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="zstc SageMaker model execution role: artifact, key, image, logs, metrics",
        )
        if config.weights_source != "s3":
            # Read on the one model.tar.gz object, not the whole CDK asset bucket. With s3
            # weights the model reads the copy in the data bucket, which carries the code too.
            self.artifact.bucket.grant_read(self.role, self.artifact.s3_object_key)
        # The role uses the data key only for the instances' storage volumes; reading and
        # writing data bucket objects (batch only) is granted by the batch stack. Instance types
        # with NVMe instance storage take no volume key (their storage is hardware-encrypted),
        # so they get no key permission at all.
        if instance_type is None or supports_volume_kms_key(instance_type):
            # SageMaker encrypts the volumes through grants it creates on the role's behalf;
            # only grants for AWS resources are allowed.
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="GrantKeyToSageMakerVolumes",
                    actions=["kms:CreateGrant", "kms:DescribeKey"],
                    resources=[key.key_arn],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                )
            )

        # Pull only from the image's repository in the deploy region's registry. grant_pull also
        # adds ecr:GetAuthorizationToken on "*": that action has no resource-level permissions.
        repository = ecr.Repository.from_repository_attributes(
            self,
            "InferenceImageRepository",
            repository_arn=image_repository_arn(self),
            repository_name=image_repository_name(),
        )
        repository.grant_pull(self.role)

        log_group_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"{log_group_name_prefix}*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                ],
                resources=[log_group_arn, f"{log_group_arn}:log-stream:*"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PutSageMakerMetrics",
                actions=["cloudwatch:PutMetricData"],
                # PutMetricData has no resource-level permissions ("*" is required); the
                # namespace condition is what scopes it.
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": SAGEMAKER_METRIC_NAMESPACES}},
            )
        )

        model_data_url: str | None = self.artifact.s3_object_url
        model_data_source: sagemaker.CfnModel.ModelDataSourceProperty | None = None
        self.weights_copy: ModelWeightsCopy | None = None
        if config.weights_source == "s3":
            if data is None:
                raise ValueError("data: required with model_weights=s3 (the copy's bucket)")
            self.weights_copy = ModelWeightsCopy(
                self,
                "Weights",
                model_id=config.model_id,
                model_revision=config.model_revision,
                bucket_name=data.bucket.bucket_name,
                bucket_arn=data.bucket_arn_for_grants,
                key=key,
                code_archive=self.artifact,
                layout="prefix" if uncompressed_model_data else "archive",
                log_retention_days=config.log_retention_days,
                log_encryption_key=data.log_encryption_key,
            )
            self.weights_copy.grant_read_copies(self.role)
            if uncompressed_model_data:
                model_data_url = None
                model_data_source = sagemaker.CfnModel.ModelDataSourceProperty(
                    s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                        s3_uri=self.weights_copy.s3_uri,
                        s3_data_type="S3Prefix",
                        compression_type="None",
                    )
                )
            else:
                assert self.weights_copy.archive_s3_uri is not None
                model_data_url = self.weights_copy.archive_s3_uri
            cdk.CfnOutput(
                self,
                "ModelCommit",
                value=self.weights_copy.commit,
                description=f"The commit of {config.model_id} this stack's model serves "
                f"(model_revision {config.model_revision!r}, resolved at deploy)",
            )
        if network_isolation is None:
            network_isolation = not config.weights_need_internet_at_start

        vpc_config: sagemaker.CfnModel.VpcConfigProperty | None = None
        if network is not None:
            self._grant_network_interfaces(network=network)
            vpc_config = sagemaker.CfnModel.VpcConfigProperty(
                security_group_ids=[network.security_group.security_group_id],
                subnets=network.subnet_ids,
            )

        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri(self, instance_type=instance_type),
                model_data_url=model_data_url,
                model_data_source=model_data_source,
                mode="SingleModel",
                environment=container_environment(config=config, model_server=model_server),
            ),
            # Weights from S3 or packaged need no network at all, so the container gets none
            # (serverless passes False: Serverless Inference supports no network isolation).
            enable_network_isolation=network_isolation,
            vpc_config=vpc_config,
        )
        # SageMaker checks the role's permissions when it starts containers, so the policy must
        # exist before the model does.
        self.model.node.add_dependency(self.role)
        self.model_name: str = self.model.attr_model_name
        self._acknowledge_nag_findings(log_group_name_prefix=log_group_name_prefix)

    def _acknowledge_nag_findings(self, *, log_group_name_prefix: str) -> None:
        """Wildcards in the execution role that AWS or the CDK grant API require."""
        log_group = (
            "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
            f"{log_group_name_prefix}*"
        )
        findings = {
            "AwsSolutions-IAM5[Action::s3:GetObject*]": "CDK grant_read action set, scoped to "
            "the single model.tar.gz asset object (resource is the object ARN).",
            "AwsSolutions-IAM5[Action::s3:GetBucket*]": "CDK grant_read action set on the asset "
            "bucket ARN only; SageMaker reads the bucket's location and encryption settings.",
            "AwsSolutions-IAM5[Action::s3:List*]": "CDK grant_read action set on the asset "
            "bucket ARN only; list permission lets a missing artifact read as 404 not 403.",
            "AwsSolutions-IAM5[Resource::*]": "Only actions without resource-level permissions "
            "use '*': ecr:GetAuthorizationToken, cloudwatch:PutMetricData (limited by a "
            "cloudwatch:namespace condition to /aws/sagemaker/*) and, in VPC mode, ec2:Describe*.",
            f"AwsSolutions-IAM5[Resource::{log_group}]": "SageMaker names its log groups "
            f"under {log_group_name_prefix}; the role writes only below that prefix.",
            f"AwsSolutions-IAM5[Resource::{log_group}:log-stream:*]": "SageMaker creates one "
            "log stream per instance and container, named at run time, in its own log groups.",
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:"
            "<AWS::AccountId>:network-interface/*]": "SageMaker creates and deletes the ENIs of "
            "the model containers in the zstc subnets; their ids exist only at run time.",
        }
        for rule_id, reason in findings.items():
            acknowledge(self.role, rule_id=rule_id, reason=reason)

    def _grant_network_interfaces(self, *, network: NetworkStack) -> None:
        """ENI permissions SageMaker needs to attach model containers to the VPC."""
        stack = cdk.Stack.of(self)
        network_interfaces = stack.format_arn(
            service="ec2", resource="network-interface", resource_name="*"
        )
        subnet_arns = [
            stack.format_arn(service="ec2", resource="subnet", resource_name=subnet_id)
            for subnet_id in network.subnet_ids
        ]
        security_group_arn = stack.format_arn(
            service="ec2",
            resource="security-group",
            resource_name=network.security_group.security_group_id,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="CreateModelNetworkInterfaces",
                actions=["ec2:CreateNetworkInterface"],
                resources=[network_interfaces, security_group_arn, *subnet_arns],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageModelNetworkInterfaces",
                actions=[
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                resources=[network_interfaces],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeModelNetwork",
                actions=[
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs",
                ],
                # EC2 Describe* actions have no resource-level permissions ("*" is required).
                resources=["*"],
            )
        )

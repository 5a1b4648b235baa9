"""The deploy-time copy of the model's hub files into the data bucket (model_weights=s3).

`make synth` stays offline and needs no credentials: nothing is fetched at synth. At deploy, a
custom resource (code in lambda/model_weights_copy/) resolves `model_revision` to a commit,
copies the files the container loads (the same selection as model.tar.gz packaging,
zstc/models/hub_snapshot.py) with every file's hash checked against the hub's record, and adds the
inference code from model.tar.gz under code/. The SageMaker Model then reads the copy:

- a real-time endpoint as an uncompressed S3 prefix (ModelDataSource.S3DataSource,
  S3DataType S3Prefix, CompressionType None): SageMaker copies the objects to /opt/ml/model
  as they are, with nothing to decompress at instance start
  (https://docs.aws.amazon.com/sagemaker/latest/dg/large-model-inference-uncompressed.html);
- batch transform (and serverless), which cannot use ModelDataSource (botocore sagemaker
  service model, ContainerDefinition.ModelDataSource: "you cannot use ModelDataSource in
  conjunction with SageMaker batch transform, SageMaker serverless endpoints ..."), as a
  model.tar.gz of the same files the copy also writes.

The resolved commit is recorded as the resource's `Commit` attribute and a stack output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from stacks.data_layout import MODEL_DATA_PREFIX
from stacks.function_logs import function_logs_and_role
from stacks.nag import acknowledge
from stacks.owned_provider import owned_provider
from stacks.python_function import python_function
from zstc.models.hub_snapshot import (
    CONFIG_AND_TOKENIZER_PATTERNS,
    PYTORCH_BIN_PATTERNS,
    SAFETENSORS_INDEX,
    SAFETENSORS_PATTERNS,
)

COPY_ASSET_DIR = Path(__file__).resolve().parent.parent / "lambda" / "model_weights_copy"
HUB_ENDPOINT = "https://huggingface.co"
RESOURCE_TYPE = "Custom::ModelWeightsCopy"
# One poll may run this long (Lambda's maximum); a poll stops taking new files before its end,
# and the next one resumes (lambda/model_weights_copy/weights_copy.py).
FUNCTION_TIMEOUT = cdk.Duration.minutes(15)
# Memory also buys network bandwidth and CPU for hashing; one 64 MiB part is held at a time.
FUNCTION_MEMORY_MB = 1024
QUERY_INTERVAL = cdk.Duration.seconds(15)
# The Provider framework's limit for the whole copy (its maximum is 2 hours).
TOTAL_TIMEOUT = cdk.Duration.hours(2)

ModelDataLayout = Literal["prefix", "archive"]


def model_data_root(stack_name: str) -> str:
    """The key prefix under which a stack's weights copies live."""
    return f"{MODEL_DATA_PREFIX}{stack_name}/"


class ModelWeightsCopy(Construct):
    """Copies model_id at model_revision into the data bucket at deploy time."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model_id: str,
        model_revision: str,
        bucket_name: str,
        bucket_arn: str,
        key: kms.IKey,
        code_archive: s3_assets.Asset,
        layout: ModelDataLayout,
        log_retention_days: int,
        log_encryption_key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.root = model_data_root(stack.stack_name)
        # The copy belongs to the model that reads it: its logs go with it.
        removal = cdk.RemovalPolicy.DESTROY
        log_group, role = function_logs_and_role(
            self,
            name="Copy",
            description="zstc model weights copy: hub files into this stack's data bucket prefix",
            log_retention_days=log_retention_days,
            log_encryption_key=log_encryption_key,
            removal=removal,
        )
        self._bucket_arn = bucket_arn
        self._key = key
        self._objects_arn = f"{bucket_arn}/{self.root}*"
        # Write, read and delete (every version) only below this stack's own prefix.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnCopies",
                actions=[
                    "s3:AbortMultipartUpload",
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                    "s3:GetObject",
                    "s3:PutObject",
                ],
                resources=[self._objects_arn],
            )
        )
        role.add_to_policy(
            self._list_own_prefix("ListOwnCopies", ["s3:ListBucket", "s3:ListBucketVersions"])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EncryptOwnCopies",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
            )
        )
        code_archive.bucket.grant_read(role, code_archive.s3_object_key)

        functions = {
            function_id: python_function(
                self,
                function_id,
                asset_dir=COPY_ASSET_DIR,
                handler=handler,
                description=f"zstc model weights copy ({function_id}) of {model_id}",
                role=role,
                log_group=log_group,
                timeout=FUNCTION_TIMEOUT,
                memory_size=FUNCTION_MEMORY_MB,
            )
            for function_id, handler in (
                ("OnEvent", "weights_copy_handler.on_event"),
                ("IsComplete", "weights_copy_handler.is_complete"),
            )
        }
        provider = owned_provider(
            self,
            purpose="model weights copy",
            on_event=functions["OnEvent"],
            is_complete=functions["IsComplete"],
            query_interval=QUERY_INTERVAL,
            total_timeout=TOTAL_TIMEOUT,
            log_retention_days=log_retention_days,
            log_encryption_key=log_encryption_key,
            removal=removal,
        )
        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=RESOURCE_TYPE,
            properties={
                "ModelId": model_id,
                "Revision": model_revision,
                "HubEndpoint": HUB_ENDPOINT,
                "Bucket": bucket_name,
                "KmsKeyArn": key.key_arn,
                "PrefixRoot": self.root,
                "CodeArchiveBucket": code_archive.s3_bucket_name,
                "CodeArchiveKey": code_archive.s3_object_key,
                "Layout": layout,
                "ConfigPatterns": json.dumps(CONFIG_AND_TOKENIZER_PATTERNS),
                "WeightsAlternatives": json.dumps(
                    [[*SAFETENSORS_PATTERNS, SAFETENSORS_INDEX], list(PYTORCH_BIN_PATTERNS)]
                ),
            },
        )
        # The copy's permissions must exist before it runs, and stay until its Delete ran.
        self.resource.node.add_dependency(role)
        self.s3_uri = self.resource.get_att_string("S3Uri")
        self.archive_s3_uri = (
            self.resource.get_att_string("ArchiveS3Uri") if layout == "archive" else None
        )
        self.commit = self.resource.get_att_string("Commit")
        self._acknowledge_nag_findings(role=role)

    def _list_own_prefix(self, sid: str, actions: list[str]) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid=sid,
            actions=actions,
            resources=[self._bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{self.root}*"]}},
        )

    def grant_read_copies(self, role: iam.Role) -> None:
        """Lets a SageMaker execution role read this stack's copies (and only those)."""
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadModelCopies", actions=["s3:GetObject"], resources=[self._objects_arn]
            )
        )
        role.add_to_policy(self._list_own_prefix("ListModelCopies", ["s3:ListBucket"]))
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptModelCopies", actions=["kms:Decrypt"], resources=[self._key.key_arn]
            )
        )
        self._acknowledge_objects_wildcard(role)

    def _acknowledge_objects_wildcard(self, role: iam.Role) -> None:
        stack = cdk.Stack.of(self)
        # The statement's resource as cdk-nag prints it: the import, then the prefix.
        imported = stack.resolve(self._bucket_arn)["Fn::ImportValue"]
        acknowledge(
            role,
            rule_id=f"AwsSolutions-IAM5[Resource::{imported}/{self.root}*]",
            reason=f"The model files are objects under this stack's own prefix {self.root} of "
            "the data bucket, named at deploy time by the weights copy (commit and code hash).",
        )

    def _acknowledge_nag_findings(self, *, role: iam.Role) -> None:
        self._acknowledge_objects_wildcard(role)
        reason = (
            "CDK grant_read action set on the single model.tar.gz asset object, from which "
            "the copy takes the inference code."
        )
        for rule_id in (
            "AwsSolutions-IAM5[Action::s3:GetObject*]",
            "AwsSolutions-IAM5[Action::s3:GetBucket*]",
            "AwsSolutions-IAM5[Action::s3:List*]",
        ):
            acknowledge(role, rule_id=rule_id, reason=reason)

"""Enforces the trigger role's synthesized IAM policy on the AWS calls the trigger makes.

moto authorizes everything, so a missing permission shows up only in a real account. This
fake does what IAM would: before each call it works out the actions the call needs, on which
resources, and refuses with AccessDenied, as S3 does, unless an Allow statement of the
template grants each. The actions per call follow the S3 user guide ("Required permissions
for Amazon S3 API operations",
https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html) and
the CopyObject reference: a copy reads a given version with s3:GetObjectVersion and writes
with s3:PutObject; unless TaggingDirective is REPLACE (the default is COPY) the tag-set of a
tagged source is copied too, which needs s3:GetObjectVersionTagging (s3:GetObjectTagging for
the current version) on the source and s3:PutObjectTagging on the copy
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html). KMS is left out:
moto's S3 does not call KMS.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

Need = tuple[str, str, dict[str, str]]  # action, resource ARN, condition keys


def _resolve(value: Any, tokens: dict[str, str]) -> str:
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_resolve(part, tokens) for part in parts)
    if "Ref" in value:
        return tokens.get(value["Ref"], f"<unresolved {value['Ref']}>")
    if "Fn::ImportValue" in value:
        return tokens.get(value["Fn::ImportValue"], "<unresolved import>")
    return "<unresolved>"


@dataclass
class TemplatePolicy:
    """The Allow statements attached to one role of a synthesized template."""

    statements: list[dict[str, Any]]
    tokens: dict[str, str]
    used: set[str] = field(default_factory=set)

    @classmethod
    def of_role(
        cls, template: dict[str, Any], *, role_id_prefix: str, tokens: dict[str, str]
    ) -> TemplatePolicy:
        statements = [
            statement
            for policy in template["Resources"].values()
            if policy["Type"] == "AWS::IAM::Policy"
            and any(
                str(role.get("Ref", "")).startswith(role_id_prefix)
                for role in policy["Properties"]["Roles"]
            )
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]
        return cls(statements=statements, tokens=tokens)

    def actions(self, *, services: tuple[str, ...]) -> set[str]:
        found = set()
        for statement in self.statements:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                if action.split(":")[0] in services:
                    found.add(action)
        return found

    def _allows(self, statement: dict[str, Any], need: Need) -> bool:
        action, resource, context = need
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        if statement["Effect"] != "Allow":
            # IAM's explicit Deny overrides every Allow; returning False here would let a denied
            # call through, so a Deny must be modelled before a policy with one is enforced.
            raise AssertionError(f"effect {statement['Effect']} is not modelled here")
        if not any(fnmatch.fnmatchcase(action, pattern) for pattern in actions):
            return False
        if not any(
            fnmatch.fnmatchcase(resource, _resolve(pattern, self.tokens)) for pattern in resources
        ):
            return False
        for operator, keys in statement.get("Condition", {}).items():
            if operator != "StringLike":
                raise AssertionError(f"condition operator {operator} is not modelled here")
            for key, patterns in keys.items():
                patterns = patterns if isinstance(patterns, list) else [patterns]
                if key not in context or not any(
                    fnmatch.fnmatchcase(context[key], pattern) for pattern in patterns
                ):
                    return False
        return True

    def authorize(self, needs: list[Need], *, operation: str) -> None:
        for need in needs:
            if not any(self._allows(statement, need) for statement in self.statements):
                raise ClientError(
                    {
                        "Error": {
                            "Code": "AccessDenied",
                            "Message": f"not authorized to perform {need[0]} on {need[1]}",
                        },
                        "ResponseMetadata": {"HTTPStatusCode": 403},
                    },
                    operation,
                )
            self.used.add(need[0])


def _copy_source(source: Any) -> tuple[str, str, str | None]:
    if isinstance(source, dict):
        return source["Bucket"], source["Key"], source.get("VersionId")
    path, _, query = source.partition("?versionId=")
    bucket, _, key = unquote(path.lstrip("/")).partition("/")
    return bucket, key, query or None


def s3_needs(operation: str, params: dict[str, Any], *, source_has_tags: Any) -> list[Need]:
    bucket = params.get("Bucket", "")
    target = f"arn:aws:s3:::{bucket}/{params.get('Key', '')}"
    versioned = "VersionId" in params
    tagging = ["s3:PutObjectTagging"] if params.get("Tagging") else []
    if operation in ("CopyObject", "UploadPartCopy"):
        source_bucket, source_key, source_version = _copy_source(params["CopySource"])
        source = f"arn:aws:s3:::{source_bucket}/{source_key}"
        read = "s3:GetObjectVersion" if source_version else "s3:GetObject"
        needs: list[Need] = [(read, source, {}), ("s3:PutObject", target, {})]
        if operation == "CopyObject":
            directive = params.get("TaggingDirective", "COPY")
            if directive == "COPY" and source_has_tags(source_bucket, source_key, source_version):
                read_tags = (
                    "s3:GetObjectVersionTagging" if source_version else "s3:GetObjectTagging"
                )
                needs += [(read_tags, source, {}), ("s3:PutObjectTagging", target, {})]
            elif directive == "REPLACE" and params.get("Tagging"):
                needs.append(("s3:PutObjectTagging", target, {}))
        return needs
    simple = {
        "HeadObject": ["s3:GetObjectVersion" if versioned else "s3:GetObject"],
        "GetObject": ["s3:GetObjectVersion" if versioned else "s3:GetObject"],
        "PutObject": ["s3:PutObject", *tagging],
        "CreateMultipartUpload": ["s3:PutObject", *tagging],
        "CompleteMultipartUpload": ["s3:PutObject"],
        "AbortMultipartUpload": ["s3:AbortMultipartUpload"],
        "GetObjectTagging": ["s3:GetObjectVersionTagging" if versioned else "s3:GetObjectTagging"],
        "PutObjectTagging": ["s3:PutObjectVersionTagging" if versioned else "s3:PutObjectTagging"],
    }
    if operation == "ListObjectVersions":
        return [
            ("s3:ListBucketVersions", f"arn:aws:s3:::{bucket}", {"s3:prefix": params["Prefix"]})
        ]
    if operation not in simple:
        raise AssertionError(f"S3 {operation}: its permissions are not modelled here")
    return [(action, target, {}) for action in simple[operation]]


def sagemaker_needs(
    operation: str, params: dict[str, Any], *, region: str, account: str
) -> list[Need]:
    # SageMaker lowercases resource names in ARNs.
    name = params["TransformJobName"].lower()
    job = f"arn:aws:sagemaker:{region}:{account}:transform-job/{name}"
    needs: list[Need] = [(f"sagemaker:{operation}", job, {})]
    if operation == "CreateTransformJob" and params.get("Tags"):
        needs.append(("sagemaker:AddTags", job, {}))
    return needs


def enforce(
    policy: TemplatePolicy, *, s3: Any, sagemaker: Any, sns: Any, region: str, account: str
) -> None:
    """Makes the three clients refuse every call the policy does not allow."""

    def source_has_tags(bucket: str, key: str, version: str | None) -> bool:
        # Looked up without the hook: this is IAM's knowledge of the object, not a call.
        arguments = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
        with _Unhooked():
            return bool(s3.get_object_tagging(**arguments)["TagSet"])

    def check_s3(params: dict[str, Any], model: Any, **_: Any) -> None:
        if _Unhooked.active:
            return
        policy.authorize(
            s3_needs(model.name, params, source_has_tags=source_has_tags), operation=model.name
        )

    def check_sagemaker(params: dict[str, Any], model: Any, **_: Any) -> None:
        policy.authorize(
            sagemaker_needs(model.name, params, region=region, account=account),
            operation=model.name,
        )

    def check_sns(params: dict[str, Any], model: Any, **_: Any) -> None:
        policy.authorize([(f"sns:{model.name}", params["TopicArn"], {})], operation=model.name)

    s3.meta.events.register("before-parameter-build.s3", check_s3)
    sagemaker.meta.events.register("before-parameter-build.sagemaker", check_sagemaker)
    sns.meta.events.register("before-parameter-build.sns", check_sns)


class _Unhooked:
    """Lets the fake itself look at an object without being checked."""

    active = False

    def __enter__(self) -> None:
        _Unhooked.active = True

    def __exit__(self, *_: Any) -> None:
        _Unhooked.active = False

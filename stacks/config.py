"""The one typed, validated configuration object of the zstc app.

Configuration comes from `cdk.json` context and `-c key=value` overrides. Values from the
command line always arrive as strings, values from `cdk.json` as JSON types, so every field is
parsed from either. Each error names the key, the bad value and what is allowed. A key that is
not known is an error too, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

# Keys that contain ':' or start with '@' belong to the CDK itself (feature flags such as
# "@aws-cdk/core:..." or "aws:cdk:version-reporting") and are not ours to validate.
_CDK_OWNED_KEY = re.compile(r"^@|:")
# Context keys the CDK CLI itself reads (lib/cli/telemetry/collect-telemetry.ts of aws-cdk).
CDK_CLI_CONTEXT_KEYS = frozenset({"cli-telemetry"})

# SageMaker instance type names, e.g. ml.g4dn.xlarge or ml.c7i.2xlarge.
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[0-9]*x?large$|^ml\.[a-z0-9-]+\.(medium|small)$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$")
_KMS_KEY_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STACK_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,31}$")
# Hugging Face repository ids: "name" or "org/name".
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_REVISION = re.compile(r"^[A-Za-z0-9._/-]{1,100}$")
# A Hugging Face hub commit: the full 40-character git SHA-1. Branches and tags move.
_COMMIT_HASH = re.compile(r"^[0-9a-f]{40}$")

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)

# SageMaker rejects a transform job whose MaxConcurrentTransforms x MaxPayloadInMB exceeds 100.
MAX_TRANSFORM_PAYLOAD_PRODUCT = 100

# Serverless Inference limits, from botocore's sagemaker service model (shapes
# ServerlessMemorySizeInMB, ServerlessMaxConcurrency, ServerlessProvisionedConcurrency) and
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html:
# memory 1024 to 6144 MB "in 1 GB increments", concurrency 1 to 200, provisioned concurrency at
# most MaxConcurrency.
SERVERLESS_MEMORY_STEP_MB = 1024
SERVERLESS_MEMORY_MB_RANGE = (1024, 6144)
SERVERLESS_CONCURRENCY_RANGE = (1, 200)
# Serverless memory when serverless_memory_mb is "auto", by model kind: about twice the measured
# peak of the whole model server (Java frontend, Python worker, largest request;
# benchmarks/serverless_memory.py): all-MiniLM-L6-v2 0.7 GB, bart-large 2.9 GB (bf16 load) and
# 2.2 GB (fp32). docs/serving-modes.md has the numbers. An "auto" kind is sized as NLI.
SERVERLESS_MEMORY_MB_BY_MODEL_KIND = {"nli": 6144, "embedding": 2048}
# AsyncInferenceClientConfig.MaxConcurrentInvocationsPerInstance: 1 to 1000 (botocore shape
# MaxConcurrentInvocationsPerInstance).
ASYNC_CONCURRENT_INVOCATIONS_RANGE = (1, 1000)

# MaxPayloadInMB by model kind when batch_max_payload_mb is "auto", so that one payload finishes
# well inside the 3600-second invocation timeout on the default ml.g4dn.xlarge; derived in
# docs/sizing.md. An NLI model runs every (text, label) pair through the whole model, an
# embedding model each text once. "auto" kind is sized as NLI, the slower of the two.
BATCH_PAYLOAD_MB_BY_MODEL_KIND = {"nli": 1, "embedding": 6}


# model_weights values that are not a directory (docs/lifecycle.md, "Where the weights come from").
WEIGHTS_MODES = ("s3", "hub", "package")


class ConfigError(ValueError):
    """A configuration value that zstc cannot deploy."""


WeightsSource = Literal["s3", "hub", "package"]
VpcMode = Literal["none", "create", "existing"]
RemovalPolicyName = Literal["destroy", "retain"]
BatchStrategy = Literal["MultiRecord", "SingleRecord"]
ModelKind = Literal["auto", "nli", "embedding"]
# The serving precision, passed to the container as ZSTC_PRECISION (inference_code/precision.py,
# docs/cpu-precision.md). int8 is for CPU instance types only.
Precision = Literal["auto", "fp32", "bf16", "fp16", "int8"]
# realtime: an always-on instance endpoint; serverless: SageMaker Serverless Inference (CPU,
# scales to zero); async: SageMaker Asynchronous Inference (requests and answers through S3,
# instances scale to zero). See docs/serving-modes.md.
EndpointMode = Literal["realtime", "serverless", "async"]
ENDPOINT_MODES: tuple[EndpointMode, ...] = ("realtime", "serverless", "async")


@dataclass(frozen=True, kw_only=True)
class ZstcConfig:
    """Everything a user can choose about a zstc deployment. Built once, in app.py."""

    stack_prefix: str = "Zstc"
    # The model: any NLI model (or a sentence-transformers bi-encoder) on the Hugging Face hub.
    model_id: str = "facebook/bart-large-mnli"
    model_revision: str = "main"
    # "s3" (default): at deploy, a custom resource copies the revision's files from the hub into
    # the data bucket, hash-checked; the models read them from S3 with network isolation on.
    # "hub": the container downloads the model at start-up (needs internet egress).
    # "package": synth downloads the snapshot into model.tar.gz (needs the hub at synth time).
    # A directory path: its files are packaged into model.tar.gz as they are.
    # docs/lifecycle.md, "Where the weights come from".
    model_weights: str = "s3"
    # "nli" (a cross-encoder such as bart-large-mnli), "embedding" (a sentence-transformers
    # bi-encoder) or "auto" (the container decides from the model's files).
    model_kind: ModelKind = "auto"
    # "auto" (GPU: by compute capability; CPU: fp32 against bf16 timed at load), "fp32",
    # "bf16", "fp16", or "int8" (dynamic int8 linear layers, CPU instance types only).
    precision: Precision = "auto"
    max_candidate_labels: int = 50
    # (text, label) pairs per real-time JSON request; larger work goes to batch transform.
    # Sized in docs/sizing.md for the 60-second invocation limit on ml.g4dn.xlarge.
    max_pairs_per_request: int = 200

    endpoint_enabled: bool = True
    endpoint_mode: EndpointMode = "realtime"
    endpoint_instance_type: str = "ml.g4dn.xlarge"
    endpoint_instance_count: int = 1
    # false removes the scalable target and its policy: the first of the two deploys that change
    # endpoint_instance_type (docs/lifecycle.md, "Changing the instance type").
    autoscaling_enabled: bool = True
    autoscaling_min_capacity: int = 1
    autoscaling_max_capacity: int = 2
    autoscaling_invocations_per_instance: int = 600
    # Serverless: MemorySizeInMB ("auto" sizes it by model kind), MaxConcurrency, and
    # ProvisionedConcurrency (0: none, every request after an idle period may start cold).
    serverless_memory_mb: int | Literal["auto"] = "auto"
    serverless_max_concurrency: int = 5
    serverless_provisioned_concurrency: int = 0
    # Async: requests one instance works on at once, and the queued requests per instance that
    # target tracking keeps (ApproximateBacklogSizePerInstance).
    async_max_concurrent_invocations: int = 1
    async_backlog_per_instance: int = 5

    batch_instance_type: str = "ml.g4dn.xlarge"
    batch_instance_count: int = 1
    # MaxPayloadInMB: "auto" picks BATCH_PAYLOAD_MB_BY_MODEL_KIND for the model kind.
    batch_max_payload_mb: int | Literal["auto"] = "auto"
    batch_max_concurrent_transforms: int = 1
    batch_strategy: BatchStrategy = "MultiRecord"

    vpc: str = "none"
    kms_key: str = "create"
    removal_policy: RemovalPolicyName = "destroy"
    notification_email: str = ""
    log_retention_days: int = 30

    @property
    def weights_source(self) -> WeightsSource:
        """Where the container's weights come from: the data bucket (copied at deploy), the hub
        at start-up, or model.tar.gz."""
        if self.model_weights in ("s3", "hub"):
            return self.model_weights  # type: ignore[return-value]
        return "package"

    @property
    def weights_packaged(self) -> bool:
        return self.weights_source == "package"

    @property
    def weights_need_internet_at_start(self) -> bool:
        """Only hub mode downloads at container start; every other mode runs isolated."""
        return self.weights_source == "hub"

    @property
    def model_weights_dir(self) -> Path | None:
        """The local directory whose files are packaged as the model, when one was given."""
        if self.model_weights in WEIGHTS_MODES:
            return None
        return Path(self.model_weights).expanduser().resolve()

    @property
    def batch_payload_mb(self) -> int:
        """MaxPayloadInMB of the transform jobs: the configured value, or the kind's default."""
        if self.batch_max_payload_mb != "auto":
            return self.batch_max_payload_mb
        kind = "nli" if self.model_kind == "auto" else self.model_kind
        return min(
            BATCH_PAYLOAD_MB_BY_MODEL_KIND[kind],
            MAX_TRANSFORM_PAYLOAD_PRODUCT // self.batch_max_concurrent_transforms,
        )

    @property
    def serverless_memory_size_mb(self) -> int:
        """MemorySizeInMB of the serverless endpoint: the configured value or the kind's."""
        if self.serverless_memory_mb != "auto":
            return self.serverless_memory_mb
        kind = "nli" if self.model_kind == "auto" else self.model_kind
        return SERVERLESS_MEMORY_MB_BY_MODEL_KIND[kind]

    @property
    def vpc_mode(self) -> VpcMode:
        if self.vpc in ("none", "create"):
            return self.vpc  # type: ignore[return-value]
        return "existing"

    @property
    def existing_vpc_id(self) -> str | None:
        return self.vpc if self.vpc_mode == "existing" else None

    @property
    def existing_kms_key_arn(self) -> str | None:
        return None if self.kms_key == "create" else self.kms_key

    @property
    def retain_data(self) -> bool:
        return self.removal_policy == "retain"


def _as_str(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value.strip()


def _as_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise ConfigError(f"{key}: expected a whole number, got {value!r}")


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def _matching(pattern: re.Pattern[str], allowed: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        text = _as_str(key, value)
        if not pattern.fullmatch(text):
            raise ConfigError(f"{key}: {text!r} is not valid; expected {allowed}")
        return text

    return parse


def _one_of(*allowed: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        text = _as_str(key, value)
        if text not in allowed:
            choices = ", ".join(repr(a) for a in allowed)
            raise ConfigError(f"{key}: {text!r} is not allowed; expected one of {choices}")
        return text

    return parse


def _int_between(low: int, high: int) -> Callable[[str, Any], int]:
    def parse(key: str, value: Any) -> int:
        number = _as_int(key, value)
        if not low <= number <= high:
            raise ConfigError(f"{key}: {number} is out of range; expected {low} to {high}")
        return number

    return parse


def _auto_or_int_between(low: int, high: int) -> Callable[[str, Any], int | str]:
    number_between = _int_between(low, high)

    def parse(key: str, value: Any) -> int | str:
        if isinstance(value, str) and value.strip() == "auto":
            return "auto"
        try:
            return number_between(key, value)
        except ConfigError:
            raise ConfigError(
                f"{key}: {value!r} is not allowed; expected 'auto' or a whole number from "
                f"{low} to {high}"
            ) from None

    return parse


def _model_weights(key: str, value: Any) -> str:
    text = _as_str(key, value)
    if text in WEIGHTS_MODES:
        return text
    if not Path(text).expanduser().is_dir():
        raise ConfigError(
            f"{key}: {text!r} is not allowed; expected 's3', 'hub', 'package' or an existing "
            "directory holding the model files"
        )
    return text


def _vpc(key: str, value: Any) -> str:
    text = _as_str(key, value)
    if text in ("none", "create") or _VPC_ID.fullmatch(text):
        return text
    raise ConfigError(
        f"{key}: {text!r} is not allowed; expected 'none', 'create' or an existing VPC id "
        "such as vpc-0123456789abcdef0"
    )


def _kms_key(key: str, value: Any) -> str:
    text = _as_str(key, value)
    if text == "create" or _KMS_KEY_ARN.fullmatch(text):
        return text
    raise ConfigError(
        f"{key}: {text!r} is not allowed; expected 'create' or a KMS key ARN such as "
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )


def _email(key: str, value: Any) -> str:
    text = _as_str(key, value)
    if text and not _EMAIL.fullmatch(text):
        raise ConfigError(f"{key}: {text!r} is not an email address; leave it empty for none")
    return text


def _retention(key: str, value: Any) -> int:
    days = _as_int(key, value)
    if days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
        raise ConfigError(f"{key}: {days} is not allowed; expected one of {allowed}")
    return days


def _serverless_memory(key: str, value: Any) -> int | str:
    low, high = SERVERLESS_MEMORY_MB_RANGE
    allowed = ", ".join(str(size) for size in range(low, high + 1, SERVERLESS_MEMORY_STEP_MB))
    message = f"{key}: {value!r} is not allowed; expected 'auto' or one of {allowed} (MB)"
    if isinstance(value, str) and value.strip() == "auto":
        return "auto"
    try:
        size = _as_int(key, value)
    except ConfigError:
        raise ConfigError(message) from None
    if not low <= size <= high or size % SERVERLESS_MEMORY_STEP_MB:
        raise ConfigError(message)
    return size


_INSTANCE_TYPE_PARSER = _matching(
    _INSTANCE_TYPE, "a SageMaker instance type such as ml.g4dn.xlarge"
)

_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "stack_prefix": _matching(_STACK_PREFIX, "a letter then up to 31 letters, digits or '-'"),
    "model_id": _matching(_MODEL_ID, "a Hugging Face model id such as facebook/bart-large-mnli"),
    "model_revision": _matching(_REVISION, "a branch, tag or commit hash of the model repository"),
    "model_weights": _model_weights,
    "model_kind": _one_of("auto", "nli", "embedding"),
    "precision": _one_of("auto", "fp32", "bf16", "fp16", "int8"),
    "max_candidate_labels": _int_between(1, 1000),
    "max_pairs_per_request": _int_between(1, 100_000),
    "endpoint_enabled": _as_bool,
    "endpoint_mode": _one_of(*ENDPOINT_MODES),
    "endpoint_instance_type": _INSTANCE_TYPE_PARSER,
    "endpoint_instance_count": _int_between(1, 100),
    "autoscaling_enabled": _as_bool,
    "autoscaling_min_capacity": _int_between(1, 100),
    "autoscaling_max_capacity": _int_between(1, 100),
    "autoscaling_invocations_per_instance": _int_between(1, 100_000),
    "serverless_memory_mb": _serverless_memory,
    "serverless_max_concurrency": _int_between(*SERVERLESS_CONCURRENCY_RANGE),
    "serverless_provisioned_concurrency": _int_between(0, SERVERLESS_CONCURRENCY_RANGE[1]),
    "async_max_concurrent_invocations": _int_between(*ASYNC_CONCURRENT_INVOCATIONS_RANGE),
    "async_backlog_per_instance": _int_between(1, 1000),
    "batch_instance_type": _INSTANCE_TYPE_PARSER,
    "batch_instance_count": _int_between(1, 100),
    "batch_max_payload_mb": _auto_or_int_between(1, 100),
    "batch_max_concurrent_transforms": _int_between(1, 100),
    "batch_strategy": _one_of("MultiRecord", "SingleRecord"),
    "vpc": _vpc,
    "kms_key": _kms_key,
    "removal_policy": _one_of("destroy", "retain"),
    "notification_email": _email,
    "log_retention_days": _retention,
}

CONFIG_KEYS = tuple(f.name for f in fields(ZstcConfig))
assert set(_PARSERS) == set(CONFIG_KEYS), "every config field needs a parser"


# Serverless Inference's documented exclusions ("Feature exclusions",
# https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html): GPUs, VPC
# configuration and network isolation, among others.
SERVERLESS_DOCS = "https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html"


def _check_endpoint_mode(config: ZstcConfig) -> None:
    """Combinations a serving mode cannot deploy: each error names the key, the mode and why."""
    if config.endpoint_mode == "serverless":
        if config.vpc_mode != "none":
            raise ConfigError(
                f"endpoint_mode: 'serverless' is not allowed with vpc={config.vpc!r}; SageMaker "
                "Serverless Inference supports no VPC configuration and no network isolation "
                f"({SERVERLESS_DOCS}). Use endpoint_mode 'async' or 'realtime' inside a VPC, or "
                "set vpc to 'none'"
            )
        if config.serverless_provisioned_concurrency > config.serverless_max_concurrency:
            raise ConfigError(
                "serverless_provisioned_concurrency: "
                f"{config.serverless_provisioned_concurrency} is larger than "
                f"serverless_max_concurrency ({config.serverless_max_concurrency}); with "
                "endpoint_mode 'serverless', SageMaker requires ProvisionedConcurrency <= "
                "MaxConcurrency"
            )
    elif config.serverless_provisioned_concurrency:
        raise ConfigError(
            f"serverless_provisioned_concurrency: {config.serverless_provisioned_concurrency} "
            f"has no effect with endpoint_mode {config.endpoint_mode!r}; it applies only to "
            "endpoint_mode 'serverless'. Set it to 0 or choose endpoint_mode 'serverless'"
        )


def _check_combinations(config: ZstcConfig) -> None:
    # First: a mode that cannot exist at all says so before any detail of its settings.
    _check_endpoint_mode(config)
    if config.autoscaling_min_capacity > config.autoscaling_max_capacity:
        raise ConfigError(
            f"autoscaling_min_capacity: {config.autoscaling_min_capacity} is larger than "
            f"autoscaling_max_capacity ({config.autoscaling_max_capacity})"
        )
    if not (
        config.autoscaling_min_capacity
        <= config.endpoint_instance_count
        <= config.autoscaling_max_capacity
    ):
        raise ConfigError(
            f"endpoint_instance_count: {config.endpoint_instance_count} is outside the "
            f"autoscaling range {config.autoscaling_min_capacity} to "
            f"{config.autoscaling_max_capacity}"
        )
    product = config.batch_payload_mb * config.batch_max_concurrent_transforms
    if product > MAX_TRANSFORM_PAYLOAD_PRODUCT:
        raise ConfigError(
            f"batch_max_payload_mb x batch_max_concurrent_transforms: "
            f"{config.batch_payload_mb} x {config.batch_max_concurrent_transforms} = "
            f"{product}; SageMaker allows at most {MAX_TRANSFORM_PAYLOAD_PRODUCT}"
        )
    _check_int8_runs_on_cpu(config)
    if config.vpc_mode != "none" and config.weights_need_internet_at_start:
        raise ConfigError(
            f"model_weights: 'hub' is not allowed with vpc={config.vpc!r}; a model in a VPC has "
            "no internet, so its weights must come from S3: set model_weights to 's3' (the "
            "default), 'package' or a local model directory"
        )


def _check_int8_runs_on_cpu(config: ZstcConfig) -> None:
    """precision int8 only where every instance that loads the model is a CPU type."""
    if config.precision != "int8":
        return
    # Imported here: container_image imports ConfigError from this module.
    from stacks.container_image import processor_for

    used = {"batch_instance_type": config.batch_instance_type}
    # A serverless endpoint runs on CPUs whatever endpoint_instance_type says.
    if config.endpoint_enabled and config.endpoint_mode != "serverless":
        used["endpoint_instance_type"] = config.endpoint_instance_type
    for key, instance_type in used.items():
        if processor_for(instance_type) == "gpu":
            raise ConfigError(
                f"precision: 'int8' is not allowed with {key}={instance_type!r}; int8 (dynamic "
                "quantization of the linear layers) runs on CPU only. Use a CPU instance type "
                "such as ml.c7i.xlarge, or precision 'auto' on a GPU"
            )


def moving_revision_warning(config: ZstcConfig) -> str | None:
    """A warning when hub mode serves a branch or tag, whose weights can change under it.

    With model_weights=hub every instance start downloads `model_revision` from the hub, so a
    branch such as "main" can serve different weights after any scale-out or restart, while the
    container has internet egress and its role reads the data bucket.
    """
    if config.weights_source != "hub" or _COMMIT_HASH.fullmatch(config.model_revision):
        return None
    return (
        f"model_revision: {config.model_revision!r} is a branch or tag, not a commit hash; with "
        "model_weights=hub every instance start downloads whatever it points to then. Pin the "
        "40-character commit hash, or set model_weights=s3 (the default: the commit is resolved "
        "once at deploy and copied into the data bucket, no internet needed at run time)"
    )


def load_config(context: Mapping[str, Any]) -> ZstcConfig:
    """Builds the config from CDK context (cdk.json plus -c overrides).

    Raises ConfigError on an unknown key, a bad value or a bad combination of values.
    """
    values: dict[str, Any] = {}
    for key, raw in context.items():
        if _CDK_OWNED_KEY.search(key) or key in CDK_CLI_CONTEXT_KEYS:
            continue
        parser = _PARSERS.get(key)
        if parser is None:
            known = ", ".join(sorted(CONFIG_KEYS))
            raise ConfigError(f"{key}: unknown configuration key; known keys are: {known}")
        values[key] = parser(key, raw)
    config = ZstcConfig(**values)
    _check_combinations(config)
    return config

"""Reads the trigger's settings from the environment the batch stack gives the Lambda."""

from __future__ import annotations

from collections.abc import Mapping

from input_limits import InputLimits
from object_routing import DataLayout
from time_budget import TimeBudget
from transform_request import TransformSettings
from trigger import TriggerSettings

BATCH_STRATEGIES = ("MultiRecord", "SingleRecord")
# CreateTransformJob's ModelClientConfig.InvocationsTimeoutInSeconds allows 1 to 3600
# (botocore/data/sagemaker/2017-07-24/service-2.json, shape InvocationsTimeoutInSeconds).
MAX_INVOCATIONS_TIMEOUT_SECONDS = 3600


class SettingsError(ValueError):
    """An environment variable the batch stack sets is missing or wrong."""


def _text(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name}: missing or empty; the batch stack sets it")
    return value


def _count(environ: Mapping[str, str], name: str) -> int:
    value = _text(environ, name)
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name}: {value!r} is not allowed; expected a whole number >= 1")
    return int(value)


def _invocations_timeout(environ: Mapping[str, str]) -> int:
    name = "INVOCATIONS_TIMEOUT_SECONDS"
    seconds = _count(environ, name)
    if seconds > MAX_INVOCATIONS_TIMEOUT_SECONDS:
        raise SettingsError(
            f"{name}: {seconds} is not allowed; the transform job API accepts 1 to "
            f"{MAX_INVOCATIONS_TIMEOUT_SECONDS} seconds"
        )
    return seconds


def _prefix(environ: Mapping[str, str], name: str) -> str:
    value = _text(environ, name)
    if not value.endswith("/") or value.startswith("/"):
        raise SettingsError(f"{name}: {value!r} is not allowed; expected a folder such as 'input/'")
    return value


def load_settings(environ: Mapping[str, str]) -> TriggerSettings:
    strategy = _text(environ, "BATCH_STRATEGY")
    if strategy not in BATCH_STRATEGIES:
        raise SettingsError(
            f"BATCH_STRATEGY: {strategy!r} is not allowed; expected one of {BATCH_STRATEGIES}"
        )
    kms_key_arn = _text(environ, "KMS_KEY_ARN")
    # "true" where the instance type has EBS volumes SageMaker lets us encrypt with our key;
    # decided at synth time by stacks/instance_storage.py.
    encrypt_volume = _text(environ, "VOLUME_KMS_KEY_ENABLED")
    if encrypt_volume not in ("true", "false"):
        raise SettingsError(
            f"VOLUME_KMS_KEY_ENABLED: {encrypt_volume!r} is not allowed; expected true or false"
        )
    return TriggerSettings(
        job_name_prefix=_text(environ, "JOB_NAME_PREFIX"),
        notification_topic_arn=_text(environ, "NOTIFICATION_TOPIC_ARN"),
        limits=InputLimits(
            max_object_bytes=_count(environ, "MAX_OBJECT_BYTES"),
            max_dataset_parts=_count(environ, "MAX_DATASET_PARTS"),
            max_dataset_bytes=_count(environ, "MAX_DATASET_BYTES"),
            max_dataset_listed_versions=_count(environ, "MAX_DATASET_LISTED_VERSIONS"),
        ),
        budget=TimeBudget(record_ms=1000 * _count(environ, "RECORD_BUDGET_SECONDS")),
        layout=DataLayout(
            input_prefix=_prefix(environ, "INPUT_PREFIX"),
            datasets_prefix=_prefix(environ, "DATASETS_PREFIX"),
            output_prefix=_prefix(environ, "OUTPUT_PREFIX"),
            manifests_prefix=_prefix(environ, "MANIFESTS_PREFIX"),
            pinned_inputs_prefix=_prefix(environ, "PINNED_INPUTS_PREFIX"),
        ),
        transform=TransformSettings(
            model_name=_text(environ, "MODEL_NAME"),
            instance_type=_text(environ, "INSTANCE_TYPE"),
            dataset_instance_count=_count(environ, "DATASET_INSTANCE_COUNT"),
            max_payload_mb=_count(environ, "MAX_PAYLOAD_MB"),
            max_concurrent_transforms=_count(environ, "MAX_CONCURRENT_TRANSFORMS"),
            batch_strategy=strategy,
            invocations_timeout_seconds=_invocations_timeout(environ),
            output_kms_key_id=kms_key_arn,
            volume_kms_key_id=kms_key_arn if encrypt_volume == "true" else None,
        ),
    )

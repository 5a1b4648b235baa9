"""The config object: defaults, parsing of -c strings, and every validation error path."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, asdict
from pathlib import Path
from typing import Any

import pytest

from stacks.config import CDK_CLI_CONTEXT_KEYS, CONFIG_KEYS, ConfigError, ZstcConfig, load_config

REPO_ROOT = Path(__file__).resolve().parent.parent


def cdk_json_context() -> dict[str, Any]:
    return dict(json.loads((REPO_ROOT / "cdk.json").read_text())["context"])


def test_cdk_json_documents_exactly_the_defaults() -> None:
    zstc_keys = {
        k: v
        for k, v in cdk_json_context().items()
        if ":" not in k and k not in CDK_CLI_CONTEXT_KEYS
    }
    assert zstc_keys == asdict(ZstcConfig())
    assert load_config(cdk_json_context()) == ZstcConfig()


def test_every_key_is_in_cdk_json() -> None:
    assert set(CONFIG_KEYS) <= set(cdk_json_context())


def test_config_is_frozen() -> None:
    config = load_config({})
    with pytest.raises(FrozenInstanceError):
        config.vpc = "create"  # type: ignore[misc]


def test_command_line_strings_are_parsed_to_types() -> None:
    config = load_config(
        {
            "endpoint_enabled": "false",
            "batch_instance_count": "4",
            "endpoint_instance_type": "ml.c7i.2xlarge",
            "autoscaling_max_capacity": "8",
            "log_retention_days": "90",
            "removal_policy": "retain",
            "notification_email": "ml-team@example.com",
        }
    )
    assert config.endpoint_enabled is False
    assert config.batch_instance_count == 4
    assert config.autoscaling_max_capacity == 8
    assert config.log_retention_days == 90
    assert config.retain_data is True
    assert config.notification_email == "ml-team@example.com"


def test_cdk_owned_context_keys_are_ignored() -> None:
    config = load_config(
        {"@aws-cdk/core:newStyleStackSynthesis": True, "aws:cdk:version-reporting": False}
    )
    assert config == ZstcConfig()


def test_derived_properties() -> None:
    config = load_config({})
    assert (config.vpc_mode, config.existing_vpc_id) == ("none", None)
    # The default copies the weights into the data bucket at deploy: no internet at start.
    assert (config.weights_source, config.weights_packaged) == ("s3", False)
    assert not config.weights_need_internet_at_start
    assert load_config({"model_weights": "hub"}).weights_need_internet_at_start
    assert config.existing_kms_key_arn is None

    arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    config = load_config(
        {"vpc": "vpc-0123456789abcdef0", "model_weights": "package", "kms_key": arn}
    )
    assert (config.vpc_mode, config.existing_vpc_id) == ("existing", "vpc-0123456789abcdef0")
    assert config.weights_packaged and config.model_weights_dir is None
    assert config.existing_kms_key_arn == arn


def test_model_weights_directory(tmp_path: Path) -> None:
    config = load_config({"model_weights": str(tmp_path), "vpc": "create"})
    assert config.weights_source == "package"
    assert config.model_weights_dir == tmp_path.resolve()


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"modle_id": "x"}, "modle_id: unknown configuration key"),
        ({"stack_prefix": "9lives"}, "stack_prefix: '9lives' is not valid"),
        ({"model_id": "not a model"}, "model_id: 'not a model' is not valid"),
        ({"model_revision": "bad revision!"}, "model_revision: 'bad revision!' is not valid"),
        ({"model_weights": "/no/such/dir"}, "model_weights: '/no/such/dir' is not allowed"),
        (
            {"max_candidate_labels": 0},
            "max_candidate_labels: 0 is out of range; expected 1 to 1000",
        ),
        ({"endpoint_enabled": "yes"}, "endpoint_enabled: expected true or false, got 'yes'"),
        ({"endpoint_enabled": 1}, "endpoint_enabled: expected true or false, got 1"),
        ({"endpoint_instance_type": "g4dn.xlarge"}, "endpoint_instance_type: 'g4dn.xlarge'"),
        ({"endpoint_instance_count": "two"}, "endpoint_instance_count: expected a whole number"),
        ({"endpoint_instance_count": True}, "endpoint_instance_count: expected a whole number"),
        ({"endpoint_instance_count": 0}, "endpoint_instance_count: 0 is out of range"),
        ({"autoscaling_min_capacity": 3}, "autoscaling_min_capacity: 3 is larger than"),
        (
            {"endpoint_instance_count": 3, "autoscaling_max_capacity": 2},
            "endpoint_instance_count: 3 is outside the autoscaling range 1 to 2",
        ),
        ({"autoscaling_invocations_per_instance": -1}, "autoscaling_invocations_per_instance: -1"),
        ({"batch_instance_type": "ml.huge"}, "batch_instance_type: 'ml.huge' is not valid"),
        ({"batch_instance_count": 101}, "batch_instance_count: 101 is out of range"),
        (
            {"batch_max_payload_mb": 0},
            "batch_max_payload_mb: 0 is not allowed; expected 'auto' or a whole number from 1 "
            "to 100",
        ),
        ({"batch_max_payload_mb": "big"}, "batch_max_payload_mb: 'big' is not allowed"),
        (
            {"batch_max_payload_mb": 20, "batch_max_concurrent_transforms": 6},
            "20 x 6 = 120; SageMaker allows at most 100",
        ),
        ({"max_pairs_per_request": 0}, "max_pairs_per_request: 0 is out of range; expected 1"),
        ({"max_pairs_per_request": "many"}, "max_pairs_per_request: expected a whole number"),
        ({"model_kind": "bi-encoder"}, "model_kind: 'bi-encoder' is not allowed; expected one"),
        ({"batch_strategy": "multirecord"}, "batch_strategy: 'multirecord' is not allowed"),
        ({"vpc": "vpc-xyz"}, "vpc: 'vpc-xyz' is not allowed; expected 'none', 'create'"),
        (
            {"vpc": "create", "model_weights": "hub"},
            "model_weights: 'hub' is not allowed with vpc='create'",
        ),
        (
            {"vpc": "vpc-0123456789abcdef0", "model_weights": "hub"},
            "model_weights: 'hub' is not allowed with vpc='vpc-0123456789abcdef0'",
        ),
        ({"model_weights": "s4"}, "model_weights: 's4' is not allowed; expected 's3', 'hub'"),
        ({"kms_key": "alias/mine"}, "kms_key: 'alias/mine' is not allowed"),
        ({"removal_policy": "snapshot"}, "removal_policy: 'snapshot' is not allowed"),
        ({"notification_email": "not-an-email"}, "notification_email: 'not-an-email'"),
        ({"log_retention_days": 10}, "log_retention_days: 10 is not allowed"),
        ({"model_id": 42}, "model_id: expected a string, got 42"),
    ],
)
def test_invalid_values_name_key_value_and_allowed(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(context)
    assert message in str(raised.value)


def test_unknown_key_lists_the_known_keys() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"instance_type": "ml.g5.xlarge"})
    assert "endpoint_instance_type" in str(raised.value)
    assert "batch_instance_type" in str(raised.value)


def test_pair_cap_is_parsed_and_reaches_the_container_environment() -> None:
    from stacks.serving_model import container_environment
    from zstc.model_server_settings import REAL_TIME_MODEL_SERVER

    config = load_config({"max_pairs_per_request": "120"})

    assert config.max_pairs_per_request == 120
    assert (
        container_environment(config=config, model_server=REAL_TIME_MODEL_SERVER)[
            "ZSTC_MAX_PAIRS_PER_REQUEST"
        ]
        == "120"
    )


def test_pair_cap_default_is_the_inference_codes_default() -> None:
    # The container falls back to its own default when the variable is unset (local serving);
    # both must be the one sized value.
    from request_contract import DEFAULT_MAX_PAIRS_PER_REQUEST

    assert ZstcConfig().max_pairs_per_request == DEFAULT_MAX_PAIRS_PER_REQUEST


@pytest.mark.parametrize(
    ("context", "payload_mb"),
    [
        ({}, 1),  # the model kind is unknown until the container loads it: sized as NLI
        ({"model_kind": "nli"}, 1),
        ({"model_kind": "embedding"}, 6),
        ({"model_kind": "embedding", "batch_max_concurrent_transforms": 20}, 5),
        ({"model_kind": "embedding", "batch_max_payload_mb": "12"}, 12),
        ({"batch_max_payload_mb": 3}, 3),
        ({"batch_max_payload_mb": "auto", "batch_max_concurrent_transforms": 100}, 1),
    ],
)
def test_batch_payload_defaults_to_the_model_kinds_size(
    context: dict[str, Any], payload_mb: int
) -> None:
    assert load_config(context).batch_payload_mb == payload_mb


def test_model_kind_reaches_the_container_only_when_chosen() -> None:
    from stacks.serving_model import container_environment
    from zstc.model_server_settings import REAL_TIME_MODEL_SERVER

    assert "ZSTC_MODEL_KIND" not in container_environment(
        config=load_config({}), model_server=REAL_TIME_MODEL_SERVER
    )
    chosen = load_config({"model_kind": "embedding"})
    assert (
        container_environment(config=chosen, model_server=REAL_TIME_MODEL_SERVER)["ZSTC_MODEL_KIND"]
        == "embedding"
    )

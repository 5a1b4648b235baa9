"""Which image and which volume-key rule each SageMaker instance type gets."""

from __future__ import annotations

import re

import pytest

from stacks.config import ConfigError, load_config
from stacks.container_image import processor_for
from stacks.instance_storage import supports_volume_kms_key
from stacks.serving_model import container_environment
from zstc.model_server_settings import REAL_TIME_MODEL_SERVER


@pytest.mark.parametrize(
    "instance_type",
    [
        "ml.g4dn.xlarge",  # NVMe instance storage, "dn"
        "ml.g5.2xlarge",  # NVMe instance storage without a "d" in the name
        "ml.g6.xlarge",
        "ml.g6e.xlarge",
        "ml.p4d.24xlarge",
        "ml.p4de.24xlarge",
        "ml.p5.48xlarge",
        "ml.m5d.large",  # the ml.*d.* families
        "ml.c5d.xlarge",
        "ml.r5d.2xlarge",
        "ml.c6id.xlarge",
        "ml.m5dn.large",
    ],
)
def test_instance_storage_types_get_no_volume_key(instance_type: str) -> None:
    assert supports_volume_kms_key(instance_type) is False


@pytest.mark.parametrize(
    "instance_type",
    ["ml.c7i.xlarge", "ml.m5.xlarge", "ml.c5.2xlarge", "ml.r6i.large", "ml.p3.2xlarge"],
)
def test_ebs_only_types_get_the_volume_key(instance_type: str) -> None:
    assert supports_volume_kms_key(instance_type) is True


@pytest.mark.parametrize(
    ("instance_type", "processor"),
    [
        ("ml.g4dn.xlarge", "gpu"),
        ("ml.g5.xlarge", "gpu"),
        ("ml.p3.2xlarge", "gpu"),
        ("ml.p4d.24xlarge", "gpu"),
        ("ml.c7i.xlarge", "cpu"),
        ("ml.m5.large", "cpu"),
        ("ml.r5d.xlarge", "cpu"),
    ],
)
def test_image_processor_follows_the_instance_family(instance_type: str, processor: str) -> None:
    assert processor_for(instance_type) == processor


@pytest.mark.parametrize(
    ("instance_type", "named"),
    [
        ("ml.inf2.xlarge", "Neuron"),
        ("ml.trn1.2xlarge", "Neuron"),
        ("ml.c7g.xlarge", "Graviton"),
        ("ml.m6gd.large", "Graviton"),
        ("ml.g5g.xlarge", "Graviton"),
    ],
)
def test_types_the_image_cannot_run_on_are_config_errors(instance_type: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named) as raised:
        processor_for(instance_type)
    assert instance_type in str(raised.value)


def test_malformed_instance_type_names_the_value() -> None:
    with pytest.raises(ConfigError, match=re.escape("'g4dn.xlarge'")):
        supports_volume_kms_key("g4dn.xlarge")


def test_container_environment_for_hub_weights() -> None:
    config = load_config(
        {"model_id": "MoritzLaurer/deberta-v3-base-zeroshot-v2.0", "model_weights": "hub"}
    )
    assert container_environment(config=config, model_server=REAL_TIME_MODEL_SERVER) == {
        "ZSTC_MODEL_ID": "MoritzLaurer/deberta-v3-base-zeroshot-v2.0",
        "ZSTC_MODEL_REVISION": "main",
        "ZSTC_MAX_CANDIDATE_LABELS": "50",
        "ZSTC_MAX_PAIRS_PER_REQUEST": "200",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS": "60",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "1",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
    }


def test_container_environment_for_packaged_weights() -> None:
    config = load_config({"model_weights": "package", "max_candidate_labels": 20})
    assert container_environment(config=config, model_server=REAL_TIME_MODEL_SERVER) == {
        "HF_HUB_OFFLINE": "1",
        "ZSTC_MAX_CANDIDATE_LABELS": "20",
        "ZSTC_MAX_PAIRS_PER_REQUEST": "200",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS": "60",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "1",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
    }

"""The precision key: parsed, passed to the container as ZSTC_PRECISION, int8 only on CPUs."""

from __future__ import annotations

from typing import get_args

import pytest
from precision import ALLOWED_PRECISIONS, precision_from_env

from stacks.config import ConfigError, Precision, load_config
from stacks.serving_model import container_environment
from zstc.model_server_settings import REAL_TIME_MODEL_SERVER

CPU_TYPES = {"endpoint_instance_type": "ml.c7i.xlarge", "batch_instance_type": "ml.m5.xlarge"}


def _environment(context: dict[str, object]) -> dict[str, str]:
    return container_environment(config=load_config(context), model_server=REAL_TIME_MODEL_SERVER)


def test_the_config_allows_exactly_what_the_container_accepts() -> None:
    assert get_args(Precision) == ALLOWED_PRECISIONS


def test_auto_is_the_default_and_leaves_the_container_to_decide() -> None:
    assert load_config({}).precision == "auto"
    assert "ZSTC_PRECISION" not in _environment({})


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_a_chosen_precision_reaches_the_container(precision: str) -> None:
    environment = _environment({"precision": precision})

    assert environment["ZSTC_PRECISION"] == precision
    # What the container makes of it (inference_code/precision.py reads the same variable).
    assert precision_from_env(environment) == precision


def test_int8_on_cpu_instance_types_reaches_the_container() -> None:
    assert _environment({"precision": "int8", **CPU_TYPES})["ZSTC_PRECISION"] == "int8"


def test_a_bad_precision_names_the_key_and_the_allowed_values() -> None:
    with pytest.raises(ConfigError, match=r"^precision: 'int4' is not allowed; expected one"):
        load_config({"precision": "int4"})


@pytest.mark.parametrize(
    ("context", "key", "instance_type"),
    [
        ({}, "batch_instance_type", "ml.g4dn.xlarge"),  # the GPU defaults
        (
            {"batch_instance_type": "ml.c7i.xlarge"},
            "endpoint_instance_type",
            "ml.g4dn.xlarge",
        ),
        ({"endpoint_instance_type": "ml.c7i.xlarge"}, "batch_instance_type", "ml.g4dn.xlarge"),
        ({**CPU_TYPES, "batch_instance_type": "ml.p4d.24xlarge"}, "batch_instance_type", None),
    ],
)
def test_int8_is_refused_where_a_gpu_instance_loads_the_model(
    context: dict[str, str], key: str, instance_type: str | None
) -> None:
    instance_type = instance_type or context[key]

    with pytest.raises(ConfigError) as raised:
        load_config({"precision": "int8", **context})

    assert str(raised.value) == (
        f"precision: 'int8' is not allowed with {key}={instance_type!r}; int8 (dynamic "
        "quantization of the linear layers) runs on CPU only. Use a CPU instance type such as "
        "ml.c7i.xlarge, or precision 'auto' on a GPU"
    )


def test_a_disabled_gpu_endpoint_does_not_block_int8() -> None:
    config = load_config(
        {"precision": "int8", "endpoint_enabled": False, "batch_instance_type": "ml.c7i.xlarge"}
    )

    assert config.precision == "int8"

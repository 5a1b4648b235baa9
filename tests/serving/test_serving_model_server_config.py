"""The local endpoint's model server configuration is the container's, from one definition.

The container's toolkit writes the MMS properties from the container's environment
(aws/sagemaker-inference-toolkit, model_server.py::_generate_mms_config_properties). These tests
run that same toolkit code on the environment the stacks synthesize for each model, and on the
environment the local endpoint gives its server, and compare what MMS would be told.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks.config import load_config
from stacks.serving_model import container_environment
from zstc.local.endpoint import LocalEndpoint
from zstc.local.toolkit_mms_config import CONTAINER_HANDLER_SERVICE, toolkit_mms_properties
from zstc.model_server_settings import (
    BATCH_MODEL_SERVER,
    REAL_TIME_MODEL_SERVER,
    ModelServerSettings,
    transform_job_environment,
)

# The properties that carry the model server settings, and the one the toolkit derives from
# SAGEMAKER_MAX_PAYLOAD_IN_MB.
SETTING_KEYS = (
    "default_response_timeout",
    "default_response_timeout_seconds",
    "default_workers_per_model",
    "default_service_handler",
    "max_request_size",
)


def _properties(text: str) -> dict[str, str]:
    # java.util.Properties semantics for these simple lines: the last value of a key wins.
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _settings_part(properties: dict[str, str]) -> dict[str, str | None]:
    return {key: properties.get(key) for key in SETTING_KEYS}


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # What a user's shell might carry; the container has none of it.
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_TIMEOUT", "300")
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKERS", "4")
    monkeypatch.setenv("MMS_CONFIG_FILE", "/etc/somebody-elses.properties")


def _local_properties(endpoint: LocalEndpoint, tmp_path: Path) -> dict[str, str]:
    """What the local endpoint writes for its server (without starting it)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    endpoint.management_port = 8081
    server_env = endpoint._server_env(run_dir, tmp_path / "logs")
    assert "MMS_CONFIG_FILE" not in server_env, "MMS would read it instead of --mms-config"
    return _properties(endpoint._write_config(run_dir, server_env).read_text())


def test_the_handler_is_the_one_the_container_passes() -> None:
    from sagemaker_huggingface_inference_toolkit import handler_service

    assert handler_service.__name__ == CONTAINER_HANDLER_SERVICE


def test_local_serve_applies_the_endpoint_models_settings(
    clean_environment: None, tmp_path: Path
) -> None:
    deployed = container_environment(config=load_config({}), model_server=REAL_TIME_MODEL_SERVER)
    container = _properties(toolkit_mms_properties(deployed, cwd=tmp_path))
    local = _local_properties(LocalEndpoint(tmp_path / "model", port=18080), tmp_path)

    assert _settings_part(local) == _settings_part(container)
    assert local["default_response_timeout_seconds"] == "60"
    assert local["default_workers_per_model"] == "1"
    # Only the addresses are this machine's.
    assert local["inference_address"] == "http://127.0.0.1:18080"
    assert container["inference_address"] == "http://0.0.0.0:8080"


def test_local_batch_applies_the_batch_models_settings_and_payload_limit(
    clean_environment: None, tmp_path: Path
) -> None:
    deployed = {
        **container_environment(config=load_config({}), model_server=BATCH_MODEL_SERVER),
        # What SageMaker adds in a transform job with MaxPayloadInMB=6.
        **transform_job_environment(max_payload_mb=6),
    }
    container = _properties(toolkit_mms_properties(deployed, cwd=tmp_path))
    endpoint = LocalEndpoint.for_batch(tmp_path / "model", port=18080, max_payload_mb=5.5)
    local = _local_properties(endpoint, tmp_path)

    assert _settings_part(local) == _settings_part(container)
    assert local["default_response_timeout_seconds"] == "3600"
    assert local["max_request_size"] == str(6 * 1024 * 1024)


def test_minutes_are_the_seconds_rounded_up() -> None:
    assert ModelServerSettings(timeout_seconds=60).environment() == {
        "SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS": "60",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "1",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
    }
    assert ModelServerSettings(timeout_seconds=61).timeout_minutes == 2
    assert ModelServerSettings(timeout_seconds=15).timeout_minutes == 1
    with pytest.raises(ValueError, match="timeout_seconds: 0 must be at least 1"):
        ModelServerSettings(timeout_seconds=0)


def test_the_batch_response_limit_covers_all_error_payloads_and_fits_mms() -> None:
    from zstc.bundled_code import request_contract
    from zstc.model_server_settings import (
        JAVA_INT_MAX,
        MAX_BATCH_RESPONSE_BYTES,
        WORST_CASE_BATCH_RESPONSE_BYTES,
    )

    contract = request_contract()
    # The factor is the contract's: a blank line (1 byte with its newline) gets the shortest
    # error line, 33 bytes with its newline.
    blank = contract.parse_json_line(line="", max_candidate_labels=50)
    error_line = json.dumps({"id": None, "error": blank.error}, separators=(",", ":"))
    assert len(error_line) + 1 == contract.MAX_ERROR_LINE_EXPANSION == 33
    assert WORST_CASE_BATCH_RESPONSE_BYTES == 33 * 100 * 1024 * 1024
    # MMS parses the limit with Integer.parseInt: it must be a Java int.
    assert MAX_BATCH_RESPONSE_BYTES == JAVA_INT_MAX == 2_147_483_647
    assert BATCH_MODEL_SERVER.environment()["MMS_MAX_RESPONSE_SIZE"] == "2147483647"
    for default_payload_mb in (1, 6, 62):
        assert 33 * default_payload_mb * 1024 * 1024 <= MAX_BATCH_RESPONSE_BYTES


def test_the_inference_code_reads_the_variables_these_settings_write() -> None:
    from zstc.bundled_code import inference_module
    from zstc.model_server_settings import (
        MAX_RESPONSE_SIZE_ENV,
        TIMEOUT_MINUTES_ENV,
        TIMEOUT_SECONDS_ENV,
    )

    deadline = inference_module("request_deadline")
    encoding = inference_module("response_encoding")
    assert (deadline.TIMEOUT_SECONDS_ENV, deadline.TIMEOUT_MINUTES_ENV) == (
        TIMEOUT_SECONDS_ENV,
        TIMEOUT_MINUTES_ENV,
    )
    assert encoding.MAX_RESPONSE_SIZE_ENV == MAX_RESPONSE_SIZE_ENV
    environment = REAL_TIME_MODEL_SERVER.environment()
    assert deadline.model_server_timeout_seconds(environment) == 60
    assert deadline.model_server_timeout_seconds({TIMEOUT_MINUTES_ENV: "2"}) == 120
    assert encoding.max_response_bytes_from_env(BATCH_MODEL_SERVER.environment()) == 2**31 - 1

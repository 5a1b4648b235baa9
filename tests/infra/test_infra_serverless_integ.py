"""The serverless integration check (integ/serverless_minilm.py) deploys a serverless MiniLM
endpoint whose readiness resource proves it classifies: its template must say exactly that."""

from __future__ import annotations

from typing import Any

import pytest
from infra_synth import SynthesizedApp, resources_of_type, synth

from integ.cheap_config import bundled_minilm_dir
from integ.serverless_minilm import serverless_integ_config, serverless_integ_context


@pytest.fixture(scope="module")
def serverless_integ() -> SynthesizedApp:
    return synth(serverless_integ_context(bundled_minilm_dir()))


def _resource(app: SynthesizedApp, resource_type: str) -> dict[str, Any]:
    assert app.stacks.endpoint is not None
    (resource,) = resources_of_type(
        app.templates[app.stacks.endpoint.stack_name], resource_type
    ).values()
    properties: dict[str, Any] = resource["Properties"]
    return properties


def test_the_integration_config_is_one_a_user_could_deploy() -> None:
    config = serverless_integ_config()
    assert (config.endpoint_mode, config.model_kind) == ("serverless", "embedding")
    assert config.weights_packaged and config.serverless_memory_size_mb == 2048


def test_serverless_minilm_endpoint_is_small_offline_and_checked_by_readiness(
    serverless_integ: SynthesizedApp,
) -> None:
    (variant,) = _resource(serverless_integ, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 1}
    model = _resource(serverless_integ, "AWS::SageMaker::Model")
    assert model["EnableNetworkIsolation"] is False
    environment = model["PrimaryContainer"]["Environment"]
    assert environment["HF_HUB_OFFLINE"] == "1"
    assert environment["ZSTC_MODEL_KIND"] == "embedding"
    readiness = _resource(serverless_integ, "Custom::EndpointReadiness")
    assert readiness["EndpointMode"] == "serverless"
    assert readiness["EndpointName"] == "ZstcIntegServerless-Endpoint-Serverless"

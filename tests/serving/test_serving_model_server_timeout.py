"""The model server's response timeout, on the real multi-model-server 1.1.11 and the toolkit.

MMS gives up on a request after default_response_timeout_seconds, or, when only
default_response_timeout is set, after that many MINUTES (awslabs/multi-model-server v1.1.11,
ConfigManager.getDefaultResponseTimeoutSeconds). The toolkit writes the first from
SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS and the second from SAGEMAKER_MODEL_SERVER_TIMEOUT
(aws/sagemaker-inference-toolkit, model_server.py::_generate_mms_config_properties). On time-out
WorkerThread answers HTTP 500 "Worker died." and replaces the worker.

The model here is a tiny code/inference.py whose predict_fn sleeps as long as the request asks,
served by the same LocalEndpoint (and so the same toolkit-generated configuration) as zstc's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from zstc.local.endpoint import Invocation, LocalEndpoint, find_free_port
from zstc.model_server_settings import ModelServerSettings

# Short, but above the worker's start-up: MMS bounds the model load (here the toolkit's imports of
# transformers and torch) with the same timeout (WorkerThread.runWorker waits for the LOAD reply
# as for any other).
SHORT_TIMEOUT_S = 15
SLEEPER_INFERENCE = """
import json
import time


def model_fn(model_dir):
    return "sleeper"


def input_fn(input_data, content_type):
    return json.loads(input_data)


def predict_fn(data, model):
    time.sleep(float(data["sleep_s"]))
    return {"slept_s": data["sleep_s"]}


def output_fn(prediction, accept):
    return json.dumps(prediction)
"""


@dataclass(frozen=True, kw_only=True)
class MinutesOnlySettings(ModelServerSettings):
    """What the stacks set before: SAGEMAKER_MODEL_SERVER_TIMEOUT alone, meant as seconds."""

    def environment(self) -> dict[str, str]:
        return {
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": str(self.timeout_seconds),
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(self.workers),
        }


@pytest.fixture(scope="module")
def sleeper_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model_dir = tmp_path_factory.mktemp("sleeper-model")
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text(SLEEPER_INFERENCE)
    return model_dir


def _sleep_request(endpoint: LocalEndpoint, sleep_s: float) -> tuple[Invocation, float]:
    started = time.monotonic()
    answer = endpoint.invoke(json.dumps({"sleep_s": sleep_s}), timeout_s=120)
    return answer, time.monotonic() - started


@pytest.fixture
def short_timeout_endpoint(sleeper_model_dir: Path) -> Iterator[LocalEndpoint]:
    endpoint = LocalEndpoint(
        sleeper_model_dir,
        port=find_free_port(),
        model_server=ModelServerSettings(timeout_seconds=SHORT_TIMEOUT_S),
    )
    with endpoint:
        yield endpoint


def test_the_server_gives_up_after_the_timeout_in_seconds(
    short_timeout_endpoint: LocalEndpoint,
) -> None:
    endpoint = short_timeout_endpoint
    assert endpoint.log_dir is not None
    log_dir = endpoint.log_dir

    answer, elapsed_s = _sleep_request(endpoint, sleep_s=4 * SHORT_TIMEOUT_S)

    assert answer.status == 500 and "Worker died" in answer.text
    # About the timeout: not the minute the request wanted, nor 15 minutes.
    assert SHORT_TIMEOUT_S - 0.5 <= elapsed_s < 2 * SHORT_TIMEOUT_S, elapsed_s
    assert "Backend worker did not respond in given time" in endpoint.server_log.read_text()

    endpoint.stop()
    # A clean stop removes the temporary log directory.
    assert not log_dir.exists()


def test_the_old_minutes_only_setting_lets_a_request_run_past_it(sleeper_model_dir: Path) -> None:
    meant_as_seconds = 3
    endpoint = LocalEndpoint(
        sleeper_model_dir,
        port=find_free_port(),
        model_server=MinutesOnlySettings(timeout_seconds=meant_as_seconds),
    )
    with endpoint:
        answer, elapsed_s = _sleep_request(endpoint, sleep_s=3 * meant_as_seconds)

    # "3" was meant as seconds, but MMS waits 3 minutes: the request ran to its end.
    assert answer.status == 200, answer.text
    assert elapsed_s >= 3 * meant_as_seconds

"""A batch model answers payloads whose responses exceed multi-model-server's default limit.

MMS 1.1.11 refuses a worker's reply larger than max_response_size (6,553,500 bytes unless set;
ConfigManager.getMaxResponseSize, WorkerThread's ModelResponseDecoder) and answers HTTP 500
"Worker died.". The toolkit never sets that limit, and a JSON Lines answer is larger than its
request, so the batch model sets MMS_MAX_RESPONSE_SIZE (zstc/model_server_settings.py). The
model here echoes as many bytes as asked, behind the real MMS and the toolkit's handler.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zstc.local.endpoint import LocalEndpoint, find_free_port
from zstc.model_server_settings import BATCH_MODEL_SERVER

MMS_DEFAULT_MAX_RESPONSE_BYTES = 6_553_500
# A bit more than 6 MB: what a full default payload (MaxPayloadInMB=6) grows to once each line
# gains its scores.
LARGE_RESPONSE_BYTES = 8 * 1024 * 1024
ECHO_INFERENCE = """
import json


def model_fn(model_dir):
    return "echo"


def input_fn(input_data, content_type):
    return json.loads(input_data)


def predict_fn(data, model):
    return "x" * int(data["bytes"])


def output_fn(prediction, accept):
    return prediction
"""


@pytest.fixture(scope="module")
def echo_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model_dir = tmp_path_factory.mktemp("echo-model")
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text(ECHO_INFERENCE)
    return model_dir


def test_the_batch_model_returns_responses_above_the_mms_default(echo_model_dir: Path) -> None:
    assert BATCH_MODEL_SERVER.max_response_bytes is not None
    assert BATCH_MODEL_SERVER.max_response_bytes > LARGE_RESPONSE_BYTES

    with LocalEndpoint.for_batch(echo_model_dir, port=find_free_port(), max_payload_mb=6) as batch:
        answer = batch.invoke(json.dumps({"bytes": LARGE_RESPONSE_BYTES}))

    assert answer.status == 200
    assert len(answer.body) == LARGE_RESPONSE_BYTES


def test_without_the_setting_the_server_refuses_them_as_the_container_did(
    echo_model_dir: Path,
) -> None:
    # The real-time endpoint model keeps MMS's default (SageMaker caps its responses at 6 MB).
    with LocalEndpoint(echo_model_dir, port=find_free_port()) as endpoint:
        within = endpoint.invoke(json.dumps({"bytes": MMS_DEFAULT_MAX_RESPONSE_BYTES}))
        above = endpoint.invoke(json.dumps({"bytes": LARGE_RESPONSE_BYTES}))

    assert within.status == 200
    assert above.status == 500 and "Worker died" in above.text

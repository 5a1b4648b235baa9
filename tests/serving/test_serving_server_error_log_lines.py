"""Marked server errors reach the container's output once per failure, and the endpoint's
metric filter counts exactly those lines.

The real multi-model-server and the Hugging Face toolkit's handler serve a model directory
whose code/inference.py fails in predict_fn: as the server (through inference_code's
server_error_log, which logs SERVER_ERROR_MARKER) or as the caller's mistake (a plain exception,
no marker). What the server prints is what SageMaker sends to the endpoint's log group: each line
a Python worker writes is relayed by the front end (awslabs/multi-model-server,
frontend/server/src/main/java/com/amazonaws/ml/mms/wlm/WorkerLifeCycle.java, ReaderThread). The
filter pattern is the one the endpoint stack synthesizes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudwatch_filter_pattern import cloudwatch_term_matches

from inference_code.server_error_log import SERVER_ERROR_MARKER
from stacks.endpoint_alarms import server_error_filter_pattern
from zstc.local.endpoint import LocalEndpoint, find_free_port

INFERENCE_CODE_DIR = Path(__file__).resolve().parents[2] / "inference_code"

SERVER_FAILURES = 2
CALLER_MISTAKES = 3

# A server failure goes through inference_code's own log_server_error (the marker and the
# exception on one line, the traceback below it) and ServerError; a caller's mistake is a plain
# exception, as a RequestError is.
FAILING_INFERENCE_CODE = """
import json

from server_error_log import ServerError, log_server_error


def model_fn(model_dir):
    return "model"


def input_fn(body, content_type):
    return json.loads(body)


def predict_fn(data, model):
    if data["inputs"] == "fail as the server":
        try:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        except RuntimeError as error:
            log_server_error(stage="predict_fn", error=error)
            raise ServerError() from error
    raise ValueError("parameters.candidate_labels: expected a non-empty list of labels")


def output_fn(prediction, accept):
    return json.dumps(prediction)
"""


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    model_dir = tmp_path_factory.mktemp("failing-model")
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text(FAILING_INFERENCE_CODE, encoding="utf-8")
    shutil.copy(INFERENCE_CODE_DIR / "server_error_log.py", model_dir / "code")
    server = LocalEndpoint(
        model_dir, port=find_free_port(), log_dir=tmp_path_factory.mktemp("failing-logs")
    )
    with server:
        for _ in range(SERVER_FAILURES):
            answer = server.invoke(json.dumps({"inputs": "fail as the server"}))
            assert answer.status == 400, answer.text
            assert SERVER_ERROR_MARKER not in answer.text
        for _ in range(CALLER_MISTAKES):
            answer = server.invoke(json.dumps({"inputs": "a caller's mistake"}))
            assert answer.status == 400, answer.text
            assert "candidate_labels" in answer.text
        log_path: Path = server.server_log
        yield log_path.read_text(encoding="utf-8", errors="replace").splitlines()


def test_the_filter_counts_one_line_per_server_failure(server_log: list[str]) -> None:
    matching = [
        line for line in server_log if cloudwatch_term_matches(server_error_filter_pattern(), line)
    ]
    assert len(matching) == SERVER_FAILURES, "\n".join(matching)
    for line in matching:
        # Relayed from the worker by the front end, as the container prints it.
        assert "com.amazonaws.ml.mms.wlm.WorkerLifeCycle - " in line
        assert f"{SERVER_ERROR_MARKER} stage=predict_fn error=RuntimeError" in line


def test_caller_mistakes_and_tracebacks_are_logged_without_the_marker(
    server_log: list[str],
) -> None:
    # The toolkit logs both kinds of failure (with their tracebacks); only the marked line of
    # each server failure may count.
    assert sum("candidate_labels" in line for line in server_log) >= CALLER_MISTAKES
    assert any("Traceback" in line for line in server_log)

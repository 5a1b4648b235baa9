"""The standing fuzz test against the real local model server, on a smaller sample.

The same generated bodies as the in-process fuzz test (tests/fuzz_bodies.py) go over
HTTP to multi-model-server with the toolkit's handler service and zstc's code, as on the
endpoint. This is where a lone surrogate in a response used to kill the worker process: the
server encodes the body after the handler returned. Seeded (derandomize=True) and bounded.

On top of the in-process checks: every answer is 200 or 400 (a dead worker answers 500 or
503), a 200 carries the body's real Content-Type, and the worker that loaded the model at
start-up is still the one answering at the end (the server logs a new "loaded" line for every
worker it has to start again).
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzz_bodies import (
    MAX_WORK_PER_REQUEST,
    FuzzLine,
    bodies_with_one_bad_byte_line,
    check_error_message,
    check_json_answer,
    check_json_lines_answer,
    json_body,
    json_lines_bodies,
    json_lines_body,
    oversized_json_lines_body,
)
from hypothesis import HealthCheck, given, settings

from zstc.local.endpoint import LocalEndpoint, find_free_port
from zstc.models.artifact import prepare_model_dir

JSON = "application/json"
JSON_LINES = "application/jsonlines"
# multi-model-server's worker prints this once the handler's initialize ran; a worker that died
# and was started again prints it again (zstc/local/endpoint.py waits for it the same way).
WORKER_LOADED = "Model model loaded io_fd="
SERVER_FUZZ_SETTINGS = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


@pytest.fixture(scope="module")
def tally() -> Iterator[Counter[str]]:
    """What the run sent and got back; printed at the end (pytest -s shows it)."""
    counts: Counter[str] = Counter()
    yield counts
    summary = ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))
    print(f"\nfuzz on the local model server: {summary}")


@pytest.fixture(scope="module")
def endpoint(
    tiny_nli_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalEndpoint]:
    model_dir = prepare_model_dir(
        tmp_path_factory.mktemp("fuzz-endpoint-model"), weights_dir=tiny_nli_model_dir
    )
    server = LocalEndpoint(
        model_dir,
        port=find_free_port(),
        env={"ZSTC_PRECISION": "fp32"},
        log_dir=tmp_path_factory.mktemp("fuzz-endpoint-logs"),
    )
    with server:
        yield server


def _assert_worker_alive(endpoint: LocalEndpoint) -> None:
    with urllib.request.urlopen(f"{endpoint.url}/ping", timeout=10) as response:
        assert json.loads(response.read())["status"] == "Healthy"
    log = endpoint.server_log.read_text(encoding="utf-8", errors="replace")
    assert log.count(WORKER_LOADED) == 1, "the model worker died and was started again"


@SERVER_FUZZ_SETTINGS
@given(lines=json_lines_bodies)
def test_fuzz_json_lines_on_the_model_server(
    endpoint: LocalEndpoint, tally: Counter[str], lines: list[FuzzLine]
) -> None:
    _send_json_lines(endpoint, tally, lines)


def _send_json_lines(endpoint: LocalEndpoint, tally: Counter[str], lines: list[FuzzLine]) -> None:
    answer = endpoint.invoke(json_lines_body(lines), content_type=JSON_LINES, accept=JSON_LINES)
    tally["JSON Lines bodies"] += 1
    tally["JSON Lines lines"] += len(lines)
    if not any(line.data.strip() for line in lines):
        assert answer.status == 400, answer.text
        return
    assert answer.status == 200, answer.text
    assert answer.content_type == JSON_LINES
    tally.update(
        f"JSON Lines {outcome} lines" for outcome in check_json_lines_answer(lines, answer.text)
    )


@SERVER_FUZZ_SETTINGS
@given(body=json_body())
def test_fuzz_json_on_the_model_server(
    endpoint: LocalEndpoint, tally: Counter[str], body: str
) -> None:
    answer = endpoint.invoke(body, content_type=JSON)
    tally["JSON bodies"] += 1
    assert answer.status in (200, 400), answer.text
    tally[f"JSON {answer.status}"] += 1
    if answer.status == 400:
        check_error_message(json.loads(answer.body)["message"])
        return
    assert answer.content_type == JSON
    check_json_answer(body, answer.text)


@settings(SERVER_FUZZ_SETTINGS, max_examples=10)
@given(lines=bodies_with_one_bad_byte_line())
def test_fuzz_a_line_that_is_not_utf8_fails_alone_on_the_model_server(
    endpoint: LocalEndpoint, tally: Counter[str], lines: list[FuzzLine]
) -> None:
    _send_json_lines(endpoint, tally, lines)


@settings(SERVER_FUZZ_SETTINGS, max_examples=8)
@given(body=oversized_json_lines_body())
def test_fuzz_oversized_json_lines_get_400_on_the_model_server(
    endpoint: LocalEndpoint, tally: Counter[str], body: bytes
) -> None:
    answer = endpoint.invoke(body, content_type=JSON_LINES, accept=JSON_LINES)
    tally["oversized JSON Lines bodies"] += 1
    assert answer.status == 400, answer.text[:500]
    message = json.loads(answer.body)["message"]
    check_error_message(message)
    assert f"limit of {MAX_WORK_PER_REQUEST} per real-time request" in message


def test_the_worker_survived_the_fuzz_run(endpoint: LocalEndpoint) -> None:
    _assert_worker_alive(endpoint)

"""The reproducers of oversized work, oversized answers and bad bytes, over HTTP against the real
local model server (multi-model-server 1.1.11 with the toolkit's handler and zstc's code).

Each once killed the worker (HTTP 500 "Worker died.", a restart and seconds without service)
or hogged it, or answered with Python's decoder text. Every answer here must be a 200 or a 400
that names the limit or the byte, and the worker that loaded the model must still be the one
answering at the end. One server for the module: MMS_MAX_RESPONSE_SIZE is lowered to 200,000
bytes so that an answer over the model server's limit is cheap to build, and the model server
enforces it exactly as it enforces its default of 6,553,500.
"""

from __future__ import annotations

import gzip
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from zstc.local.endpoint import LocalEndpoint, find_free_port
from zstc.models.artifact import prepare_model_dir

JSON = "application/json"
JSON_LINES = "application/jsonlines"
RESPONSE_LIMIT = 200_000
WORKER_LOADED = "Model model loaded io_fd="
PARAMETERS = {"candidate_labels": ["Health", "Career"]}
ONE_LABEL = {"candidate_labels": ["Health"]}


@pytest.fixture(scope="module")
def endpoint(
    tiny_nli_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalEndpoint]:
    model_dir = prepare_model_dir(
        tmp_path_factory.mktemp("bounded-endpoint-model"), weights_dir=tiny_nli_model_dir
    )
    server = LocalEndpoint(
        model_dir,
        port=find_free_port(),
        env={"ZSTC_PRECISION": "fp32", "MMS_MAX_RESPONSE_SIZE": str(RESPONSE_LIMIT)},
        log_dir=tmp_path_factory.mktemp("bounded-endpoint-logs"),
    )
    with server:
        yield server


def _message(answer: object) -> str:
    assert answer.status == 400, answer.text
    return str(json.loads(answer.body)["message"])


def _lines(records: list[str]) -> bytes:
    return ("\n".join(records) + "\n").encode()


def test_reproducers_get_a_400_naming_the_limit_and_the_worker_lives(
    endpoint: LocalEndpoint,
) -> None:
    # 100,000 "{}" lines (300 KB) once made a 7 MB answer.
    empty_objects = endpoint.invoke(b"{}\n" * 100_000, content_type=JSON_LINES, accept=JSON_LINES)
    assert "100000 JSON Lines records" in _message(empty_objects)

    # 5,000 valid lines of 50 labels (1.57 MB) once died too.
    labels = [f"label {index}" for index in range(50)]
    record = json.dumps({"inputs": "a text", "parameters": {"candidate_labels": labels}})
    many = endpoint.invoke(_lines([record] * 5_000), content_type=JSON_LINES, accept=JSON_LINES)
    assert "limit of 200 per real-time request" in _message(many)

    # 150 lines of 1.5 KB texts: 150 pairs, within the cap, but the answer (each text echoed as
    # "sequence") is over the 200,000-byte response limit this server has.
    texts = [
        json.dumps({"id": i, "inputs": "w " * 750, "parameters": ONE_LABEL}) for i in range(75)
    ]
    oversized = endpoint.invoke(_lines(texts * 2), content_type=JSON_LINES, accept=JSON_LINES)
    message = _message(oversized)
    assert f"response limit of {RESPONSE_LIMIT} bytes" in message
    assert "MMS_MAX_RESPONSE_SIZE" in message

    # "{0}" x 20,000 with 10 labels of 100 characters (241 KB) once hit the 60 s timeout.
    amplifying = {
        "inputs": "t",
        "parameters": {
            "candidate_labels": [f"{index:02d}" + "L" * 98 for index in range(10)],
            "hypothesis_template": "{0}" * 20_000,
        },
    }
    started = time.monotonic()
    template = endpoint.invoke(json.dumps(amplifying), content_type=JSON)
    assert "limit of 300" in _message(template)
    assert time.monotonic() - started < 5

    _assert_worker_alive(endpoint)


def test_bad_bytes_fail_only_their_line_or_name_the_offset(endpoint: LocalEndpoint) -> None:
    good = json.dumps({"id": "good", "inputs": "save money", "parameters": PARAMETERS}).encode()
    bad = b'{"id": "bad", "inputs": "caf\xe9", "parameters": {"candidate_labels": ["a"]}}'
    mixed = endpoint.invoke(
        good + b"\n" + bad + b"\n" + good, content_type=JSON_LINES, accept=JSON_LINES
    )
    assert mixed.status == 200, mixed.text
    answers = [json.loads(line) for line in mixed.text.split("\n")]
    assert ["labels" in answer for answer in answers] == [True, False, True]
    assert "not valid UTF-8: byte 0xE9 at byte offset 28" in answers[1]["error"]

    # application/json exactly: the content type the toolkit used to decode itself.
    json_body = b'{"inputs": "caf\xe9", "parameters": {"candidate_labels": ["a"]}}'
    message = _message(endpoint.invoke(json_body, content_type=JSON))
    assert message.startswith("request body is not valid UTF-8: byte 0xE9 at byte offset 15")
    assert "codec" not in message

    compressed = endpoint.invoke(gzip.compress(good), content_type=JSON)
    assert "gzip-compressed" in _message(compressed)
    wide = endpoint.invoke(
        good.decode().encode("utf-16"), content_type=JSON_LINES, accept=JSON_LINES
    )
    assert "UTF-16" in _message(wide)

    _assert_worker_alive(endpoint)


def _assert_worker_alive(endpoint: LocalEndpoint) -> None:
    with urllib.request.urlopen(f"{endpoint.url}/ping", timeout=10) as response:
        assert json.loads(response.read())["status"] == "Healthy"
    log = endpoint.server_log.read_text(encoding="utf-8", errors="replace")
    assert log.count(WORKER_LOADED) == 1, "the model worker died and was started again"

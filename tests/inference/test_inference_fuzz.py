"""The standing fuzz test, in-process: generated hostile bodies through the toolkit's handler.

Hypothesis generates JSON and JSON Lines bodies (fuzz_bodies.py) and sends them through the real
HuggingFaceHandlerService with zstc's code/ loaded, as multi-model-server calls it, and encodes
each response as UTF-8 as the server does (a response it cannot encode kills the real worker).
Seeded (derandomize=True: the same examples on every run) and bounded (max_examples), so it runs
in `make test` on every run in well under a minute.

Every answer must be:
- JSON Lines: 200, exactly one output line per input line, in order, each with the id it was
  sent (null when the line was not representable JSON), each a classification or an error line;
- JSON: 200 with the right shape, or 400 with a bounded message that names the problem;
- never a server error (hostile input is the caller's problem), never raw exception text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

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
from inference_test_support import FakeMmsContext, handle, toolkit_handler_service
from mms.service import PredictionException
from nli_label_orders import NliModelFactory
from sagemaker_huggingface_inference_toolkit.handler_service import HuggingFaceHandlerService

JSON = "application/json"
JSON_LINES = "application/jsonlines"
FUZZ_SETTINGS = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Handler = tuple[HuggingFaceHandlerService, FakeMmsContext]


@pytest.fixture(scope="module")
def handler(
    make_tiny_nli_model: NliModelFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Handler]:
    with toolkit_handler_service(
        weights_dir=make_tiny_nli_model(seed=13),
        target=tmp_path_factory.mktemp("fuzz-model"),
        env={"ZSTC_PRECISION": "fp32"},
    ) as service:
        yield service


@pytest.fixture(scope="module")
def tally() -> Iterator[Counter[str]]:
    """What the run sent and got back; printed at the end (pytest -s shows it)."""
    counts: Counter[str] = Counter()
    yield counts
    print(
        "\nfuzz in process:", ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))
    )


def send_json_lines(handler: Handler, lines: list[FuzzLine], tally: Counter[str]) -> None:
    tally["JSON Lines bodies"] += 1
    tally["JSON Lines lines"] += len(lines)
    body = json_lines_body(lines)
    if not any(line.data.strip() for line in lines):
        with pytest.raises(PredictionException) as raised:
            handle(handler, body, content_type=JSON_LINES, accept=JSON_LINES)
        assert raised.value.error_code == 400
        assert "no JSON Lines records" in raised.value.message
        return
    response = handle(handler, body, content_type=JSON_LINES, accept=JSON_LINES)
    outcomes = check_json_lines_answer(lines, response)
    tally.update(f"JSON Lines {outcome} lines" for outcome in outcomes)


def send_json(handler: Handler, body: str, tally: Counter[str]) -> None:
    tally["JSON bodies"] += 1
    try:
        response = handle(handler, body.encode("utf-8"), content_type=JSON)
    except PredictionException as error:
        assert error.error_code == 400
        check_error_message(str(error.message))
        tally["JSON 400"] += 1
        return
    check_json_answer(body, response)
    tally["JSON 200"] += 1


@FUZZ_SETTINGS
@given(lines=json_lines_bodies)
def test_fuzz_json_lines_in_process(
    handler: Handler, tally: Counter[str], lines: list[FuzzLine]
) -> None:
    send_json_lines(handler, lines, tally)


@FUZZ_SETTINGS
@given(body=json_body())
def test_fuzz_json_in_process(handler: Handler, tally: Counter[str], body: str) -> None:
    send_json(handler, body, tally)


@FUZZ_SETTINGS
@given(lines=bodies_with_one_bad_byte_line())
def test_fuzz_a_line_that_is_not_utf8_fails_alone_in_process(
    handler: Handler, tally: Counter[str], lines: list[FuzzLine]
) -> None:
    send_json_lines(handler, lines, tally)


@settings(FUZZ_SETTINGS, max_examples=25)
@given(body=oversized_json_lines_body())
def test_fuzz_oversized_json_lines_get_400_naming_the_limit_in_process(
    handler: Handler, tally: Counter[str], body: bytes
) -> None:
    tally["oversized JSON Lines bodies"] += 1
    with pytest.raises(PredictionException) as raised:
        handle(handler, body, content_type=JSON_LINES, accept=JSON_LINES)
    assert raised.value.error_code == 400
    check_error_message(str(raised.value.message))
    assert f"limit of {MAX_WORK_PER_REQUEST} per real-time request" in raised.value.message

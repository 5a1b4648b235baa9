"""The .out file of a batch transform job: one line per input line, assembled as SageMaker does.

With SplitType=Line and BatchStrategy=MultiRecord, SageMaker sends the input file as payloads of
whole lines; with AssembleWith=Line it writes each payload's response followed by a newline
("To add a newline character at the end of every transformed record, specify Line":
docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformOutput.html). A response that
ends with its own newline therefore leaves a blank line between payloads. Here the payload
responses come from the toolkit's real handler service and are joined the same way.

pandas.read_json(lines=True) skips blank lines, so it cannot see that defect alone; the strict
reader below splits on "\\n" only (as SageMaker splits) and parses every line.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from inference_test_support import FakeMmsContext, handle, toolkit_handler_service
from nli_label_orders import NliModelFactory
from sagemaker_huggingface_inference_toolkit.handler_service import HuggingFaceHandlerService

JSON_LINES = "application/jsonlines"
LABELS = ["Health", "Career", "Finance"]

Handler = tuple[HuggingFaceHandlerService, FakeMmsContext]


@pytest.fixture(scope="module")
def handler(
    make_tiny_nli_model: NliModelFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Handler]:
    with toolkit_handler_service(
        weights_dir=make_tiny_nli_model(seed=5),
        target=tmp_path_factory.mktemp("assembly-model"),
        env={"ZSTC_PRECISION": "fp32"},
    ) as service:
        yield service


def _input_lines() -> list[str]:
    lines = []
    for index in range(11):
        if index == 4:
            lines.append("{broken")
        elif index == 7:
            lines.append(json.dumps({"id": index, "inputs": "x", "parameters": {}}))
        else:
            parameters = {"candidate_labels": LABELS}
            lines.append(
                json.dumps({"id": index, "inputs": f"text {index}", "parameters": parameters})
            )
    return lines


def assemble_like_batch_transform(handler: Handler, lines: list[str], per_payload: int) -> str:
    """MultiRecord payloads of whole lines; each response written followed by a newline."""
    out = io.StringIO()
    for start in range(0, len(lines), per_payload):
        payload = "\n".join(lines[start : start + per_payload]) + "\n"
        response = handle(
            handler, payload.encode("utf-8"), content_type=JSON_LINES, accept=JSON_LINES
        )
        out.write(response)
        out.write("\n")
    return out.getvalue()


def read_strictly(assembled: str) -> list[dict[str, Any]]:
    """Every "\\n"-terminated line must be one JSON object; a blank line is an error."""
    assert assembled.endswith("\n")
    records = []
    for number, line in enumerate(assembled[:-1].split("\n"), start=1):
        assert line.strip(), f"line {number} of the .out file is blank"
        records.append(json.loads(line))
    return records


@pytest.mark.parametrize("per_payload", [1, 3, 5, 11])
def test_the_out_file_has_one_line_per_input_line_in_order(
    handler: Handler, per_payload: int
) -> None:
    lines = _input_lines()

    assembled = assemble_like_batch_transform(handler, lines, per_payload)

    records = read_strictly(assembled)
    assert len(records) == len(lines)
    assert [record["id"] for record in records] == [
        None if index == 4 else index for index in range(len(lines))
    ]
    assert "error" in records[4] and "error" in records[7]
    assert all("labels" in records[index] for index in range(len(lines)) if index not in (4, 7))
    frame = pd.read_json(io.StringIO(assembled), lines=True)
    assert len(frame) == len(lines)

"""`zstc classify --local` and `zstc local batch` against a real local endpoint (tiny NLI model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zstc.cli import main
from zstc.local.batch import pack_payloads
from zstc.local.endpoint import LocalEndpoint

LABELS = ["Health", "Career", "Finance"]


def _record(index: int, text: str | None = None) -> str:
    return json.dumps(
        {
            "id": f"r{index}",
            "inputs": text or f"resolution {index}: run more, spend less, learn python",
            "parameters": {"candidate_labels": LABELS},
        }
    )


def test_classify_local_prints_every_label_ranked(
    local_endpoint: LocalEndpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["classify", "run a marathon", "--labels", ",".join(LABELS), "--local", local_endpoint.url]
    )
    assert code == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split() == ["label", "score"]
    assert sorted(row.split()[0] for row in rows[1:]) == sorted(LABELS)
    scores = [float(row.split()[1]) for row in rows[1:]]
    assert scores == sorted(scores, reverse=True)
    assert abs(sum(scores) - 1.0) < 0.01  # single-label scores are a softmax


def test_classify_local_json_is_the_endpoints_own_answer(
    local_endpoint: LocalEndpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    request = {
        "inputs": "save money",
        "parameters": {"candidate_labels": LABELS, "multi_label": True},
    }
    direct = json.loads(local_endpoint.invoke(json.dumps(request)).body)
    code = main(
        [
            "classify",
            "save money",
            "--labels",
            ",".join(LABELS),
            "--multi-label",
            "--json",
            "--local",
            local_endpoint.url,
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out) == direct


def test_classify_local_bad_template_is_caught_before_sending(
    local_endpoint: LocalEndpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["classify", "x", "--labels", "a,b", "--template", "no slot", "--local", local_endpoint.url]
    )
    assert code == 2
    # The endpoint's own template rule and message (request_contract), refused before sending.
    assert "--template: \"parameters.hypothesis_template\" 'no slot' has no {}" in (
        capsys.readouterr().err
    )


def test_local_batch_answers_every_line_in_order_with_error_lines_in_place(
    local_endpoint: LocalEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [_record(i) for i in range(12)]
    lines[3] = "{not json"
    lines[7] = json.dumps({"id": "r7", "inputs": "no labels"})
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"

    code = main(
        [
            "local",
            "batch",
            str(source),
            "-o",
            str(out),
            "--url",
            local_endpoint.url,
            "--no-progress",
        ]
    )
    assert code == 0
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(answers) == 12
    for index, answer in enumerate(answers):
        if index == 3:
            assert set(answer) == {"id", "error"} and "not valid JSON" in answer["error"]
        elif index == 7:
            assert answer["id"] == "r7" and "candidate_labels" in answer["error"]
        else:
            assert answer["id"] == f"r{index}"
            assert sorted(answer["labels"]) == sorted(LABELS)
    assert "12 lines, 10 ok, 2 errors in 1 payload" in capsys.readouterr().out


def test_small_payload_limit_splits_requests_without_changing_the_output(
    local_endpoint: LocalEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [_record(i) for i in range(9)]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    one_request = tmp_path / "one.jsonl"
    many_requests = tmp_path / "many.jsonl"
    main(["local", "batch", str(source), "-o", str(one_request), "--url", local_endpoint.url])
    limit_mb = 300 / (1024 * 1024)  # 300 bytes: two records per request at most
    code = main(
        [
            "local",
            "batch",
            str(source),
            "-o",
            str(many_requests),
            "--url",
            local_endpoint.url,
            "--max-payload-mb",
            str(limit_mb),
        ]
    )
    assert code == 0
    assert "in 5 payloads" in capsys.readouterr().out
    assert many_requests.read_text() == one_request.read_text()


def test_payloads_never_exceed_the_limit_and_keep_the_order() -> None:
    lines = [_record(i) for i in range(20)]
    limit_mb = 400 / (1024 * 1024)
    payloads = list(pack_payloads(lines, max_payload_mb=limit_mb))
    assert all(len(payload.body) <= 400 for payload in payloads)
    assert [line for payload in payloads for line in payload.lines] == lines
    assert [payload.first_line for payload in payloads][:2] == [1, 1 + len(payloads[0].lines)]


def test_a_record_larger_than_the_payload_limit_is_an_error_naming_the_line(
    local_endpoint: LocalEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(_record(1) + "\n" + _record(2, text="word " * 400) + "\n")
    out = tmp_path / "out.jsonl"
    code = main(
        [
            "local",
            "batch",
            str(source),
            "-o",
            str(out),
            "--url",
            local_endpoint.url,
            "--max-payload-mb",
            str(1000 / (1024 * 1024)),
        ]
    )
    assert code == 1
    assert "line 2 is" in capsys.readouterr().err
    assert not out.exists()

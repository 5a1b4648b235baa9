"""Lines are split only on "\\n" (an optional "\\r" before it), as SageMaker and the endpoint do,
on every client path: batch submit, batch results and local batch.

U+2028, U+2029 and U+0085 may stand raw inside JSON strings (RFC 8259 escapes only U+0000 to
U+001F, quotation mark and reverse solidus); `str.splitlines()` splits on them and so cut records
in two and shifted every later line. Each is tested raw and escaped, through every path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_test_support import DeployedZstc

from zstc.batch.line_splitting import split_records
from zstc.cli import main
from zstc.local.endpoint import LocalEndpoint

SEPARATORS = {"LINE SEPARATOR": "\u2028", "PARAGRAPH SEPARATOR": "\u2029", "NEXT LINE": "\x85"}
LABELS = ["Health", "Career"]


def _records() -> list[dict[str, object]]:
    """One record per separator, raw and escaped, between ordinary ones."""
    records: list[dict[str, object]] = [{"id": "plain-0", "inputs": "run a marathon"}]
    for name, char in SEPARATORS.items():
        records.append({"id": f"{name} raw", "inputs": f"before{char}after"})
        records.append({"id": f"{name} escaped", "inputs": f"before{char}after", "escaped": True})
        records.append({"id": f"plain after {name}", "inputs": "save money"})
    return records


def _jsonl(records: list[dict[str, object]], *, with_labels: bool = True) -> str:
    lines = []
    for record in records:
        escaped = bool(record.get("escaped"))
        body = {key: value for key, value in record.items() if key != "escaped"}
        if with_labels:
            body["parameters"] = {"candidate_labels": LABELS}
        # ensure_ascii=True writes "\\u2028"; False leaves the character raw in the line.
        lines.append(json.dumps(body, ensure_ascii=escaped))
    return "".join(line + "\n" for line in lines)


def test_raw_separators_are_in_the_file_and_splitlines_would_cut_them() -> None:
    text = _jsonl(_records())
    for char in SEPARATORS.values():
        assert char in text
    records = _records()
    assert len(split_records(text)) == len(records)
    assert len(text.splitlines()) > len(records)  # the defect this guards against


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb\n", ["a", "b"]),
        ("a\r\nb", ["a", "b"]),
        ("a\u2028b\u2029c\x85d\n", ["a\u2028b\u2029c\x85d"]),
        ("a\n\nb\n", ["a", "", "b"]),
        ("a\r\r\n", ["a\r"]),
        ("", []),
    ],
)
def test_split_records(text: str, expected: list[str]) -> None:
    assert split_records(text) == expected


def test_batch_submit_uploads_every_record_whole(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _records()
    source = tmp_path / "separators.jsonl"
    source.write_text(_jsonl(records), encoding="utf-8")

    assert main(["batch", "submit", str(source), "--dry-run", *deployed.cli_args()]) == 0
    assert f"dry run: {len(records)} valid lines" in capsys.readouterr().out

    assert main(["batch", "submit", str(source), *deployed.cli_args()]) == 0
    body = deployed.s3.get_object(Bucket=deployed.bucket, Key="input/separators.jsonl")["Body"]
    uploaded = body.read()
    assert uploaded == source.read_bytes()
    ids = [json.loads(line)["id"] for line in split_records(uploaded.decode())]
    assert ids == [record["id"] for record in records]


def test_batch_results_keeps_every_answer_whole_and_in_place(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _records()
    answers = [
        {"id": record["id"], "sequence": record["inputs"], "labels": LABELS, "scores": [0.6, 0.4]}
        for record in records
    ]
    escaped = [bool(record.get("escaped")) for record in records]
    # As AssembleWith=Line writes it: each payload's answer, then a newline.
    out_text = "".join(
        json.dumps(answer, ensure_ascii=flag) + "\n"
        for answer, flag in zip(answers, escaped, strict=True)
    )
    job = "zstctest-separators-0123456789abcdef"
    deployed.s3.put_object(
        Bucket=deployed.bucket, Key=f"output/{job}/separators.jsonl.out", Body=out_text.encode()
    )
    out_file = tmp_path / "results.jsonl"
    assert main(["batch", "results", job, "-o", str(out_file), *deployed.cli_args()]) == 0
    assert f"{len(records)} lines, {len(records)} ok, 0 errors" in capsys.readouterr().out
    written = split_records(out_file.read_text(encoding="utf-8"))
    assert [json.loads(line)["id"] for line in written] == [record["id"] for record in records]
    assert [json.loads(line)["sequence"] for line in written] == [r["inputs"] for r in records]


def test_local_batch_answers_every_record_in_place(
    local_endpoint: LocalEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _records()
    source = tmp_path / "separators.jsonl"
    source.write_text(_jsonl(records), encoding="utf-8")
    out_file = tmp_path / "out.jsonl"
    code = main(["local", "batch", str(source), "-o", str(out_file), "--url", local_endpoint.url,
                 "--no-progress"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert f"{len(records)} lines, {len(records)} ok, 0 errors" in capsys.readouterr().out
    written = split_records(out_file.read_text(encoding="utf-8"))
    assert [json.loads(line)["id"] for line in written] == [record["id"] for record in records]


def test_local_batch_labels_flag_and_fail_on_errors(
    local_endpoint: LocalEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`local batch --labels` fills lines without labels, as `batch submit --labels` does;
    `--fail-on-errors` exits 1 when any line failed."""
    records = _records()
    source = tmp_path / "unlabelled.jsonl"
    source.write_text(_jsonl(records, with_labels=False) + '{"id": "bad"}\n', encoding="utf-8")
    out_file = tmp_path / "out.jsonl"
    args = ["local", "batch", str(source), "-o", str(out_file), "--url", local_endpoint.url,
            "--no-progress", "--labels", ",".join(LABELS)]  # fmt: skip

    assert main(args) == 0
    total = len(records) + 1
    assert f"{total} lines, {len(records)} ok, 1 errors" in capsys.readouterr().out
    written = [json.loads(line) for line in split_records(out_file.read_text(encoding="utf-8"))]
    assert all(sorted(answer["labels"]) == sorted(LABELS) for answer in written[:-1])
    assert written[-1]["id"] == "bad" and "inputs" in written[-1]["error"]

    assert main([*args, "--fail-on-errors"]) == 1
    capsys.readouterr()
    assert main([*args[:-2], "--fail-on-errors"]) == 1  # no labels at all: every line fails

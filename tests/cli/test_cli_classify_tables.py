"""classify --file: requests split to the pair cap, and tables rendered by rich that fit the
terminal, cut long texts with an ellipsis and keep wide (CJK) characters whole and aligned."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from cli_test_support import ENDPOINT_NAME, DeployedZstc
from rich.cells import cell_len
from rich.console import Console

from zstc.cli import main
from zstc.cli.result_table import TEXT_CELLS, response_table, responses_table

LABELS = [f"label{index}" for index in range(20)]


def _answer(texts: list[str], labels: list[str]) -> list[dict[str, Any]]:
    share = 1 / len(labels)
    return [{"sequence": t, "labels": labels, "scores": [share] * len(labels)} for t in texts]


def _expect(runtime: Stubber, texts: list[str], labels: list[str]) -> None:
    """One invoke_endpoint call carrying exactly these texts (Stubber checks the body)."""
    body = {"inputs": texts, "parameters": {"candidate_labels": labels, "multi_label": False}}
    answer = json.dumps(_answer(texts, labels)).encode()
    runtime.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": "application/json"},
        {"EndpointName": ENDPOINT_NAME, "ContentType": "application/json",
         "Accept": "application/json", "Body": json.dumps(body).encode()},
    )  # fmt: skip


def _texts_file(tmp_path: Path, count: int) -> tuple[Path, list[str]]:
    texts = [f"text number {index}" for index in range(count)]
    path = tmp_path / "texts.txt"
    path.write_text("".join(text + "\n" for text in texts), encoding="utf-8")
    return path, texts


def test_requests_are_split_to_fit_the_pair_cap(
    deployed: DeployedZstc,
    runtime: Stubber,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Defect: 16 texts x 20 labels (320 pairs) went as one request over the 200-pair cap."""
    monkeypatch.chdir(tmp_path)  # no cdk.json: the app's default cap of 200 pairs
    path, texts = _texts_file(tmp_path, 16)
    _expect(runtime, texts[:10], LABELS)
    _expect(runtime, texts[10:], LABELS)
    with runtime:
        code = main(
            ["classify", "--file", str(path), "--labels", ",".join(LABELS), "--output", "json",
             *deployed.cli_args()]
        )  # fmt: skip
    runtime.assert_no_pending_responses()
    assert code == 0
    captured = capsys.readouterr()
    assert [json.loads(line)["sequence"] for line in captured.out.splitlines()] == texts
    assert "20 labels: 10 texts per request" in captured.err
    assert "200 (text, label) pairs (max_pairs_per_request from the defaults" in captured.err


def test_the_cap_comes_from_the_projects_cdk_json(
    deployed: DeployedZstc,
    runtime: Stubber,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"max_pairs_per_request": 45}}))
    monkeypatch.chdir(tmp_path)
    path, texts = _texts_file(tmp_path, 5)
    labels = LABELS[:20]
    for start in (0, 2, 4):  # 45 // 20 = 2 texts per request
        _expect(runtime, texts[start : start + 2], labels)
    with runtime:
        code = main(
            ["classify", "--file", str(path), "--labels", ",".join(labels), "--output", "json",
             *deployed.cli_args()]
        )  # fmt: skip
    runtime.assert_no_pending_responses()
    assert code == 0
    assert f"max_pairs_per_request from {tmp_path / 'cdk.json'}" in capsys.readouterr().err


def test_more_labels_than_the_cap_for_one_text_is_refused_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    path, _ = _texts_file(tmp_path, 2)
    labels = ",".join(f"l{index}" for index in range(201))
    assert main(["classify", "--file", str(path), "--labels", labels, "--local", "x:9"]) == 2
    error = capsys.readouterr().err
    assert "--labels: 201 labels make 201 pairs for one text, more than the 200" in error


def _render(renderable: Any, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    console.print(renderable)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return [line.rstrip() for line in output.splitlines()]


LONG_CJK = "我们今年要多读书少刷手机每天早上先锻炼身体再开始工作" * 3
LONG_LATIN = "read more books, less scrolling, and a walk before breakfast every day " * 2


@pytest.mark.parametrize("width", [80, 60, 200])
def test_many_texts_fit_the_width_and_end_with_an_ellipsis(width: int) -> None:
    responses = [
        {"sequence": LONG_CJK, "labels": ["健康", "Career"], "scores": [0.9, 0.1]},
        {"sequence": LONG_LATIN, "labels": ["Career", "健康"], "scores": [0.8, 0.2]},
        {"sequence": "short", "labels": ["Career"], "scores": [1.0]},
    ]
    lines = _render(responses_table(responses), width)
    assert all(cell_len(line) <= width for line in lines)
    cjk_row, latin_row, short_row = lines[1:4]
    assert "…" in cjk_row and "…" in latin_row and "short" in short_row
    # Wide characters are never cut in half: every character shown is one of the text's own.
    shown = cjk_row.split("…")[0].split(maxsplit=1)[1].strip()
    assert shown and LONG_CJK.startswith(shown)
    assert cell_len(shown) <= TEXT_CELLS
    # The columns line up: the right-aligned scores end at the same cell on every row.
    assert len({cell_len(line) for line in (lines[0], cjk_row, latin_row, short_row)}) == 1


def test_label_table_aligns_wide_labels() -> None:
    response = {
        "labels": ["个人成长", "Health", "财务", "[urgent]"],
        "scores": [0.4, 0.3, 0.2, 0.1],
    }
    lines = _render(response_table(response, bar_width=10), 80)
    assert lines[0].split() == ["label", "score"]
    assert lines[4].startswith("[urgent]")  # printed as written, not read as markup
    offsets = {cell_len(line[: line.index("0.")]) for line in lines[1:]}
    assert len(offsets) == 1
    assert [line.count("█") for line in lines[1:]] == [4, 3, 2, 1]


def test_piped_classify_file_cuts_texts_with_an_ellipsis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect: texts were cut at 60 characters with no sign that anything was left out."""
    from zstc.cli import classify

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "texts.txt"
    path.write_text(LONG_LATIN + "\nshort\n", encoding="utf-8")
    monkeypatch.setattr(
        classify,
        "_send",
        lambda request, **_: _answer(request["inputs"], request["parameters"]["candidate_labels"]),
    )
    assert main(["classify", "--file", str(path), "--labels", "a,b", "--local", "x:9"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[1].split(maxsplit=1)[1].startswith(LONG_LATIN[:40])
    assert "…" in rows[1] and "…" not in rows[2]
    assert all(row == row.rstrip() for row in rows)

"""The reference solution's Chinese request, verbatim, end to end: in-process, through the toolkit
handler, through the real local model server, and with `zstc classify --local` (table, JSON and
--ascii-output); ids, texts and labels in many scripts through JSON Lines (`zstc local batch`).

The model is a tiny XLM-RoBERTa with a 2-label head and its own SentencePiece tokenizer
(tests/multilingual_models.py), laid out like an unpacked model.tar.gz. One server for the module:
starting the JVM and torch costs seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from inference import input_fn, output_fn, predict_fn
from inference_test_support import handle, toolkit_handler_service
from model_loading import load_classifier
from multilingual_models import NLI_VARIANTS, save_nli_model

from zstc.cli import main
from zstc.local.batch import run_local_batch
from zstc.local.endpoint import LocalEndpoint, find_free_port
from zstc.models.artifact import prepare_model_dir
from zstc.reference_categories import CHINESE_TEMPLATE

# The reference solution's published example, character for character.
# fmt: off
classification_categories = ['健康', '幽默', '个人成长', '慈善', '休闲', '职业', '金融', '教育', '时间管理']  # noqa: E501
data_zero_shot = {"inputs": "#新年决心 :: 多读书,早餐前不浏览fb/查看邮件,坚持做体能训练/瑜伽缓解背部疼痛!",  # noqa: E501
                  "parameters": {"candidate_labels": classification_categories, "multi_label": False}}  # noqa: E501
# fmt: on

# JSON Lines records whose ids, texts and labels are in many scripts and shapes.
MIXED_RECORDS: list[dict[str, Any]] = [
    {
        "id": "新年-1",
        "inputs": "多读书,少刷手机",
        "parameters": {"candidate_labels": ["教育", "休闲"]},
    },
    {
        "id": "عربي-٢",
        "inputs": "قراءة المزيد من الكتب",
        "parameters": {"candidate_labels": ["تعليم", "صحة"]},
    },
    {
        "id": 3,
        "inputs": "Больше спорта 🏃",
        "parameters": {"candidate_labels": ["здоровье", "работа"]},
    },
    {
        "id": "😀 emoji",
        "inputs": "もっと本を読む",
        "parameters": {"candidate_labels": ["教育", "健康"]},
    },
    {"id": None, "inputs": "मैं रोज़ योग करूँगा", "parameters": {"candidate_labels": ["स्वास्थ्य", "पैसा"]}},
    # Decomposed accents (e + U+0301): labels come back as sent, not normalized to NFC.
    {
        "id": "e\u0301-decomposed",
        "inputs": "cafe\u0301",
        "parameters": {"candidate_labels": ["cafe\u0301", "the\u0301"]},
    },
]


def _utf8_text_of(label: str) -> bytes:
    return label.encode("utf-8")


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_nli_model(
        target=tmp_path_factory.mktemp("xlmr-2-labels"),
        model_max_length=128,
        **NLI_VARIANTS["xlm-roberta-2-labels"],
    )


@pytest.fixture(scope="module")
def endpoint(
    weights_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalEndpoint]:
    model_dir = prepare_model_dir(tmp_path_factory.mktemp("served"), weights_dir=weights_dir)
    server = LocalEndpoint(
        model_dir,
        port=find_free_port(),
        env={"ZSTC_PRECISION": "fp32"},
        log_dir=tmp_path_factory.mktemp("logs"),
    )
    with server:
        yield server


def _assert_reference_answer(result: dict[str, Any]) -> None:
    assert result["sequence"] == data_zero_shot["inputs"]
    assert sorted(result["labels"]) == sorted(classification_categories)
    assert len(result["labels"]) == len(classification_categories)
    assert {_utf8_text_of(label) for label in result["labels"]} == {
        _utf8_text_of(label) for label in classification_categories
    }
    assert sum(result["scores"]) == pytest.approx(1.0, abs=1e-6)


def test_reference_request_in_process_and_through_the_toolkit_handler(
    weights_dir: Path, tmp_path: Path
) -> None:
    body = json.dumps(data_zero_shot, ensure_ascii=False).encode("utf-8")
    classifier = load_classifier(weights_dir, precision="fp32")
    in_process = output_fn(predict_fn(input_fn(body, "application/json"), classifier), None)
    _assert_reference_answer(json.loads(in_process))
    # Readable UTF-8 on the wire, not \\uXXXX escapes.
    assert "时间管理" in in_process and "\\u" not in in_process
    with toolkit_handler_service(
        weights_dir=weights_dir, target=tmp_path / "model", env={"ZSTC_PRECISION": "fp32"}
    ) as handler:
        answer = handle(handler, body, content_type="application/json")
    assert json.loads(answer) == json.loads(in_process)


def test_reference_request_through_the_local_model_server(
    endpoint: LocalEndpoint, weights_dir: Path
) -> None:
    from transformers import pipeline

    answer = endpoint.invoke(json.dumps(data_zero_shot, ensure_ascii=False).encode("utf-8"))
    assert answer.status == 200, answer.text
    assert "个人成长".encode() in answer.body
    result = json.loads(answer.body)
    _assert_reference_answer(result)
    expected = pipeline("zero-shot-classification", model=str(weights_dir), device=-1)(
        data_zero_shot["inputs"], candidate_labels=classification_categories
    )
    assert result["labels"] == expected["labels"]
    assert result["scores"] == pytest.approx(expected["scores"], abs=1e-5)
    # The same request with the labels escaped (as json.dumps writes by default) is the same.
    escaped = endpoint.invoke(json.dumps(data_zero_shot))
    assert json.loads(escaped.body) == result


def test_classify_local_json_is_readable_utf8_and_round_trips(
    endpoint: LocalEndpoint, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    labels = ",".join(classification_categories)
    text = data_zero_shot["inputs"]
    code = main(["classify", text, "--labels", labels, "--output", "json", "--local", endpoint.url])
    assert code == 0
    captured = capsysbinary.readouterr()
    assert text.encode("utf-8") in captured.out
    assert b"\\u" not in captured.out
    _assert_reference_answer(json.loads(captured.out))
    # Labels not in the default model's language: said once, on stderr, never on stdout.
    assert captured.err.decode("utf-8").count("hint: the labels are written in Han") == 1

    code = main(
        ["classify", text, "--labels", labels, "--json", "--ascii-output", "--local", endpoint.url]
    )
    assert code == 0
    escaped = capsysbinary.readouterr().out
    assert escaped.isascii()
    assert b"\\u5065\\u5eb7" in escaped  # 健康
    _assert_reference_answer(json.loads(escaped))


def test_classify_local_file_with_a_chinese_template(
    endpoint: LocalEndpoint, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    texts = [record["inputs"] for record in MIXED_RECORDS]
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    code = main(
        [
            "classify",
            "--file",
            str(source),
            "--labels",
            "健康,教育,金融",
            "--template",
            CHINESE_TEMPLATE,
            "--batch-size",
            "4",
            "--output",
            "json",
            "--local",
            endpoint.url,
        ]
    )
    assert code == 0
    captured = capsysbinary.readouterr()
    answers = [json.loads(line) for line in captured.out.decode("utf-8").splitlines()]
    assert [answer["sequence"] for answer in answers] == texts
    assert all(sorted(answer["labels"]) == ["健康", "教育", "金融"] for answer in answers)
    # Two requests, one hint.
    assert captured.err.decode("utf-8").count("hint:") == 1


def test_classify_local_table_shows_chinese_labels(
    endpoint: LocalEndpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "classify",
            data_zero_shot["inputs"],
            "--labels",
            ",".join(classification_categories),
            "--local",
            endpoint.url,
        ]
    )
    assert code == 0
    rows = capsys.readouterr().out.splitlines()
    assert sorted(row.split()[0] for row in rows[1:]) == sorted(classification_categories)


def test_json_lines_keep_ids_texts_and_labels_in_any_script(
    endpoint: LocalEndpoint, tmp_path: Path
) -> None:
    source = tmp_path / "mixed.jsonl"
    source.write_text(
        "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in MIXED_RECORDS),
        encoding="utf-8",
    )
    output = tmp_path / "mixed.jsonl.out"
    run_local_batch(input_path=source, output_path=output, url=endpoint.url, progress=None)
    lines = output.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(MIXED_RECORDS)
    for record, line in zip(MIXED_RECORDS, lines, strict=True):
        result = json.loads(line)
        assert "error" not in result, result
        assert result["id"] == record["id"]
        assert result["sequence"] == record["inputs"]
        # Byte for byte, decomposed accents included.
        sent = record["parameters"]["candidate_labels"]
        assert sorted(label.encode() for label in result["labels"]) == sorted(
            label.encode() for label in sent
        )
    assert "新年-1" in lines[0] and "\\u" not in lines[0]

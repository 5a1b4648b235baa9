"""Helpers shared by the eval tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from zstc.evaluation.classifiers import JsonLinesClassifier


def write_jsonl(path: Path, records: Sequence[object]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


class RecordingClassifier:
    """Passes every request to a real classifier and keeps (request, answer) pairs."""

    def __init__(self, inner: JsonLinesClassifier) -> None:
        self.inner = inner
        self.description = inner.description
        self.exchanges: list[tuple[bytes, bytes]] = []

    def classify_json_lines(self, body: bytes) -> bytes:
        answer = self.inner.classify_json_lines(body)
        self.exchanges.append((body, answer))
        return answer

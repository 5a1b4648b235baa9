"""Helpers shared by the inference tests: a model dir laid out like an unpacked model.tar.gz,
and a fake multi-model-server context for driving the toolkit's handler service in-process."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
INFERENCE_CODE_DIR = REPO_ROOT / "inference_code"
# The modules of inference_code/, by import name: the toolkit imports them from code/.
INFERENCE_MODULE_NAMES = tuple(path.stem for path in INFERENCE_CODE_DIR.glob("*.py"))


def unpacked_model_tarball(*, weights_dir: Path | None, target: Path) -> Path:
    """target/ with the weights at the root (when given) and inference_code/ copied to code/."""
    target.mkdir(parents=True, exist_ok=True)
    if weights_dir is not None:
        shutil.copytree(weights_dir, target, dirs_exist_ok=True)
    shutil.copytree(
        INFERENCE_CODE_DIR, target / "code", ignore=shutil.ignore_patterns("__pycache__")
    )
    return target


class FakeRequestProcessor:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def get_request_properties(self) -> dict[str, str]:
        return self.headers


class FakeMetrics:
    def add_time(self, name: str, value: float) -> None:
        del name, value


@dataclass
class FakeMmsContext:
    """The parts of mms.context.Context that the toolkit's handler service touches."""

    model_dir: Path
    headers: dict[str, str] = field(default_factory=dict)
    response_content_types: dict[int, str] = field(default_factory=dict)

    @property
    def system_properties(self) -> dict[str, Any]:
        return {"model_dir": str(self.model_dir), "batch_size": 1, "gpu_id": 0}

    @property
    def request_processor(self) -> list[FakeRequestProcessor]:
        return [FakeRequestProcessor(self.headers)]

    @property
    def metrics(self) -> FakeMetrics:
        return FakeMetrics()

    def set_response_content_type(self, index: int, content_type: str) -> None:
        self.response_content_types[index] = content_type

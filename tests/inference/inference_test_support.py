"""Helpers shared by the inference tests: a model dir laid out like an unpacked model.tar.gz,
and a fake multi-model-server context for driving the toolkit's handler service in-process."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sagemaker_huggingface_inference_toolkit.handler_service import HuggingFaceHandlerService

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


@contextmanager
def toolkit_handler_service(
    *, weights_dir: Path, target: Path, env: dict[str, str]
) -> Iterator[tuple[HuggingFaceHandlerService, FakeMmsContext]]:
    """The toolkit's HuggingFaceHandlerService, initialized on code/ of an unpacked model dir.

    The inference modules are imported fresh from target/code (as the toolkit imports them in
    the container) and the previously imported ones are restored afterwards.
    """
    model_dir = unpacked_model_tarball(weights_dir=weights_dir, target=target)
    saved_modules = {
        name: sys.modules.pop(name) for name in INFERENCE_MODULE_NAMES if name in sys.modules
    }
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("HF_TASK", raising=False)
            patch.delenv("SAGEMAKER_PROGRAM", raising=False)
            for name, value in env.items():
                patch.setenv(name, value)
            patch.syspath_prepend(str(model_dir / "code"))
            context = FakeMmsContext(model_dir=model_dir)
            service = HuggingFaceHandlerService()
            service.initialize(context)
            yield service, context
    finally:
        for name in INFERENCE_MODULE_NAMES:
            sys.modules.pop(name, None)
        sys.modules.update(saved_modules)


def handle(
    handler: tuple[HuggingFaceHandlerService, FakeMmsContext],
    body: bytes,
    *,
    content_type: str | None,
    accept: str | None = None,
) -> str:
    """One request through the toolkit's handle(), as multi-model-server calls it.

    The response is encoded as UTF-8 here, as multi-model-server does after handle() returned
    (mms/protocol/otf_message_handler.py, create_predict_response); a response it cannot encode
    kills the real worker, so it fails the test.
    """
    service, context = handler
    context.headers = {}
    if content_type is not None:
        context.headers["Content-Type"] = content_type
    if accept is not None:
        context.headers["Accept"] = accept
    [response] = service.handle([{"body": body}], context)
    str(response).encode("utf-8")
    return str(response)

"""Fixtures for the eval tests: a tiny NLI model laid out like the unpacked model.tar.gz."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zstc.models.artifact import prepare_model_dir


@pytest.fixture(scope="module")
def tiny_model_tarball_dir(
    tiny_nli_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny NLI model with inference_code/ under code/, as SageMaker unpacks model.tar.gz."""
    return prepare_model_dir(tmp_path_factory.mktemp("eval-model"), weights_dir=tiny_nli_model_dir)


@pytest.fixture(scope="module")
def fp32() -> Iterator[None]:
    """Exact float32 in this process and in servers it starts, so paths compare closely."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZSTC_PRECISION", "fp32")
        yield

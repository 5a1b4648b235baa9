"""Precision choice: the hardware decides under auto, ZSTC_PRECISION overrides, fp32 is exact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from model_loading import load_classifier
from precision import (
    PrecisionName,
    choose_dtype,
    configure_matmul_precision,
    cpu_has_native_bf16,
    precision_from_env,
)

CPU = torch.device("cpu")
GPU = torch.device("cuda", 0)


def _yes() -> bool:
    return True


def _no() -> bool:
    return False


@pytest.mark.parametrize(
    ("device", "cuda_bf16", "cpu_bf16", "expected"),
    [
        (GPU, _no, _no, torch.float16),  # T4 (ml.g4dn): no bf16, so fp16
        (GPU, _yes, _no, torch.bfloat16),  # A10G, L4, A100, H100
        (CPU, _no, _yes, torch.bfloat16),  # AMX or AVX512_BF16
        (CPU, _yes, _no, torch.float32),  # a bf16 GPU elsewhere does not matter on CPU
        (CPU, _no, _no, torch.float32),
    ],
)
def test_auto_follows_the_hardware(
    device: torch.device,
    cuda_bf16: Callable[[], bool],
    cpu_bf16: Callable[[], bool],
    expected: torch.dtype,
) -> None:
    chosen = choose_dtype(
        requested="auto",
        device=device,
        cuda_bf16_probe=cuda_bf16,
        cpu_bf16_probe=cpu_bf16,
    )
    assert chosen == expected


@pytest.mark.parametrize(
    ("requested", "expected"),
    [("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)],
)
def test_explicit_precision_wins_over_the_hardware(
    requested: PrecisionName, expected: torch.dtype
) -> None:
    for device in (CPU, GPU):
        chosen = choose_dtype(
            requested=requested,
            device=device,
            cuda_bf16_probe=_yes,
            cpu_bf16_probe=_yes,
        )
        assert chosen == expected


def test_env_override_is_parsed_and_validated() -> None:
    assert precision_from_env({}) == "auto"
    assert precision_from_env({"ZSTC_PRECISION": " FP32 "}) == "fp32"
    assert precision_from_env({"ZSTC_PRECISION": "bf16"}) == "bf16"
    with pytest.raises(ValueError, match=r"ZSTC_PRECISION='double' is not allowed.*fp32"):
        precision_from_env({"ZSTC_PRECISION": "double"})


def test_cpu_probe_reads_the_cpu_flags(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu sse2 avx512f avx512_bf16 amx_tile\n")
    assert cpu_has_native_bf16(cpuinfo_path=cpuinfo)
    cpuinfo.write_text("processor : 0\nflags : fpu sse2 avx2 avx512f\n")
    assert not cpu_has_native_bf16(cpuinfo_path=cpuinfo)
    assert not cpu_has_native_bf16(cpuinfo_path=tmp_path / "missing")


def test_fp32_disables_tf32() -> None:
    # These are properties backed by torch's global state, so restore them by hand.
    saved = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.get_float32_matmul_precision(),
    )
    try:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.set_float32_matmul_precision("medium")
        configure_matmul_precision(dtype=torch.float32)
        assert torch.backends.cuda.matmul.allow_tf32 is False
        assert torch.backends.cudnn.allow_tf32 is False
        assert torch.get_float32_matmul_precision() == "highest"
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved[0]
        torch.backends.cudnn.allow_tf32 = saved[1]
        torch.set_float32_matmul_precision(saved[2])


def test_bf16_model_scores_close_to_fp32(tiny_nli_model_dir: Path) -> None:
    texts = ["I want to run every morning", "Pay off the credit card", "Learn Spanish 🇪🇸"]
    labels = ["Health", "Finance", "Education", "Humor"]
    exact = load_classifier(tiny_nli_model_dir, precision="fp32", warm_up=False)
    fast = load_classifier(tiny_nli_model_dir, precision="bf16", warm_up=False)
    model: torch.nn.Module = getattr(fast, "model")  # noqa: B009 - not part of the protocol
    assert next(model.parameters()).dtype == torch.bfloat16
    for ours, reference in zip(
        fast.classify(texts, labels), exact.classify(texts, labels), strict=True
    ):
        reference_scores = dict(zip(reference["labels"], reference["scores"], strict=True))
        for label, score in zip(ours["labels"], ours["scores"], strict=True):
            assert score == pytest.approx(reference_scores[label], abs=0.02)

"""Precision choice: the hardware decides under auto, ZSTC_PRECISION overrides, fp32 is exact."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class FakeGpu:
    name: str
    capability: tuple[int, int]


# Compute capabilities from NVIDIA's CUDA GPU list (developer.nvidia.com/cuda-gpus).
T4 = FakeGpu("Tesla T4", (7, 5))  # ml.g4dn
V100 = FakeGpu("Tesla V100-SXM2-16GB", (7, 0))  # ml.p3
A10G = FakeGpu("NVIDIA A10G", (8, 6))  # ml.g5
L4 = FakeGpu("NVIDIA L4", (8, 9))  # ml.g6
A100 = FakeGpu("NVIDIA A100-SXM4-40GB", (8, 0))  # ml.p4d
H100 = FakeGpu("NVIDIA H100 80GB HBM3", (9, 0))  # ml.p5


def _install_gpu(monkeypatch: pytest.MonkeyPatch, gpu: FakeGpu) -> None:
    """Fakes the device at torch's own boundary: availability, capability and name.

    is_bf16_supported is faked the way torch >= 2.4 behaves on such a device
    (pytorch/pytorch v2.6.0, torch/cuda/__init__.py): with the default
    including_emulation=True it answers True even below capability 8.0, since a bf16 tensor
    can be created there. Code that asks it would pick bf16 on a T4.
    """

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        return including_emulation or gpu.capability >= (8, 0)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: gpu.capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: gpu.name)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)


@pytest.mark.parametrize(
    ("gpu", "expected"),
    [
        (T4, torch.float16),
        (V100, torch.float16),
        (A100, torch.bfloat16),
        (A10G, torch.bfloat16),
        (L4, torch.bfloat16),
        (H100, torch.bfloat16),
    ],
    ids=lambda value: value.name if isinstance(value, FakeGpu) else str(value),
)
def test_auto_on_a_gpu_follows_the_compute_capability(
    monkeypatch: pytest.MonkeyPatch, gpu: FakeGpu, expected: torch.dtype
) -> None:
    _install_gpu(monkeypatch, gpu)

    chosen = choose_dtype(requested="auto", device=GPU, cpu_bf16_probe=_no)

    assert chosen == expected


def test_the_choice_is_logged_with_the_device_name_and_capability(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _install_gpu(monkeypatch, T4)

    with caplog.at_level(logging.INFO, logger="precision"):
        choose_dtype(requested="auto", device=GPU, cpu_bf16_probe=_no)

    assert "Tesla T4 has compute capability 7.5" in caplog.text
    assert "fp16" in caplog.text


@pytest.mark.parametrize(
    ("cpu_bf16", "expected"),
    [(_yes, torch.bfloat16), (_no, torch.float32)],  # AMX or AVX512_BF16, or neither
)
def test_auto_on_the_cpu_follows_the_cpu_flags(
    monkeypatch: pytest.MonkeyPatch, cpu_bf16: Callable[[], bool], expected: torch.dtype
) -> None:
    # A bf16-capable GPU elsewhere in the machine does not matter on the CPU.
    _install_gpu(monkeypatch, H100)

    assert choose_dtype(requested="auto", device=CPU, cpu_bf16_probe=cpu_bf16) == expected


@pytest.mark.parametrize(
    ("requested", "expected"),
    [("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)],
)
def test_explicit_precision_wins_over_the_hardware(
    monkeypatch: pytest.MonkeyPatch, requested: PrecisionName, expected: torch.dtype
) -> None:
    _install_gpu(monkeypatch, T4)
    for device in (CPU, GPU):
        assert choose_dtype(requested=requested, device=device, cpu_bf16_probe=_yes) == expected


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

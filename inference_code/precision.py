"""The numeric precision the model runs at: chosen from the hardware, or forced by ZSTC_PRECISION.

auto (the default):
- a CUDA GPU of compute capability 8.0 or later (A10G, L4, A100, H100), which has bf16 tensor
  cores: bf16;
- an older CUDA GPU (the T4 of ml.g4dn is 7.5): fp16. torch.cuda.is_bf16_supported() cannot
  decide this: since torch 2.4 it defaults to including_emulation=True and answers True on a
  T4, which would run bf16 emulated and slowly (pytorch/pytorch v2.6.0,
  torch/cuda/__init__.py, is_bf16_supported);
- a CPU with native bf16 instructions (AMX or AVX512_BF16): bf16, about 4x faster than fp32 on
  a bart-large-shaped model here; scores stay within about 0.01 of fp32;
- anything else: fp32.

fp32 is exact: TF32 tensor-core matmuls are switched off, so scores equal the pipeline's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch

PRECISION_ENV = "ZSTC_PRECISION"
PrecisionName = Literal["auto", "fp32", "bf16", "fp16"]
ALLOWED_PRECISIONS: tuple[PrecisionName, ...] = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# /proc/cpuinfo flags of CPUs that run bf16 matmuls natively (not emulated, which is slower).
_NATIVE_BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
_CPUINFO = Path("/proc/cpuinfo")

logger = logging.getLogger(__name__)


def precision_from_env(environ: dict[str, str] | None = None) -> PrecisionName:
    environ = dict(os.environ) if environ is None else environ
    raw = environ.get(PRECISION_ENV, "auto").strip().lower() or "auto"
    for allowed in ALLOWED_PRECISIONS:
        if raw == allowed:
            return allowed
    raise ValueError(
        f"{PRECISION_ENV}={raw!r} is not allowed: use one of {', '.join(ALLOWED_PRECISIONS)}"
    )


def cpu_has_native_bf16(*, cpuinfo_path: Path = _CPUINFO) -> bool:
    """True when /proc/cpuinfo lists AMX-BF16 or AVX512-BF16 (Linux; elsewhere False)."""
    try:
        cpuinfo = cpuinfo_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return bool(_NATIVE_BF16_CPU_FLAGS & set(line.partition(":")[2].split()))
    return False


# NVIDIA's first architecture with bf16 tensor cores is Ampere, compute capability 8.0.
NATIVE_BF16_MIN_CAPABILITY = (8, 0)


def cuda_has_native_bf16(device: torch.device) -> bool:
    """True when the CUDA device has bf16 tensor cores (compute capability 8.0 or later)."""
    if not torch.cuda.is_available():
        return False
    capability = tuple(torch.cuda.get_device_capability(device))
    native = capability >= NATIVE_BF16_MIN_CAPABILITY
    logger.info(
        "zstc: %s has compute capability %d.%d: %s",
        torch.cuda.get_device_name(device),
        capability[0],
        capability[1],
        "native bf16" if native else "no bf16 tensor cores, fp16 instead",
    )
    return native


def choose_dtype(
    *,
    requested: PrecisionName,
    device: torch.device,
    cpu_bf16_probe: Callable[[], bool] = cpu_has_native_bf16,
) -> torch.dtype:
    """The dtype for `requested` on `device`; on CUDA the device's compute capability decides."""
    if requested not in ALLOWED_PRECISIONS:
        raise ValueError(
            f"precision {requested!r} is not allowed: use one of {', '.join(ALLOWED_PRECISIONS)}"
        )
    if requested != "auto":
        return _DTYPES[requested]
    if device.type == "cuda":
        return torch.bfloat16 if cuda_has_native_bf16(device) else torch.float16
    if device.type == "cpu" and cpu_bf16_probe():
        return torch.bfloat16
    return torch.float32


def configure_matmul_precision(*, dtype: torch.dtype) -> None:
    """Makes fp32 exact: no TF32 (which would cost parity with the pipeline's fp32 scores)."""
    if dtype == torch.float32:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")


def dtype_name(dtype: torch.dtype) -> str:
    for name, candidate in _DTYPES.items():
        if candidate == dtype:
            return name
    return str(dtype)

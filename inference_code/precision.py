"""The numeric precision the model runs at: chosen at load, or forced by ZSTC_PRECISION.

auto (the default):
- a CUDA GPU of compute capability 8.0 or later (A10G, L4, A100, H100), which has bf16 tensor
  cores: bf16;
- an older CUDA GPU (the T4 of ml.g4dn is 7.5): fp16. torch.cuda.is_bf16_supported() cannot
  decide this: since torch 2.4 it defaults to including_emulation=True and answers True on a
  T4, which would run bf16 emulated and slowly (pytorch/pytorch v2.6.0,
  torch/cuda/__init__.py, is_bf16_supported);
- a CPU with native bf16 instructions (AMX or AVX512_BF16 in /proc/cpuinfo): measured at load.
  The real model runs the same small batch (PROBE_TEXTS x PROBE_LABELS) in fp32 and in bf16,
  in interleaved rounds within PROBE_BUDGET_SECONDS, and bf16 is chosen only when its best
  trial is at least BF16_MARGIN times as fast as fp32's. The flags alone are not enough: on
  2-core AMD EPYC hosts with avx512_bf16, bf16 ran between 0.95x and 3.2x as fast as fp32,
  depending on the host and its load (docs/cpu-precision.md);
- any other CPU: fp32, unmeasured (bf16 without native instructions is emulated and slower).

int8 (opt-in, CPU only): dynamic int8 quantization of every torch.nn.Linear, weights quantized
once at load and activations per batch (docs/cpu-precision.md says when it is worth it).

fp32 is exact: TF32 tensor-core matmuls are switched off, so scores equal the pipeline's.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

PRECISION_ENV = "ZSTC_PRECISION"
PrecisionName = Literal["auto", "fp32", "bf16", "fp16", "int8"]
ALLOWED_PRECISIONS: tuple[PrecisionName, ...] = ("auto", "fp32", "bf16", "fp16", "int8")
# The dtype the weights are loaded at; int8 loads fp32 weights and then quantizes them.
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
_LOAD_DTYPES = {**_DTYPES, "int8": torch.float32}
# /proc/cpuinfo flags of CPUs that run bf16 matmuls natively (not emulated, which is slower).
_NATIVE_BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
_CPUINFO = Path("/proc/cpuinfo")

# auto on a CPU with native bf16: bf16 must be at least this much faster than fp32 to be
# chosen. fp32 is exact and bf16 moves scores by up to about 0.02, so a gain within the noise
# of a few timed trials on a shared host is not worth it.
BF16_MARGIN = 1.10
# Seconds the measurement may take at load: the first round (one fp32 and one bf16 trial)
# always runs; further rounds, up to PROBE_MAX_ROUNDS, only while they fit the budget.
# bart-large on 2 cores takes about 2.5 s per fp32 trial of the probe batch.
PROBE_BUDGET_SECONDS = 30.0
PROBE_MAX_ROUNDS = 3
# A small batch shaped like a real-time request: four English texts of 17 to 28 words with four
# candidate labels, 16 (text, label) pairs of 27 to 38 tokens (BERT WordPiece), 512 in all: one
# forward pass on the CPU's default budget of 1024 tokens per batch.
PROBE_TEXTS = (
    "I want to run a marathon by october, so I will train three mornings a week and stop "
    "eating takeaway food at night.",
    "Pay off the credit card before summer and put ten percent of every paycheck into an "
    "emergency fund.",
    "Learn spanish with a tutor twice a week, and read one short book in spanish before the "
    "trip to mexico in the spring with my family and friends.",
    "Spend less time in meetings, mentor a junior colleague and ask for a raise at the review.",
)
PROBE_LABELS = ("health", "finance", "education", "career")

# The starts of torch 2.13's two deprecation warnings on the int8 path (see
# quantize_linear_layers).
_QUANTIZATION_DEPRECATED = (
    r"(torch\.ao\.quantization is deprecated|torch\.quantize_per_tensor, "
    r"torch\.quantize_per_channel and other quantized tensor creation functions)"
)

logger = logging.getLogger(__name__)


def precision_from_env(environ: Mapping[str, str] | None = None) -> PrecisionName:
    environ = os.environ if environ is None else environ
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


def _check_allowed(requested: str) -> None:
    if requested not in ALLOWED_PRECISIONS:
        raise ValueError(
            f"precision {requested!r} is not allowed: use one of {', '.join(ALLOWED_PRECISIONS)}"
        )


def refuse_int8_off_cpu(*, requested: str, device: torch.device) -> None:
    """int8 is CPU serving only: torch's dynamic int8 linear has CPU kernels (fbgemm, onednn)."""
    if requested == "int8" and device.type != "cpu":
        raise ValueError(
            f"precision 'int8' runs on CPU only, but the model is on {device}: dynamic int8 "
            "quantization has no GPU kernels in torch. On a GPU use auto (bf16 or fp16), "
            "bf16, fp16 or fp32; or serve from a CPU instance type"
        )


def choose_dtype(
    *,
    requested: PrecisionName,
    device: torch.device,
    cpu_bf16_probe: Callable[[], bool] = cpu_has_native_bf16,
) -> torch.dtype:
    """The dtype the weights load at for `requested` on `device`.

    On CUDA under auto the compute capability decides. On a CPU under auto this is the
    candidate: bf16 where the CPU has native bf16, which load_classifier then times against
    fp32 (choose_by_timing); fp32 elsewhere. int8 loads at fp32 and is quantized afterwards.
    """
    _check_allowed(requested)
    refuse_int8_off_cpu(requested=requested, device=device)
    if requested != "auto":
        return _LOAD_DTYPES[requested]
    if device.type == "cuda":
        return torch.bfloat16 if cuda_has_native_bf16(device) else torch.float16
    if device.type == "cpu" and cpu_bf16_probe():
        return torch.bfloat16
    return torch.float32


def needs_cpu_measurement(
    *,
    requested: PrecisionName,
    device: torch.device,
    cpu_bf16_probe: Callable[[], bool] = cpu_has_native_bf16,
) -> bool:
    """True when auto on this CPU is decided by timing fp32 against bf16 at load."""
    return requested == "auto" and device.type == "cpu" and cpu_bf16_probe()


@dataclass(frozen=True, kw_only=True)
class PrecisionChoice:
    """What ran and why: `chosen` is fp32, bf16, fp16 or int8."""

    requested: PrecisionName
    chosen: str
    reason: str
    # The best trial per candidate in seconds, when the choice was measured.
    trial_seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        return f"precision {self.requested}: {self.chosen} ({self.reason})"


def unmeasured_choice(
    *, requested: PrecisionName, dtype: torch.dtype, device: torch.device
) -> PrecisionChoice:
    """The choice when nothing was timed: requested explicitly, a GPU, or a CPU without bf16."""
    if requested != "auto":
        reason = f"set by {PRECISION_ENV} or the caller"
        return PrecisionChoice(requested=requested, chosen=requested, reason=reason)
    if device.type == "cuda":
        reason = (
            "GPU with bf16 tensor cores (compute capability >= 8.0)"
            if dtype == torch.bfloat16
            else "GPU without bf16 tensor cores (compute capability < 8.0)"
        )
    else:
        reason = "CPU without native bf16 (no amx_bf16 or avx512_bf16 flag)"
    return PrecisionChoice(requested=requested, chosen=dtype_name(dtype), reason=reason)


def choose_by_timing(
    *,
    run_fp32: Callable[[], Any],
    run_bf16: Callable[[], Any],
    work: str,
    timer: Callable[[], float] = time.perf_counter,
    budget_seconds: float = PROBE_BUDGET_SECONDS,
    max_rounds: int = PROBE_MAX_ROUNDS,
    margin: float = BF16_MARGIN,
) -> PrecisionChoice:
    """Times both runs in interleaved rounds (fp32 then bf16, then bf16 then fp32, ...).

    The best trial of each counts: on a shared or throttled host the fastest run is the one
    least disturbed. The first round always runs; a further round starts only while the time
    spent so far plus one more round's average fits budget_seconds.
    """
    runs = {"fp32": run_fp32, "bf16": run_bf16}
    best = {name: math.inf for name in runs}
    started = timer()
    rounds = 0
    while rounds < max_rounds:
        order = ("fp32", "bf16") if rounds % 2 == 0 else ("bf16", "fp32")
        for name in order:
            start = timer()
            runs[name]()
            finished = timer()
            best[name] = min(best[name], finished - start)
        rounds += 1
        spent = finished - started
        if spent + spent / rounds > budget_seconds:
            break
    ratio = best["fp32"] / best["bf16"] if best["bf16"] > 0 else math.inf
    chosen = "bf16" if ratio >= margin else "fp32"
    timings = f"best of {rounds} interleaved trials on {work}: fp32 {best['fp32']:.3f} s, " + (
        f"bf16 {best['bf16']:.3f} s"
    )
    verdict = (
        f"bf16 {ratio:.2f}x as fast, at least the {margin:.2f}x needed"
        if chosen == "bf16"
        else f"bf16 only {ratio:.2f}x as fast, below the {margin:.2f}x needed"
    )
    return PrecisionChoice(
        requested="auto",
        chosen=chosen,
        reason=f"measured, {timings}; {verdict}",
        trial_seconds=dict(best),
    )


def quantize_linear_layers(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization of every torch.nn.Linear of model, in place; model returned.

    Weights are quantized per output channel (per_channel_dynamic_qconfig) rather than with
    the default one scale per tensor, which kept fp32's top label less often on
    all-MiniLM-L6-v2 (docs/cpu-precision.md has the figures).

    torch.ao.quantization.quantize_dynamic is the one dynamic int8 API in both the serving
    container's torch 2.6.0 and current torch (2.13) without installing anything. It is on its
    way out, and torch 2.13 says so twice: eager-mode quantization is to move to torchao's
    quantize_ (torch/ao/quantization/utils.py, DEPRECATION_WARNING, added by
    pytorch/pytorch#153892), and the quantized dtypes it stores weights in (torch.qint8) are
    deprecated (pytorch/pytorch#184982). torchao is not in the container, and its
    Int8DynamicActivationInt8WeightConfig is reported slower than quantize_dynamic on CPU
    without torch.compile (pytorch/ao#4365, pytorch/ao#3157). Both warnings are silenced here,
    since they are about torch's future and not this call's result; a torch without the
    function fails at load with the message below.
    """
    try:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    except ImportError as error:  # pragma: no cover - only on a future torch without it
        raise RuntimeError(
            f"precision 'int8' needs torch.ao.quantization.quantize_dynamic, which torch "
            f"{torch.__version__} does not have; use fp32, bf16 or auto"
        ) from error
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_QUANTIZATION_DEPRECATED)
        quantized: torch.nn.Module = quantize_dynamic(
            model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
        )
    return quantized


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

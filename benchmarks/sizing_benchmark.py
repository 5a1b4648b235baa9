"""Sizing benchmark: how the time per (text, label) pair grows with the pair's length.

The request cap (max_pairs_per_request) and the batch payload size (MaxPayloadInMB) must hold
for the longest pairs a model takes, not only for tweet-length ones. This runs zstc's classifier
(load_classifier, as model_fn loads it) on a randomly initialised bart-large-shaped model with
texts of about 64, 256 and 1024 tokens, and reports pairs per second, tokens per pair and the
arithmetic rate the run reached, counting the linear layers (inference_benchmark.py's count) and
attention's two matrix products per layer (QK^T and AV: 4 x tokens^2 x d_model FLOPs for each
of the encoder's self-attention and the decoder's self- and cross-attention).

docs/sizing.md turns these into the defaults: FLOPs per pair at the longest length, divided by a
sustained rate, gives seconds per pair.

    .venv/bin/python benchmarks/sizing_benchmark.py                  # bart-large, a few minutes
    .venv/bin/python benchmarks/sizing_benchmark.py --small          # tiny model, seconds
    .venv/bin/python benchmarks/sizing_benchmark.py --device cuda    # on a GPU
"""

from __future__ import annotations

import argparse
import random
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

BENCHMARKS_DIR = Path(__file__).resolve().parent
if str(BENCHMARKS_DIR) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS_DIR))

from inference_benchmark import (  # noqa: E402 - the path above makes the sibling importable
    _WORDS,
    BART_LARGE,
    TINY,
    ModelShape,
    build_model,
    linear_flops_per_token,
    machine_description,
)

LABELS = ("Health", "Career", "Finance", "Education")
# (approximate tokens per text, texts): about the same total work at every length.
LENGTHS = ((64, 16), (256, 6), (1024, 2))


def attention_flops(*, shape: ModelShape, tokens: int) -> int:
    """QK^T and AV in the encoder's self-attention and the decoder's self- and cross-attention."""
    return 3 * shape.layers * 4 * tokens * tokens * shape.d_model


def texts_of(*, tokens: int, count: int, seed: int) -> list[str]:
    """count texts of about `tokens` WordPiece tokens (the benchmark's vocabulary: ~1 token a
    word); the model truncates anything longer than it takes."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(tokens)) for _ in range(count)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", action="store_true", help="tiny model, for a smoke run")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)

    import torch
    from model_loading import load_classifier
    from precision import choose_dtype, dtype_name
    from transformers import AutoTokenizer

    shape = TINY if args.small else BART_LARGE
    device = torch.device(args.device)
    dtype = dtype_name(choose_dtype(requested=args.precision, device=device))
    command = shlex.join(
        [".venv/bin/python", "benchmarks/sizing_benchmark.py", *(argv or sys.argv[1:])]
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="zstc-sizing-") as scratch:
        model_dir = build_model(shape=shape, target=Path(scratch) / "model", seed=args.seed)
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        classifier = load_classifier(model_dir, precision=args.precision, device=device)
        for target_tokens, count in LENGTHS:
            texts = texts_of(tokens=target_tokens, count=count, seed=args.seed)
            pair_lengths = [
                len(
                    tokenizer(text, f"This example is {label}.", truncation="only_first")[
                        "input_ids"
                    ]
                )
                for text in texts
                for label in LABELS
            ]
            start = time.perf_counter()
            classifier.classify(texts, list(LABELS))
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            flops = sum(
                linear_flops_per_token(shape) * length + attention_flops(shape=shape, tokens=length)
                for length in pair_lengths
            )
            pairs = len(pair_lengths)
            rows.append(
                f"| {sum(pair_lengths) / pairs:.0f} | {pairs} | {seconds:.2f} | "
                f"{pairs / seconds:.2f} | {seconds / pairs:.3f} | "
                f"{flops / pairs / 1e9:.0f} | {flops / seconds / 1e9:.0f} |"
            )
            print(rows[-1], flush=True)
    print()
    print(f"- Command: `{command}`")
    print(f"- Model: {shape.name}, random weights; precision {args.precision} ({dtype})")
    print(f"- Device: {args.device}. {machine_description(args.device)}")
    print()
    print(
        "| tokens/pair | pairs | seconds | pairs/s | s/pair | GFLOP/pair | GFLOP/s reached |\n"
        "|---:|---:|---:|---:|---:|---:|---:|"
    )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

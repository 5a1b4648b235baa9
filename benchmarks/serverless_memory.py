#!/usr/bin/env python3
"""Peak memory of the serving container's model server, to size serverless MemorySizeInMB.

A serverless endpoint's memory size bounds the whole container: the Java multi-model-server
frontend, the toolkit's Python worker that holds the model, and the request's activations. This
script starts the real local model server (zstc.local.endpoint: the same multi-model-server and
toolkit handler the container runs, on loopback) on a model directory laid out as model.tar.gz,
sends the largest requests the request contract allows (max_pairs_per_request pairs: short and
longest texts), and reads each process's peak resident set size (VmHWM in /proc/<pid>/status)
for every process of the server's tree. Their sum over-counts pages the forked worker shares
with its parent, so it is an upper bound of the container's peak.

Models:
- bart-large: facebook/bart-large-mnli's layer sizes with random weights, built as
  benchmarks/inference_benchmark.py builds it (the hub is not reachable here; weights of the
  same shape take the same memory);
- minilm: the bundled sentence-transformers/all-MiniLM-L6-v2 (embedding mode).

    .venv/bin/python benchmarks/serverless_memory.py --model bart-large --precision fp32
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inference_benchmark import BART_LARGE, build_model, generate_texts

from zstc.local.endpoint import LocalEndpoint, find_free_port
from zstc.model_server_settings import ModelServerSettings
from zstc.models.artifact import prepare_model_dir
from zstc.models.model_sources import bundled_model_dir

LABELS = [f"label {number}" for number in range(10)]
# 200 pairs (the default max_pairs_per_request): 20 texts x 10 labels.
TEXTS_PER_REQUEST = 20
# Text of about 1000 words: truncated at the model's 1024 tokens, the longest pair it takes.
# On CPU the token budget per batch is 1024 (inference_code/token_batching.py), so each of its
# pairs is a batch of its own: one such text already reaches the largest batch there is.
LONG_TEXT = " ".join(["classification"] * 1000)
LONG_TEXTS_PER_REQUEST = 1


def _peak_rss_bytes(process: psutil.Process) -> int:
    """VmHWM: the kernel's record of the process's peak resident set size."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _tree(endpoint: LocalEndpoint) -> list[psutil.Process]:
    assert endpoint._supervisor is not None
    root = psutil.Process(endpoint._supervisor.pid)
    return [root, *root.children(recursive=True)]


def measure(model_dir: Path, *, precision: str, long_texts: bool) -> dict[str, object]:
    env = {"ZSTC_PRECISION": precision}
    sampled_peak = 0
    stop = threading.Event()
    # Memory does not depend on the timeout; a long one keeps a slow (shared) CPU from having
    # the worker killed half-way, which the real-time 60 s would do here.
    patient = ModelServerSettings(timeout_seconds=3600)
    with LocalEndpoint(
        model_dir, port=find_free_port(), env=env, model_server=patient, startup_timeout_s=900
    ) as server:

        def sample() -> None:
            nonlocal sampled_peak
            while not stop.is_set():
                try:
                    total = sum(process.memory_info().rss for process in _tree(server))
                except psutil.Error:
                    total = 0
                sampled_peak = max(sampled_peak, total)
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        after_load = sum(process.memory_info().rss for process in _tree(server))
        requests = [generate_texts(count=TEXTS_PER_REQUEST, seed=1)]
        if long_texts:
            requests.append([LONG_TEXT] * LONG_TEXTS_PER_REQUEST)
        timings = []
        for texts in requests:
            body = json.dumps({"inputs": texts, "parameters": {"candidate_labels": LABELS}})
            started = time.perf_counter()
            answer = server.invoke(body, timeout_s=1800)
            timings.append(round(time.perf_counter() - started, 1))
            if answer.status != 200:
                raise RuntimeError(f"request failed: {answer.status} {answer.body[:300]!r}")
        stop.set()
        sampler.join()
        peaks = {
            f"{process.pid} {' '.join(process.cmdline()[:2])[-60:]}": _peak_rss_bytes(process)
            for process in _tree(server)
        }
    mib = 2**20
    return {
        "precision": precision,
        "rss_after_load_mib": round(after_load / mib),
        "sampled_peak_tree_rss_mib": round(sampled_peak / mib),
        "sum_of_process_peaks_mib": round(sum(peaks.values()) / mib),
        "process_peaks_mib": {name: round(value / mib) for name, value in peaks.items()},
        "request_seconds": timings,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("bart-large", "minilm"), required=True)
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--short-only", action="store_true", help="skip the 1024-token request")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zstc-memory-") as scratch:
        if args.model == "bart-large":
            weights = build_model(shape=BART_LARGE, target=Path(scratch) / "weights", seed=0)
        else:
            weights = bundled_model_dir()
        model_dir = prepare_model_dir(Path(scratch) / "model", weights_dir=weights)
        result = measure(model_dir, precision=args.precision, long_texts=not args.short_only)
    print(json.dumps({"model": args.model, **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""What each endpoint_mode costs idle and per million classifications, and where they cross.

Every number comes from a constant below, each with its source: prices from the AWS SageMaker
pricing page, throughput from this project's measurements (docs/benchmarks.md, the load run in
the README) and the GPU sizing estimate (docs/sizing.md). A classification is one text with the
README example's nine labels, nine (text, label) pairs for an NLI model.

    .venv/bin/python benchmarks/serving_mode_costs.py
"""

from __future__ import annotations

import sys

HOURS_PER_MONTH = 730
LABELS = 9
MILLION = 1_000_000

# Prices, us-east-1, on-demand, as published on https://aws.amazon.com/sagemaker/ai/pricing/
# (real-time, asynchronous and serverless inference tables). The ml.g4dn.xlarge hourly price
# matches the about $0.74 an hour the project has quoted since its first release; the serverless
# prices could not be re-read from the pricing page when this table was made (2026-12), so they
# are ESTIMATES: verify all three for your region before relying on the table.
G4DN_XLARGE_PER_HOUR = 0.7364
SERVERLESS_PER_GB_SECOND = 0.0000200
SERVERLESS_DATA_PER_GB = 0.016

# Throughput.
# GPU (ml.g4dn.xlarge, one T4): an ESTIMATE from docs/sizing.md, 10 TFLOP/s sustained on typical
# pairs of 32.1 GFLOP; no T4 was available to measure.
GPU_PAIRS_PER_SECOND = 10_000 / 32.1
# bart-large on CPU, zstc fp32: 8.40 pairs/s MEASURED on a 2-core Intel Xeon (docs/benchmarks.md,
# path (c)); fp32 because a serverless CPU's bf16 support is not known in advance. How many vCPUs
# a serverless endpoint gets is not published; this assumes two.
CPU_BART_PAIRS_PER_SECOND = 8.40
# all-MiniLM-L6-v2 (embedding mode), nine labels per request: 123.8 requests/s MEASURED with one
# client on the real local model server (README, load run), HTTP included.
CPU_MINILM_CLASSIFICATIONS_PER_SECOND = 123.8
# One JSON request and its answer with nine labels: about 1 KB in and 1 KB out.
BYTES_PER_CLASSIFICATION = 2_000


def serverless_cost_per_million(*, memory_gb: int, seconds_per_classification: float) -> float:
    compute = MILLION * seconds_per_classification * memory_gb * SERVERLESS_PER_GB_SECOND
    data = MILLION * BYTES_PER_CLASSIFICATION / 1e9 * SERVERLESS_DATA_PER_GB
    return compute + data


def rows() -> list[tuple[str, str, float, float]]:
    """(mode, model and compute, idle cost per month, cost per million classifications)."""
    gpu_seconds = LABELS / GPU_PAIRS_PER_SECOND
    gpu_per_million = MILLION * gpu_seconds / 3600 * G4DN_XLARGE_PER_HOUR
    return [
        (
            "realtime",
            "bart-large-mnli, ml.g4dn.xlarge (always on)",
            G4DN_XLARGE_PER_HOUR * HOURS_PER_MONTH,
            gpu_per_million,
        ),
        (
            "async",
            "bart-large-mnli, ml.g4dn.xlarge (0 instances when idle)",
            0.0,
            gpu_per_million,
        ),
        (
            "serverless",
            "bart-large-mnli, 6144 MB CPU",
            0.0,
            serverless_cost_per_million(
                memory_gb=6, seconds_per_classification=LABELS / CPU_BART_PAIRS_PER_SECOND
            ),
        ),
        (
            "serverless",
            "all-MiniLM-L6-v2 (embedding), 2048 MB CPU",
            0.0,
            serverless_cost_per_million(
                memory_gb=2, seconds_per_classification=1 / CPU_MINILM_CLASSIFICATIONS_PER_SECOND
            ),
        ),
    ]


def main() -> int:
    print("| mode | model, compute | idle per month | per million classifications |")
    print("|---|---|---:|---:|")
    table = rows()
    for mode, what, idle, per_million in table:
        print(f"| {mode} | {what} | ${idle:,.2f} | ${per_million:,.2f} |")
    realtime_idle = table[0][2]
    serverless_bart = table[2][3]
    crossover = realtime_idle / serverless_bart * MILLION
    print(
        f"\nServerless bart-large-mnli costs more than the always-on endpoint above "
        f"{crossover / 1e6:.2f} million classifications a month "
        f"({crossover / (HOURS_PER_MONTH * 3600):.2f} per second on average)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

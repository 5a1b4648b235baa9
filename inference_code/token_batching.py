"""Batches of tokenized sequences under a padded-token budget, padded only to each batch's max.

Sequences are sorted longest first, so each batch holds sequences of similar length and little
compute is spent on padding; the longest batch comes first, so an out-of-memory shows at once.
Padding is always on the right: models with absolute positions (BERT) and BART's decoder, which
gets no attention mask, give the same logits as for the unpadded sequence only that way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torch

MAX_BATCH_TOKENS_ENV = "ZSTC_MAX_BATCH_TOKENS"
# Padded tokens per forward pass. On CPU the matrix multiplications reach their peak well below
# 1024 tokens, and bigger batches only spill the activations out of the caches: on a bart-large
# shape, `make bench` ran about 15% slower at 4096 tokens than at 1024, in fp32 and in bf16.
# A GPU needs big batches to be busy (16k tokens of bart-large fit a 16 GB T4 at fp16).
DEFAULT_MAX_BATCH_TOKENS_CPU = 1024
DEFAULT_MAX_BATCH_TOKENS_GPU = 16384


def max_batch_tokens_from_env(
    *, device: torch.device, environ: Mapping[str, str] | None = None
) -> int:
    environ = os.environ if environ is None else environ
    raw = environ.get(MAX_BATCH_TOKENS_ENV, "").strip()
    if not raw:
        return (
            DEFAULT_MAX_BATCH_TOKENS_GPU if device.type == "cuda" else DEFAULT_MAX_BATCH_TOKENS_CPU
        )
    try:
        budget = int(raw)
    except ValueError:
        budget = 0
    if budget < 1:
        raise ValueError(
            f"{MAX_BATCH_TOKENS_ENV}={raw!r} is not allowed: use a positive integer number of "
            f"padded tokens per batch (default {DEFAULT_MAX_BATCH_TOKENS_CPU} on CPU, "
            f"{DEFAULT_MAX_BATCH_TOKENS_GPU} on GPU)"
        )
    return budget


def plan_batches(*, lengths: Sequence[int], max_batch_tokens: int) -> list[list[int]]:
    """Indices into `lengths`, grouped so that len(batch) * longest <= budget (at least one)."""
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        # Sorted longest first: the batch's padded width is the length of its first member.
        width = lengths[current[0]] if current else lengths[index]
        if current and (len(current) + 1) * width > max_batch_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def pad_right(
    *, sequences: Sequence[Sequence[int]], pad_value: int, device: torch.device
) -> torch.Tensor:
    width = max(len(sequence) for sequence in sequences)
    padded = torch.full((len(sequences), width), pad_value, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        padded[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
    return padded.to(device)


def attention_mask(*, sequences: Sequence[Sequence[int]], device: torch.device) -> torch.Tensor:
    return pad_right(
        sequences=[[1] * len(sequence) for sequence in sequences], pad_value=0, device=device
    )

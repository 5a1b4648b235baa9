"""Token-budget batching: every sequence exactly once, budgets respected, right padding."""

from __future__ import annotations

import random

import torch
from token_batching import attention_mask, pad_right, plan_batches


def test_batches_cover_every_index_once_and_respect_the_budget() -> None:
    rng = random.Random(3)
    for budget in (1, 16, 100, 1000):
        lengths = [rng.randint(1, 60) for _ in range(200)]
        batches = plan_batches(lengths=lengths, max_batch_tokens=budget)
        assert sorted(index for batch in batches for index in batch) == list(range(200))
        for batch in batches:
            padded_tokens = len(batch) * max(lengths[index] for index in batch)
            # A single sequence longer than the budget still runs, alone.
            assert padded_tokens <= budget or len(batch) == 1


def test_batches_group_similar_lengths_longest_first() -> None:
    lengths = [5, 50, 6, 49, 7, 48]
    batches = plan_batches(lengths=lengths, max_batch_tokens=100)
    assert batches == [[1, 3], [5, 4], [2, 0]]


def test_padding_is_on_the_right_with_a_matching_mask() -> None:
    sequences = [[7, 8, 9], [5]]
    device = torch.device("cpu")
    assert pad_right(sequences=sequences, pad_value=0, device=device).tolist() == [
        [7, 8, 9],
        [5, 0, 0],
    ]
    assert attention_mask(sequences=sequences, device=device).tolist() == [[1, 1, 1], [1, 0, 0]]

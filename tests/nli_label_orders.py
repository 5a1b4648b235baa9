"""Label orders of real NLI checkpoints, and the type of the tiny-model factory fixture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

# bart-large-mnli puts entailment last; several deberta and roberta NLI models put it first.
ENTAILMENT_LAST = {"contradiction": 0, "neutral": 1, "entailment": 2}
ENTAILMENT_FIRST = {"entailment": 0, "neutral": 1, "contradiction": 2}

NliModelFactory = Callable[..., Path]

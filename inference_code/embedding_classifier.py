"""Embedding zero-shot classification with a sentence-transformers bi-encoder, in plain torch.

The text and each hypothesis (hypothesis_template.format(label)) are embedded the way
sentence-transformers embeds them (strip, optional lower-casing, truncation at max_seq_length,
the pooling of 1_Pooling/config.json, the Normalize module when modules.json lists one), and each
label gets the cosine similarity s between the text and its hypothesis.

Scores:
- single-label (multi_label false, two or more labels): softmax(s / T) over the labels with the
  temperature T = 0.05, so the scores sum to 1. Cosine similarities of one text to different
  labels lie close together (typically within 0.3), and T = 0.05 turns a 0.1 lead into about
  7x the probability mass (e^2);
- multi-label (or a single label, as the NLI pipeline also does): each label independently
  sigmoid((s - 0.2) / 0.05), so a similarity of 0.2 maps to 0.5 and each 0.05 above or below
  it moves the score one logit. Calibrated on the labelled sample in zstc/data (27 New
  Year's resolutions, nine categories, default template): all-MiniLM-L6-v2 gives the right
  label a median similarity of 0.23 (scores about 0.65) and wrong labels a median of 0.06 with
  a 90th percentile of 0.17 (scores below about 0.37). Other models and templates shift the
  similarity range, so recalibrate the threshold for yours; rankings do not depend on it.

Hypothesis embeddings are cached across requests (LRU), since batch jobs reuse the same labels
for every line. The cache is bounded by entries and by bytes (the hypothesis text and its
vector), so long hypotheses cannot make the worker grow without bound.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from classification_result import Outcome, ZeroShotClassifier, ranked
from request_contract import TextTask
from request_deadline import Deadline, no_deadline
from token_batching import attention_mask, pad_right, plan_batches

SINGLE_LABEL_TEMPERATURE = 0.05
MULTI_LABEL_CENTER = 0.2
MULTI_LABEL_WIDTH = 0.05
DEFAULT_HYPOTHESIS_CACHE_SIZE = 4096
# 4096 entries of a 384-dimension float32 vector and a 100-character hypothesis are about 7 MB;
# 64 MiB leaves room for longer hypotheses and wider models, and stops there.
DEFAULT_HYPOTHESIS_CACHE_BYTES = 64 * 1024 * 1024
# What CPython and torch spend on one entry beyond the text's and the vector's bytes
# (sys.getsizeof of an empty str and tensor object, and the OrderedDict link), rounded up.
_CACHE_ENTRY_OVERHEAD_BYTES = 256


def cache_entry_bytes(hypothesis: str, vector: torch.Tensor) -> int:
    """What one cached hypothesis costs in memory, for the byte bound of the cache."""
    text_bytes = len(hypothesis.encode("utf-8", "surrogatepass"))
    return text_bytes + vector.element_size() * vector.nelement() + _CACHE_ENTRY_OVERHEAD_BYTES


# Pooling modes this module implements, by their key in 1_Pooling/config.json, in the order
# sentence-transformers concatenates them.
_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
    "pooling_mode_lasttoken": "lasttoken",
}
_UNSUPPORTED_POOLING_KEYS = ("pooling_mode_weightedmean_tokens",)
_TRANSFORMER_MODULE = "sentence_transformers.models.Transformer"
_POOLING_MODULE = "sentence_transformers.models.Pooling"
_NORMALIZE_MODULE = "sentence_transformers.models.Normalize"
_UNBOUNDED_LENGTH = 10**12


class EmbeddingModelError(RuntimeError):
    """The sentence-transformers directory uses a feature this module does not implement."""


@dataclass(frozen=True, kw_only=True)
class SentenceEmbeddingLayout:
    """What sentence-transformers' modules.json and configs say about producing an embedding."""

    transformer_dir: Path
    pooling_modes: tuple[str, ...]
    normalize: bool
    max_seq_length: int | None
    do_lower_case: bool
    # config_sentence_transformers.json's default prompt, which encode() prepends to every input.
    default_prompt: str = ""


def read_layout(model_dir: Path) -> SentenceEmbeddingLayout:
    """Reads modules.json (or, without it, the conventional file names) of a ST directory."""
    transformer_dir = model_dir
    pooling_dir: Path | None = None
    normalize = False
    modules_file = model_dir / "modules.json"
    if modules_file.is_file():
        for module in json.loads(modules_file.read_text(encoding="utf-8")):
            module_type = module.get("type", "")
            module_dir = model_dir / module.get("path", "")
            if module_type == _TRANSFORMER_MODULE:
                transformer_dir = module_dir
            elif module_type == _POOLING_MODULE:
                pooling_dir = module_dir
            elif module_type == _NORMALIZE_MODULE:
                normalize = True
            else:
                raise EmbeddingModelError(
                    f"modules.json module {module.get('name')!r} has type {module_type!r}, which "
                    f"zstc does not implement: supported are {_TRANSFORMER_MODULE}, "
                    f"{_POOLING_MODULE} and {_NORMALIZE_MODULE}"
                )
    else:
        if (model_dir / "1_Pooling").is_dir():
            pooling_dir = model_dir / "1_Pooling"
        normalize = (model_dir / "2_Normalize").is_dir()
    pooling_modes = _pooling_modes(pooling_dir)
    st_config: dict[str, Any] = {}
    st_config_file = transformer_dir / "sentence_bert_config.json"
    if st_config_file.is_file():
        st_config = json.loads(st_config_file.read_text(encoding="utf-8"))
    max_seq_length = st_config.get("max_seq_length")
    return SentenceEmbeddingLayout(
        default_prompt=_default_prompt(model_dir),
        transformer_dir=transformer_dir,
        pooling_modes=pooling_modes,
        normalize=normalize,
        max_seq_length=int(max_seq_length) if max_seq_length else None,
        do_lower_case=bool(st_config.get("do_lower_case", False)),
    )


def _default_prompt(model_dir: Path) -> str:
    config_file = model_dir / "config_sentence_transformers.json"
    if not config_file.is_file():
        return ""
    config = json.loads(config_file.read_text(encoding="utf-8"))
    name = config.get("default_prompt_name")
    if not name:
        return ""
    prompts = config.get("prompts") or {}
    if name not in prompts:
        raise EmbeddingModelError(
            f"{config_file}: default_prompt_name {name!r} is not one of the prompts "
            f"{sorted(prompts)!r}"
        )
    return str(prompts[name])


def _pooling_modes(pooling_dir: Path | None) -> tuple[str, ...]:
    if pooling_dir is None:
        # sentence-transformers' own default when a plain transformer is loaded.
        return ("mean",)
    config = json.loads((pooling_dir / "config.json").read_text(encoding="utf-8"))
    for key in _UNSUPPORTED_POOLING_KEYS:
        if config.get(key):
            raise EmbeddingModelError(
                f"{pooling_dir / 'config.json'}: {key} is not supported; supported pooling "
                f"modes are {sorted(_POOLING_KEYS)}"
            )
    if config.get("include_prompt") is False:
        raise EmbeddingModelError(
            f"{pooling_dir / 'config.json'}: include_prompt=false is not supported"
        )
    modes = tuple(mode for key, mode in _POOLING_KEYS.items() if config.get(key))
    if not modes:
        raise EmbeddingModelError(
            f"{pooling_dir / 'config.json'} enables no pooling mode: set one of "
            f"{sorted(_POOLING_KEYS)}"
        )
    return modes


def pool(
    *, token_embeddings: torch.Tensor, mask: torch.Tensor, modes: Sequence[str]
) -> torch.Tensor:
    """sentence-transformers' Pooling.forward for the supported modes, concatenated in order."""
    expanded = mask.unsqueeze(-1).to(token_embeddings.dtype)
    vectors = []
    for mode in modes:
        if mode == "cls":
            vectors.append(token_embeddings[:, 0])
        elif mode == "max":
            vectors.append(token_embeddings.masked_fill(expanded == 0, -1e9).max(dim=1).values)
        elif mode in ("mean", "mean_sqrt_len"):
            summed = (token_embeddings * expanded).sum(dim=1)
            counts = expanded.sum(dim=1).clamp(min=1e-9)
            vectors.append(summed / counts if mode == "mean" else summed / torch.sqrt(counts))
        elif mode == "lasttoken":
            last = mask.sum(dim=1).clamp(min=1) - 1
            vectors.append(token_embeddings[torch.arange(token_embeddings.shape[0]), last])
        else:
            raise EmbeddingModelError(f"pooling mode {mode!r} is not supported")
    return torch.cat(vectors, dim=1)


def single_label_scores(similarities: np.ndarray) -> np.ndarray:
    logits = similarities / SINGLE_LABEL_TEMPERATURE
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


def multi_label_scores(similarities: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(similarities - MULTI_LABEL_CENTER) / MULTI_LABEL_WIDTH))


class EmbeddingClassifier(ZeroShotClassifier):
    """Zero-shot classification by similarity of text and hypothesis embeddings."""

    kind = "embedding"

    def __init__(
        self,
        *,
        # A transformers PreTrainedModel; typed Any because transformers' lazy imports hide it.
        model: Any,
        tokenizer: Any,
        layout: SentenceEmbeddingLayout,
        device: torch.device,
        max_batch_tokens: int,
        hypothesis_cache_size: int = DEFAULT_HYPOTHESIS_CACHE_SIZE,
        hypothesis_cache_bytes: int = DEFAULT_HYPOTHESIS_CACHE_BYTES,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.layout = layout
        self.device = device
        self.max_batch_tokens = max_batch_tokens
        self.hypothesis_cache_size = hypothesis_cache_size
        self.hypothesis_cache_bytes = hypothesis_cache_bytes
        self._hypothesis_cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cached_bytes = 0
        self._cache_lock = threading.Lock()
        self.max_seq_length = layout.max_seq_length or self._default_max_seq_length()
        self._input_names = tuple(tokenizer.model_input_names)

    def _default_max_seq_length(self) -> int:
        # sentence-transformers' rule when sentence_bert_config.json gives no max_seq_length.
        limits = [getattr(self.model.config, "max_position_embeddings", _UNBOUNDED_LENGTH)]
        limits.append(self.tokenizer.model_max_length)
        return int(min(limits))

    def classify_tasks(
        self, tasks: Sequence[TextTask], *, deadline: Deadline | None = None
    ) -> list[Outcome]:
        texts = list(dict.fromkeys(task.text for task in tasks))
        hypotheses = list(
            dict.fromkeys(
                hypothesis for task in tasks for hypothesis in task.parameters.hypotheses()
            )
        )
        hypothesis_vectors = self._lookup(hypotheses)
        missing = [hypothesis for hypothesis in hypotheses if hypothesis not in hypothesis_vectors]
        # Texts and new hypotheses share one batched pass through the encoder.
        embedded = self.embed([*texts, *missing], deadline=deadline)
        text_vectors = dict(zip(texts, embedded[: len(texts)], strict=True))
        new_vectors = dict(zip(missing, embedded[len(texts) :], strict=True))
        self._remember(new_vectors)
        hypothesis_vectors.update(new_vectors)
        outcomes: list[Outcome] = []
        for task in tasks:
            text_unit = torch.nn.functional.normalize(text_vectors[task.text], dim=-1)
            label_units = torch.nn.functional.normalize(
                torch.stack([hypothesis_vectors[h] for h in task.parameters.hypotheses()]), dim=-1
            )
            similarities = (label_units @ text_unit).numpy().astype(np.float64)
            if task.parameters.multi_label or len(similarities) == 1:
                scores = multi_label_scores(similarities)
            else:
                scores = single_label_scores(similarities)
            outcomes.append(
                ranked(sequence=task.text, labels=task.parameters.candidate_labels, scores=scores)
            )
        return outcomes

    def embed(self, sentences: Sequence[str], *, deadline: Deadline | None = None) -> torch.Tensor:
        """Sentence embeddings (float32, on CPU), as sentence-transformers' encode() gives them."""
        deadline = deadline or no_deadline()
        if not sentences:
            return torch.empty((0, 0))
        prepared = [(self.layout.default_prompt + sentence).strip() for sentence in sentences]
        if self.layout.do_lower_case:
            prepared = [sentence.lower() for sentence in prepared]
        encoded = self.tokenizer(
            prepared, truncation="longest_first", max_length=self.max_seq_length, padding=False
        )
        names = [name for name in self._input_names if name in encoded]
        lengths = [len(ids) for ids in encoded["input_ids"]]
        rows: list[torch.Tensor | None] = [None] * len(prepared)
        for batch in plan_batches(lengths=lengths, max_batch_tokens=self.max_batch_tokens):
            deadline.check()
            inputs: dict[str, torch.Tensor] = {}
            for name in names:
                sequences = [encoded[name][index] for index in batch]
                if name == "attention_mask":
                    inputs[name] = attention_mask(sequences=sequences, device=self.device)
                else:
                    pad_value = self.tokenizer.pad_token_id if name == "input_ids" else 0
                    inputs[name] = pad_right(
                        sequences=sequences, pad_value=pad_value or 0, device=self.device
                    )
            mask = attention_mask(
                sequences=[encoded["input_ids"][index] for index in batch], device=self.device
            )
            with torch.inference_mode():
                token_embeddings = self.model(**inputs)[0].float()
                vectors = pool(
                    token_embeddings=token_embeddings, mask=mask, modes=self.layout.pooling_modes
                )
                if self.layout.normalize:
                    vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
            for row, index in enumerate(batch):
                rows[index] = vectors[row].cpu()
        return torch.stack([row for row in rows if row is not None])

    def warm_up(self) -> None:
        """One small request at load, so the first caller does not pay for lazy initialisation."""
        self.embed(["zstc warm-up text"])

    def _lookup(self, hypotheses: Sequence[str]) -> dict[str, torch.Tensor]:
        with self._cache_lock:
            found = {}
            for hypothesis in hypotheses:
                if hypothesis in self._hypothesis_cache:
                    self._hypothesis_cache.move_to_end(hypothesis)
                    found[hypothesis] = self._hypothesis_cache[hypothesis]
            return found

    def _remember(self, vectors: dict[str, torch.Tensor]) -> None:
        with self._cache_lock:
            for hypothesis, vector in vectors.items():
                if hypothesis in self._hypothesis_cache:
                    old = self._hypothesis_cache.pop(hypothesis)
                    self._cached_bytes -= cache_entry_bytes(hypothesis, old)
                size = cache_entry_bytes(hypothesis, vector)
                if size > self.hypothesis_cache_bytes:
                    continue
                self._hypothesis_cache[hypothesis] = vector
                self._cached_bytes += size
            while self._hypothesis_cache and (
                len(self._hypothesis_cache) > self.hypothesis_cache_size
                or self._cached_bytes > self.hypothesis_cache_bytes
            ):
                evicted, vector = self._hypothesis_cache.popitem(last=False)
                self._cached_bytes -= cache_entry_bytes(evicted, vector)

    def cached_bytes(self) -> int:
        """The memory the cache holds by cache_entry_bytes, at most hypothesis_cache_bytes."""
        with self._cache_lock:
            return self._cached_bytes

    def cached_hypotheses(self) -> tuple[str, ...]:
        """The hypotheses whose embeddings are cached, least recently used first."""
        with self._cache_lock:
            return tuple(self._hypothesis_cache)

"""NLI zero-shot classification with the scores of transformers' zero-shot pipeline, but faster.

Each (text, hypothesis_template.format(label)) pair goes through a sequence-classification NLI
model. The score math is the pipeline's (transformers 4.51.3, zero_shot_classification.py):
- entailment id: the first label in config.label2id that starts with "entail" (any case);
- contradiction id: 0, or the last class when entailment is 0;
- multi_label or a single candidate label: per label, softmax over [contradiction, entailment];
- otherwise: softmax of the entailment logits over all labels;
- long texts: only the premise is truncated (truncation="only_first").

Speed comes from batching: every pair of a request (or of a whole JSON Lines payload, across
lines) is tokenized in one call, sorted by length, and run in batches under a padded-token
budget, under torch.inference_mode.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from classification_result import Outcome, TaskFailure, ZeroShotClassifier, ranked
from request_contract import TextTask
from request_deadline import Deadline, no_deadline
from server_error_log import SERVER_ERROR_MESSAGE, log_server_error
from token_batching import attention_mask, pad_right, plan_batches

# transformers' marker for "this tokenizer has no real length limit".
_UNBOUNDED_LENGTH = 10**12
# Pairs tokenized per call, so the request deadline is checked while a large request is still
# being tokenized (a 200-pair request of 1 MB texts tokenizes 200 MB).
TOKENIZE_CHUNK_PAIRS = 64


class ModelLoadError(RuntimeError):
    """The model cannot serve zero-shot classification; raised at load time, not per request."""


def find_entailment_id(label2id: Mapping[str, int]) -> int:
    """The pipeline's rule: the first label starting with "entail", case-insensitive."""
    for label, index in label2id.items():
        if label.lower().startswith("entail"):
            return int(index)
    raise ModelLoadError(
        f"the model's config.label2id {dict(label2id)!r} has no entailment label (one starting "
        "with 'entail'): zero-shot classification needs an NLI model such as "
        "facebook/bart-large-mnli, or a sentence-transformers model with ZSTC_MODEL_KIND=embedding"
    )


def contradiction_id_for(entailment_id: int) -> int:
    # The pipeline's rule, kept as is: -1 indexes the last class.
    return -1 if entailment_id == 0 else 0


def label_scores(*, logits: np.ndarray, entailment_id: int, multi_label: bool) -> np.ndarray:
    """Scores per label from the (labels, classes) float32 logits of one text."""
    if multi_label or logits.shape[0] == 1:
        pair = logits[:, [contradiction_id_for(entailment_id), entailment_id]]
        pair = pair - pair.max(axis=-1, keepdims=True)
        exp = np.exp(pair)
        return (exp / exp.sum(axis=-1, keepdims=True))[:, 1]
    entail = logits[:, entailment_id]
    exp = np.exp(entail - entail.max())
    return exp / exp.sum()


def _model_failure(error: Exception) -> TaskFailure:
    """A forward pass that failed (out of memory, a model that rejects the input): logged as a
    server error; the caller sees a fixed message, never the exception's text."""
    log_server_error(stage="model forward pass", error=error)
    return TaskFailure(message=SERVER_ERROR_MESSAGE, server_error=True)


class NliClassifier(ZeroShotClassifier):
    """Zero-shot classification with an NLI cross-encoder."""

    kind = "nli"

    def __init__(
        self,
        *,
        # A transformers PreTrainedModel; typed Any because transformers' lazy imports hide it.
        model: Any,
        tokenizer: Any,
        device: torch.device,
        max_batch_tokens: int,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = device
        self.max_batch_tokens = max_batch_tokens
        self.entailment_id = find_entailment_id(model.config.label2id)
        if tokenizer.pad_token is None:
            # The pipeline does the same for tokenizers without a padding token.
            tokenizer.pad_token = tokenizer.eos_token
        self._input_names = tuple(tokenizer.model_input_names)
        forward_parameters = inspect.signature(model.forward).parameters
        # Sequence-classification heads never reuse a decoder cache; building it costs time.
        self._extra_forward_args = {"use_cache": False} if "use_cache" in forward_parameters else {}

    def classify_tasks(
        self, tasks: Sequence[TextTask], *, deadline: Deadline | None = None
    ) -> list[Outcome]:
        deadline = deadline or no_deadline()
        premises: list[str] = []
        hypotheses: list[str] = []
        owners: list[int] = []
        for task_index, task in enumerate(tasks):
            for hypothesis in task.parameters.hypotheses():
                premises.append(task.text)
                hypotheses.append(hypothesis)
                owners.append(task_index)
        failures: dict[int, TaskFailure] = {}
        encodings: list[dict[str, list[int]] | TaskFailure] = []
        for start in range(0, len(premises), TOKENIZE_CHUNK_PAIRS):
            deadline.check()
            end = start + TOKENIZE_CHUNK_PAIRS
            encodings.extend(
                self._tokenize_pairs(premises=premises[start:end], hypotheses=hypotheses[start:end])
            )
        for pair_index, encoding in enumerate(encodings):
            if isinstance(encoding, TaskFailure):
                failures.setdefault(owners[pair_index], encoding)
        runnable = {
            index: encoding
            for index, encoding in enumerate(encodings)
            if not isinstance(encoding, TaskFailure) and owners[index] not in failures
        }
        logits = self._pair_logits(
            encodings=runnable, owners=owners, failures=failures, deadline=deadline
        )
        outcomes: list[Outcome] = []
        start = 0
        for task_index, task in enumerate(tasks):
            count = len(task.parameters.candidate_labels)
            if task_index in failures:
                outcomes.append(failures[task_index])
            else:
                task_logits = np.stack([logits[index] for index in range(start, start + count)])
                scores = label_scores(
                    logits=task_logits,
                    entailment_id=self.entailment_id,
                    multi_label=task.parameters.multi_label,
                )
                outcomes.append(
                    ranked(
                        sequence=task.text, labels=task.parameters.candidate_labels, scores=scores
                    )
                )
            start += count
        return outcomes

    def warm_up(self) -> None:
        """One small request at load, so the first caller does not pay for lazy initialisation."""
        self.classify(["zstc warm-up text"], ["warm", "up"])

    def _tokenize_pairs(
        self, *, premises: list[str], hypotheses: list[str]
    ) -> list[dict[str, list[int]] | TaskFailure]:
        """Token ids per pair, or the reason a pair cannot be tokenized."""
        if not premises:
            return []
        try:
            batch = self.tokenizer(premises, hypotheses, truncation="only_first", padding=False)
        except Exception:
            # One pair whose hypothesis alone exceeds the limit fails the whole batched call;
            # redo pair by pair so only that text fails.
            return [
                self._tokenize_one(premise=premise, hypothesis=hypothesis)
                for premise, hypothesis in zip(premises, hypotheses, strict=True)
            ]
        names = [name for name in self._input_names if name in batch]
        return [{name: batch[name][index] for name in names} for index in range(len(premises))]

    def _tokenize_one(self, *, premise: str, hypothesis: str) -> dict[str, list[int]] | TaskFailure:
        try:
            try:
                encoding = self.tokenizer(premise, hypothesis, truncation="only_first")
            except Exception as error:
                if "too short" not in str(error):
                    raise
                # The pipeline's fallback: the premise cannot be cut enough, so do not truncate.
                encoding = self.tokenizer(premise, hypothesis, truncation=False)
                limit = self.tokenizer.model_max_length
                if limit < _UNBOUNDED_LENGTH and len(encoding["input_ids"]) > limit:
                    # Compact, as error lines are: the start of the hypothesis, not all of it.
                    shown = hypothesis if len(hypothesis) <= 20 else hypothesis[:20] + "..."
                    return TaskFailure(
                        message=f"hypothesis {shown!r} is too long for the model: the "
                        f"text and hypothesis need {len(encoding['input_ids'])} tokens, the "
                        f"model takes {limit}; shorten the label or the hypothesis_template"
                    )
        except Exception as error:
            # The request contract admits only valid text, so this is the server's failure.
            log_server_error(stage="tokenize", error=error)
            return TaskFailure(message=SERVER_ERROR_MESSAGE, server_error=True)
        return {name: encoding[name] for name in self._input_names if name in encoding}

    def _pair_logits(
        self,
        *,
        encodings: dict[int, dict[str, list[int]]],
        owners: list[int],
        failures: dict[int, TaskFailure],
        deadline: Deadline,
    ) -> dict[int, np.ndarray]:
        indices = list(encodings)
        lengths = [len(encodings[index]["input_ids"]) for index in indices]
        logits: dict[int, np.ndarray] = {}
        for batch in plan_batches(lengths=lengths, max_batch_tokens=self.max_batch_tokens):
            deadline.check()
            pair_indices = [indices[position] for position in batch]
            try:
                batch_logits = self._forward([encodings[index] for index in pair_indices])
            except Exception as error:
                if len(pair_indices) == 1:
                    failures.setdefault(owners[pair_indices[0]], _model_failure(error))
                    continue
                # E.g. BART refuses a batch whose rows hold different numbers of </s> (a text
                # that contains "</s>"), and a long batch can run out of GPU memory: retry
                # alone so one odd text fails, not the batch.
                for index in pair_indices:
                    try:
                        logits[index] = self._forward([encodings[index]])[0]
                    except Exception as single_error:
                        failures.setdefault(owners[index], _model_failure(single_error))
                continue
            for row, index in enumerate(pair_indices):
                logits[index] = batch_logits[row]
        return logits

    def _forward(self, encodings: list[dict[str, list[int]]]) -> np.ndarray:
        inputs: dict[str, torch.Tensor] = {}
        for name in encodings[0]:
            sequences = [encoding[name] for encoding in encodings]
            if name == "attention_mask":
                inputs[name] = attention_mask(sequences=sequences, device=self.device)
            elif name == "input_ids":
                inputs[name] = pad_right(
                    sequences=sequences, pad_value=self.tokenizer.pad_token_id, device=self.device
                )
            else:
                inputs[name] = pad_right(
                    sequences=sequences,
                    pad_value=getattr(self.tokenizer, "pad_token_type_id", 0),
                    device=self.device,
                )
        if "attention_mask" not in inputs:
            inputs["attention_mask"] = attention_mask(
                sequences=[encoding["input_ids"] for encoding in encodings], device=self.device
            )
        with torch.inference_mode():
            output = self.model(**inputs, **self._extra_forward_args)
        return output.logits.float().cpu().numpy()

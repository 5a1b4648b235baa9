"""Where things live in the data bucket.

Batch input and output sit under separate prefixes so that writing a result can never match the
input notification filter and re-trigger processing.
"""

from __future__ import annotations

INPUT_PREFIX = "input/"
OUTPUT_PREFIX = "output/"
DATASETS_PREFIX = "datasets/"
# One manifest per transform job, written by the batch trigger: it names the exact objects a job
# reads, so "input/a.jsonl" never also selects "input/a.jsonl.bak".
MANIFESTS_PREFIX = "manifests/"
# The batch trigger's copies of the exact object versions each job reads, one folder per job:
# a job started hours after an upload, or reading for hours, never sees a later overwrite.
PINNED_INPUTS_PREFIX = "pinned-inputs/"
# The model files the weights copy writes at deploy, one folder per serving stack and copy
# (stacks/model_weights.py); outside input/ and datasets/, so they never start a job.
MODEL_DATA_PREFIX = "model-data/"
# Asynchronous inference (endpoint_mode=async), one folder per endpoint stack under each: the
# client uploads each request under inputs/, SageMaker writes each answer under outputs/ and
# each failure under failures/. All of it expires (data stack, ExpireAsyncInference).
ASYNC_PREFIX = "async/"
ASYNC_INPUTS_PREFIX = ASYNC_PREFIX + "inputs/"
ASYNC_OUTPUTS_PREFIX = ASYNC_PREFIX + "outputs/"
ASYNC_FAILURES_PREFIX = ASYNC_PREFIX + "failures/"

"""The readiness probe speaks the endpoint's real contract: the inference code that the
container loads accepts its request, and the probe accepts that code's answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import readiness_events  # noqa: F401  (puts the Lambda's modules on sys.path)
from readiness_probe import PROBE_CONTENT_TYPE, answer_problem, probe_request_body


@pytest.fixture(scope="module")
def inference_answer(tiny_nli_model_dir: Path) -> bytes:
    """The probe classified by inference_code's model_fn -> input_fn -> predict_fn -> output_fn,
    the hooks the Hugging Face toolkit calls in the container, on a tiny real NLI model."""
    import inference

    model = inference.model_fn(str(tiny_nli_model_dir))
    request = inference.input_fn(probe_request_body(), PROBE_CONTENT_TYPE)
    answer = inference.output_fn(inference.predict_fn(request, model), PROBE_CONTENT_TYPE)
    return answer.encode("utf-8") if isinstance(answer, str) else bytes(answer)


def test_the_real_inference_code_answers_the_probe_correctly(inference_answer: bytes) -> None:
    assert answer_problem(inference_answer) is None


def test_the_probe_rejects_the_real_answer_with_labels_reordered(inference_answer: bytes) -> None:
    answer = json.loads(inference_answer)
    answer["labels"].reverse()
    answer["scores"].reverse()
    # The seeded tiny model scores the three labels differently, so reversing unsorts them.
    assert answer["scores"] != sorted(answer["scores"], reverse=True)
    assert answer_problem(json.dumps(answer).encode()) is not None

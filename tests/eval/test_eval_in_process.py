"""`zstc eval` in-process: the model directory's own code/inference.py, called the way the
toolkit calls it (model_fn, then input_fn -> predict_fn -> output_fn; handler_service.py in
aws/sagemaker-huggingface-inference-toolkit), on the real bundled model and on a tiny NLI model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from eval_test_support import RecordingClassifier

from zstc.cli_errors import CliError
from zstc.evaluation.classifiers import InProcessInference
from zstc.evaluation.labelled_sample import BUNDLED_SAMPLE, read_labelled_sample
from zstc.evaluation.metrics import SingleLabelMetrics
from zstc.evaluation.predictions import request_record
from zstc.evaluation.run import Target, evaluate
from zstc.evaluation.wordings import as_written, check_wording
from zstc.models.artifact import prepare_model_dir
from zstc.reference_categories import REFERENCE_CATEGORIES

TEMPLATES = ["This example is {}.", "This text is about {}.", "The resolution is about {}."]


@pytest.fixture(scope="module")
def minilm_tarball_dir(minilm_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_model_dir(tmp_path_factory.mktemp("minilm"), weights_dir=minilm_model_dir)


def test_the_bundled_model_on_the_bundled_sample_matches_its_own_classifier(
    minilm_tarball_dir: Path, fp32: None
) -> None:
    """The eval's accuracy equals the share of texts the classifier itself ranks right."""
    from model_loading import load_classifier

    sample = read_labelled_sample(BUNDLED_SAMPLE)
    report = evaluate(
        sample,
        targets=[Target(description="minilm", open=lambda: InProcessInference(minilm_tarball_dir))],
        wordings=[as_written(sample.labels)],
    )
    [result] = report.results
    reference = load_classifier(minilm_tarball_dir, precision="fp32").classify(
        [example.text for example in sample.examples], list(REFERENCE_CATEGORIES)
    )
    right = sum(
        answer["labels"][0] == example.true_labels[0]
        for answer, example in zip(reference, sample.examples, strict=True)
    )
    assert isinstance(result.metrics, SingleLabelMetrics)
    assert result.metrics.accuracy == pytest.approx(right / len(sample.examples))
    # Far above chance (1 in 9): the sample and the model are a meaningful demonstration.
    assert result.metrics.accuracy > 0.7
    for prediction, answer in zip(result.predictions, reference, strict=True):
        assert prediction.ranked == tuple(answer["labels"])
        assert [prediction.scores[label] for label in prediction.ranked] == pytest.approx(
            answer["scores"], abs=1e-6
        )


def test_templates_and_wordings_reach_the_model_and_are_scored_side_by_side(
    tiny_model_tarball_dir: Path,
) -> None:
    sample = read_labelled_sample(BUNDLED_SAMPLE)
    plain = check_wording(
        {f"{label.lower()} goals": label for label in sample.labels},
        name="goals",
        labels=sample.labels,
    )
    recorder = RecordingClassifier(InProcessInference(tiny_model_tarball_dir))
    report = evaluate(
        sample,
        targets=[Target(description="tiny", open=lambda: recorder)],
        templates=TEMPLATES[:2],
        wordings=[as_written(sample.labels), plain],
    )
    assert [result.name for result in report.results] == [
        "'This example is {}.' | labels as written",
        "'This example is {}.' | labels goals",
        "'This text is about {}.' | labels as written",
        "'This text is about {}.' | labels goals",
    ]
    sent = [json.loads(line) for body, _ in recorder.exchanges for line in body.splitlines()]
    assert len(sent) == 4 * len(sample.examples)
    assert {record["parameters"]["hypothesis_template"] for record in sent} == set(TEMPLATES[:2])
    assert {tuple(record["parameters"]["candidate_labels"]) for record in sent} == {
        sample.labels,
        tuple(f"{label.lower()} goals" for label in sample.labels),
    }
    # Answers come back in the file's labels, whatever wording was sent.
    for result in report.results:
        assert all(set(p.ranked) == set(sample.labels) for p in result.predictions)
    # Different hypotheses give different scores (the template really changed the input).
    first, _, third, _ = report.results
    assert first.predictions[0].scores != third.predictions[0].scores
    assert report.comparison.ranking[0].name in {result.name for result in report.results}


def test_no_template_sends_none_so_each_line_keeps_its_own_or_the_servers_default() -> None:
    sample = read_labelled_sample(BUNDLED_SAMPLE)
    example = sample.examples[0]
    record = request_record(
        example, template=None, wording=as_written(sample.labels), multi_label=False
    )
    assert record == {
        "id": "labelled-01",
        "inputs": example.text,
        "parameters": {"candidate_labels": list(sample.labels), "multi_label": False},
    }


def test_two_models_in_one_process_keep_their_own_inference_modules(
    tiny_model_tarball_dir: Path, minilm_tarball_dir: Path
) -> None:
    before = {name: sys.modules.get(name) for name in ("inference", "model_loading")}
    nli = InProcessInference(tiny_model_tarball_dir)
    embedding = InProcessInference(minilm_tarball_dir)
    # Loading left this process's own modules as they were.
    assert {name: sys.modules.get(name) for name in before} == before
    body = b'{"inputs": "Save money", "parameters": {"candidate_labels": ["Finance", "Health"]}}\n'
    for classifier in (nli, embedding, nli):
        [line] = classifier.classify_json_lines(body).decode().splitlines()
        assert sorted(json.loads(line)["labels"]) == ["Finance", "Health"]
    assert nli._model.kind == "nli" and embedding._model.kind == "embedding"


def test_a_request_the_inference_code_refuses_is_a_clear_error(
    tiny_model_tarball_dir: Path,
) -> None:
    classifier = InProcessInference(tiny_model_tarball_dir)
    with pytest.raises(CliError, match="refused the request: request body has no JSON Lines"):
        classifier.classify_json_lines(b"\n\n")


def test_a_directory_without_inference_code_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CliError, match=r"has no code/inference\.py"):
        InProcessInference(tmp_path)


def test_a_multi_label_sample_is_sent_as_multi_label_and_scored_per_label(
    tiny_model_tarball_dir: Path, tmp_path: Path
) -> None:
    from eval_test_support import write_jsonl

    from zstc.evaluation.metrics import MultiLabelMetrics

    sample = read_labelled_sample(
        write_jsonl(
            tmp_path / "multi.jsonl",
            [
                {
                    "id": 1,
                    "inputs": "Run a marathon and save money",
                    "labels": ["Health", "Finance"],
                },
                {"id": 2, "inputs": "Learn Spanish", "labels": ["Education"]},
                {"id": 3, "inputs": "Nothing this year", "labels": []},
            ],
        )
    )
    recorder = RecordingClassifier(InProcessInference(tiny_model_tarball_dir))
    report = evaluate(
        sample,
        targets=[Target(description="tiny", open=lambda: recorder)],
        wordings=[as_written(sample.labels)],
    )
    sent = [json.loads(line) for body, _ in recorder.exchanges for line in body.splitlines()]
    assert all(record["parameters"]["multi_label"] is True for record in sent)
    [result] = report.results
    assert isinstance(result.metrics, MultiLabelMetrics)
    assert report.headline_name == "per-text F1"
    # Independent per-label scores (a sigmoid each), not a softmax that sums to 1.
    assert any(abs(sum(prediction.scores.values()) - 1) > 1e-3 for prediction in result.predictions)
    assert [row.label for row in result.metrics.per_label] == ["Health", "Finance", "Education"]
    assert 0 <= result.metrics.best_threshold <= 1


def test_without_torch_in_process_eval_says_what_to_install(
    tiny_model_tarball_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes `import torch` raise ImportError, as when it is not installed.
    monkeypatch.setitem(sys.modules, "torch", None)
    from zstc.install_hints import install_command

    with pytest.raises(CliError) as raised:
        InProcessInference(tiny_model_tarball_dir)
    # The extra, and the command that adds it to this installation (zstc is not on PyPI).
    assert str(raised.value).startswith(
        "in-process eval needs the [local] extra (torch is not installed): "
        f"{install_command('local')}; or classify elsewhere"
    )

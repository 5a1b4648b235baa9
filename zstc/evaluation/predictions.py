"""One configuration (model, template, label wording) over the sample: requests out, answers in.

The sample goes out as application/jsonlines payloads, exactly as a batch transform job sends
it (BatchStrategy=MultiRecord), so the scores are the ones a batch job would produce. Each answer
line is mapped back to the file's labels through the wording.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from zstc.cli_errors import CliError
from zstc.evaluation.classifiers import JsonLinesClassifier
from zstc.evaluation.labelled_sample import LabelledExample, LabelledSample
from zstc.evaluation.metrics import LabelPrediction
from zstc.evaluation.wordings import Wording
from zstc.local.batch import DEFAULT_MAX_PAYLOAD_MB, pack_payloads

# Lines per request: enough for the GPU to see real batches, few enough for a live progress bar.
LINES_PER_REQUEST = 32


def request_record(
    example: LabelledExample, *, template: str | None, wording: Wording, multi_label: bool
) -> dict[str, Any]:
    """The batch-input record for one text under one configuration."""
    parameters: dict[str, Any] = {
        "candidate_labels": wording.sent_for(example.candidate_labels),
        "multi_label": multi_label,
    }
    chosen_template = template or example.template
    if chosen_template is not None:
        parameters["hypothesis_template"] = chosen_template
    record: dict[str, Any] = {"inputs": example.text, "parameters": parameters}
    if example.record_id is not None:
        record = {"id": example.record_id, **record}
    return record


def prediction_from_answer(
    answer: Any, *, example: LabelledExample, wording: Wording, where: str
) -> LabelPrediction:
    """One answer line (classification or error line) in the file's labels."""
    if not isinstance(answer, dict):
        raise CliError(f"{where}: expected a JSON object, got {type(answer).__name__}")
    if example.record_id is not None and answer.get("id") != example.record_id:
        raise CliError(
            f"{where}: answer id {answer.get('id')!r} does not match line {example.line_number}'s "
            f"id {example.record_id!r}; the answers are not in the sample's order"
        )
    if "error" in answer:
        return LabelPrediction(ranked=(), scores={}, error=str(answer["error"]))
    sequence = answer.get("sequence")
    if sequence is not None and sequence != example.text:
        raise CliError(
            f"{where}: the answer is for {str(sequence)[:60]!r}, not line {example.line_number}'s "
            f"text {example.text[:60]!r}; the answers are not in the sample's order"
        )
    labels, scores = answer.get("labels"), answer.get("scores")
    if not isinstance(labels, list) or not isinstance(scores, list) or len(labels) != len(scores):
        raise CliError(f"{where}: expected 'labels' and 'scores' lists of the same length")
    by_label = wording.label_scores(labels, [float(score) for score in scores])
    return LabelPrediction(
        ranked=tuple(sorted(by_label, key=lambda label: -by_label[label])), scores=by_label
    )


def run_configuration(
    classifier: JsonLinesClassifier,
    sample: LabelledSample,
    *,
    template: str | None,
    wording: Wording,
    lines_per_request: int = LINES_PER_REQUEST,
    max_payload_mb: float = DEFAULT_MAX_PAYLOAD_MB,
    advance: Callable[[int], None] = lambda done: None,
) -> list[LabelPrediction]:
    """Classifies every text of the sample; one prediction per text, in order."""
    examples = sample.examples
    lines = [
        json.dumps(
            request_record(
                example, template=template, wording=wording, multi_label=sample.multi_label
            ),
            ensure_ascii=False,
        )
        for example in examples
    ]
    predictions: list[LabelPrediction] = []
    for start in range(0, len(lines), lines_per_request):
        for payload in pack_payloads(
            lines[start : start + lines_per_request], max_payload_mb=max_payload_mb
        ):
            first = start + payload.first_line - 1
            answers = classifier.classify_json_lines(payload.body).decode("utf-8").splitlines()
            if len(answers) != len(payload.lines):
                last = examples[first + len(payload.lines) - 1]
                raise CliError(
                    f"{classifier.description} answered {len(answers)} lines for "
                    f"{len(payload.lines)} records (sample lines "
                    f"{examples[first].line_number}-{last.line_number})"
                )
            for offset, answer in enumerate(answers):
                example = examples[first + offset]
                predictions.append(
                    prediction_from_answer(
                        _json(answer, where=classifier.description),
                        example=example,
                        wording=wording,
                        where=f"{classifier.description}, answer for line {example.line_number}",
                    )
                )
            advance(len(payload.lines))
    return predictions


def _json(line: str, *, where: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise CliError(f"{where}: an answer line is not JSON: {line[:120]!r}") from error


def predictions_from_output_lines(
    lines: Sequence[str], *, sample: LabelledSample, wording: Wording, source: str
) -> list[LabelPrediction]:
    """A finished batch job's output, one line per sample line, in the sample's order.

    SageMaker (AssembleWith=Line) may leave blank separator lines; they are not records.
    """
    answers = [line for line in lines if line.strip()]
    if len(answers) != len(sample.examples):
        raise CliError(
            f"--results {source}: {len(answers)} result lines for {len(sample.examples)} sample "
            "lines; the results must come from a batch job over this same file",
            exit_code=2,
        )
    return [
        prediction_from_answer(
            _json(answer, where=f"--results {source}, line {number}"),
            example=example,
            wording=wording,
            where=f"--results {source}, line {number}",
        )
        for number, (answer, example) in enumerate(
            zip(answers, sample.examples, strict=True), start=1
        )
    ]

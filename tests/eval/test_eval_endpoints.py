"""`zstc eval --local` on the container's real model server, and `zstc eval --endpoint` through a
real boto3 sagemaker-runtime client with botocore's Stubber at the AWS boundary.

The local endpoint is multi-model-server 1.1.11 with the Hugging Face toolkit's handler, as in
the container (zstc.local.endpoint). Its answers must equal the in-process path's on the same
model directory, since both run the same code/inference.py.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from eval_test_support import RecordingClassifier

from zstc.cli import main
from zstc.cli_errors import CliError
from zstc.evaluation.classifiers import (
    InProcessInference,
    LocalEndpointClassifier,
    SageMakerEndpointClassifier,
)
from zstc.evaluation.labelled_sample import BUNDLED_SAMPLE, read_labelled_sample
from zstc.evaluation.metrics import SingleLabelMetrics
from zstc.evaluation.report import EvaluationReport
from zstc.evaluation.run import Target, evaluate
from zstc.evaluation.wordings import as_written
from zstc.local.endpoint import LocalEndpoint, find_free_port

TEMPLATES = ("This example is {}.", "The resolution is about {}.")
ENDPOINT = "zstc-eval-test"


def _evaluate(classifier: object, description: str) -> EvaluationReport:
    sample = read_labelled_sample(BUNDLED_SAMPLE)
    return evaluate(
        sample,
        targets=[Target(description=description, open=lambda: classifier)],  # type: ignore[arg-type,return-value]
        templates=TEMPLATES,
        wordings=[as_written(sample.labels)],
    )


@pytest.fixture(scope="module")
def in_process(
    tiny_model_tarball_dir: Path, fp32: None
) -> tuple[EvaluationReport, RecordingClassifier]:
    recorder = RecordingClassifier(InProcessInference(tiny_model_tarball_dir))
    return _evaluate(recorder, "in-process"), recorder


@pytest.fixture(scope="module")
def local_endpoint(
    tiny_model_tarball_dir: Path, fp32: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalEndpoint]:
    with LocalEndpoint(
        tiny_model_tarball_dir,
        port=find_free_port(),
        log_dir=tmp_path_factory.mktemp("eval-endpoint-logs"),
    ) as endpoint:
        yield endpoint


def _same_predictions(one: EvaluationReport, other: EvaluationReport) -> None:
    assert [r.name for r in one.results] == [r.name for r in other.results]
    for mine, theirs in zip(one.results, other.results, strict=True):
        assert mine.metrics.per_example == theirs.metrics.per_example
        for a, b in zip(mine.predictions, theirs.predictions, strict=True):
            assert a.ranked == b.ranked
            assert [a.scores[label] for label in a.ranked] == pytest.approx(
                [b.scores[label] for label in b.ranked], abs=1e-6
            )


def test_the_local_endpoint_gives_the_in_process_answers(
    local_endpoint: LocalEndpoint, in_process: tuple[EvaluationReport, RecordingClassifier]
) -> None:
    report = _evaluate(LocalEndpointClassifier(local_endpoint.url), "local")
    _same_predictions(report, in_process[0])


def test_cli_eval_local_prints_json_for_scripts(
    local_endpoint: LocalEndpoint,
    in_process: tuple[EvaluationReport, RecordingClassifier],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["eval", "--local", local_endpoint.url, "--output", "json"])
    out = capsys.readouterr().out
    assert code == 0
    document = json.loads(out)
    assert document["texts"] == 27 and document["multi_label"] is False
    assert document["source"] == f"local endpoint {local_endpoint.url}"
    [configuration] = document["configurations"]
    expected = in_process[0].results[0].metrics
    assert isinstance(expected, SingleLabelMetrics)
    assert configuration["metrics"]["accuracy"] == pytest.approx(expected.accuracy)


def _stubbed_runtime(exchanges: list[tuple[bytes, bytes]]) -> tuple[object, Stubber]:
    runtime = boto3.client(
        "sagemaker-runtime",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stubber = Stubber(runtime)
    for body, answer in exchanges:
        stubber.add_response(
            "invoke_endpoint",
            {
                "Body": StreamingBody(io.BytesIO(answer), len(answer)),
                "ContentType": "application/jsonlines",
            },
            {
                "EndpointName": ENDPOINT,
                "ContentType": "application/jsonlines",
                "Accept": "application/jsonlines",
                "Body": body,
            },
        )
    stubber.activate()
    return runtime, stubber


def test_the_deployed_endpoint_is_called_with_json_lines_and_scored_the_same(
    in_process: tuple[EvaluationReport, RecordingClassifier],
) -> None:
    """Stubber checks every InvokeEndpoint call's parameters; the container's answers are the
    ones the same inference code gave in-process for the same request bodies."""
    report, recorder = in_process
    runtime, stubber = _stubbed_runtime(recorder.exchanges)
    deployed = _evaluate(
        SageMakerEndpointClassifier(runtime=runtime, endpoint_name=ENDPOINT), f"endpoint {ENDPOINT}"
    )
    stubber.assert_no_pending_responses()
    _same_predictions(deployed, report)


def test_a_model_error_from_the_endpoint_names_the_endpoint_and_the_containers_message() -> None:
    runtime = boto3.client(
        "sagemaker-runtime",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(runtime) as stubber:
        stubber.add_client_error(
            "invoke_endpoint",
            service_error_code="ModelError",
            service_message="Received client error (400) from primary",
            http_status_code=424,
            response_meta={},
        )
        classifier = SageMakerEndpointClassifier(runtime=runtime, endpoint_name=ENDPOINT)
        with pytest.raises(CliError, match=f"endpoint '{ENDPOINT}' answered ModelError"):
            classifier.classify_json_lines(b'{"inputs": "x"}\n')


def test_cli_eval_endpoint_uses_the_named_endpoint(
    in_process: tuple[EvaluationReport, RecordingClassifier],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from zstc.cli.context import Settings

    _, recorder = in_process
    # The first configuration's requests only: --template is not given on this command line.
    first_configuration = recorder.exchanges[: len(recorder.exchanges) // len(TEMPLATES)]
    runtime, stubber = _stubbed_runtime(first_configuration)

    def client(settings: Settings, service: str) -> object:
        assert service == "sagemaker-runtime", "the endpoint name is given: no stack lookup"
        assert settings.region == "eu-west-1"
        return runtime

    # The AWS boundary: the client factory hands out the stubbed sagemaker-runtime client.
    monkeypatch.setattr(Settings, "client", client)
    code = main(
        [
            "eval",
            "--endpoint-name",
            ENDPOINT,
            "--template",
            TEMPLATES[0],
            "--region",
            "eu-west-1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    stubber.assert_no_pending_responses()
    assert f"classified by endpoint {ENDPOINT}" in out
    assert "accuracy" in out and "Confusion matrix" in out


def test_cli_eval_endpoint_finds_the_endpoint_name_in_the_stack_outputs(
    in_process: tuple[EvaluationReport, RecordingClassifier],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """CloudFormation is moto's (a real stack with the EndpointName output); InvokeEndpoint is
    stubbed, since moto answers every invocation with fixed text (DESIGN.md, moto 5)."""
    from moto import mock_aws

    from zstc.cli.context import Settings

    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(variable, value)
    _, recorder = in_process
    runtime, stubber = _stubbed_runtime(recorder.exchanges[: len(recorder.exchanges) // 2])
    real_client = Settings.client

    def client(settings: Settings, service: str) -> object:
        return runtime if service == "sagemaker-runtime" else real_client(settings, service)

    monkeypatch.setattr(Settings, "client", client)
    with mock_aws():
        boto3.client("cloudformation", region_name="eu-west-1").create_stack(
            StackName="EvalTest-Endpoint",
            TemplateBody=json.dumps(
                {
                    "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
                    "Outputs": {"EndpointName": {"Value": ENDPOINT}},
                }
            ),
        )
        code = main(
            ["eval", "--endpoint", "--stack-prefix", "EvalTest", "--template", TEMPLATES[0]]
        )
    assert code == 0, capsys.readouterr().err
    stubber.assert_no_pending_responses()
    assert f"classified by endpoint {ENDPOINT}" in capsys.readouterr().out


def test_results_mode_on_a_real_local_batch_output_equals_classifying_directly(
    local_endpoint: LocalEndpoint,
    in_process: tuple[EvaluationReport, RecordingClassifier],
    tmp_path: Path,
) -> None:
    """The documented flow: strip the truth fields, run the batch (here `zstc local batch`, the
    same semantics as the transform job), then score its output with --results."""
    from zstc.evaluation.run import evaluate_batch_output
    from zstc.local.batch import run_local_batch

    sample = read_labelled_sample(BUNDLED_SAMPLE)
    batch_input = tmp_path / "batch.jsonl"
    batch_input.write_text(
        "".join(
            json.dumps({k: v for k, v in json.loads(line).items() if k != "label"}) + "\n"
            for line in BUNDLED_SAMPLE.read_text(encoding="utf-8").splitlines()
        ),
        encoding="utf-8",
    )
    output = tmp_path / "batch.jsonl.out"
    run_local_batch(
        input_path=batch_input,
        output_path=output,
        url=local_endpoint.url,
        progress=None,
        default_labels=list(sample.labels),
    )
    scored = evaluate_batch_output(sample, results_path=output, wording=as_written(sample.labels))
    direct = in_process[0].results[0]  # the default template, as the batch lines carry none
    assert scored.results[0].metrics.per_example == direct.metrics.per_example
    assert [p.ranked for p in scored.results[0].predictions] == [
        p.ranked for p in direct.predictions
    ]

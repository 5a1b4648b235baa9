"""Server-side failures reach an alarm: the marker's metric filter, model errors, GPU memory.

Metric names, namespaces and dimensions are SageMaker's:
https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match, Template
from cloudwatch_filter_pattern import cloudwatch_term_matches
from infra_synth import CPU_ENDPOINT, DEFAULT, SynthesizedApp, resources_of_type, synth

from inference_code.server_error_log import SERVER_ERROR_MARKER
from stacks.endpoint_alarms import has_gpu

ENDPOINT_NAME = "Zstc-Endpoint"
LOG_GROUP_NAME = f"/aws/sagemaker/Endpoints/{ENDPOINT_NAME}"
VARIANT_DIMENSIONS = [
    {"Name": "EndpointName", "Value": ENDPOINT_NAME},
    {"Name": "VariantName", "Value": "AllTraffic"},
]


@pytest.fixture(scope="module")
def default_app() -> SynthesizedApp:
    return synth(DEFAULT)


@pytest.fixture(scope="module")
def cpu_app() -> SynthesizedApp:
    return synth(CPU_ENDPOINT)


def _endpoint(app: SynthesizedApp) -> tuple[Template, dict[str, Any]]:
    assert app.stacks.endpoint is not None
    return app.template(app.stacks.endpoint), app.templates[app.stacks.endpoint.stack_name]


def _topic_ref(raw: dict[str, Any]) -> dict[str, str]:
    (topic_id,) = resources_of_type(raw, "AWS::SNS::Topic")
    return {"Ref": topic_id}


def _container_line(thread: str, level: str, message: str) -> str:
    """A line as the serving container prints it to stdout, which SageMaker sends to the
    endpoint's log group.

    multi-model-server relays each line its Python worker writes through the WorkerLifeCycle
    logger, thread "W-<socket>-stdout" (INFO) or "-stderr" (WARN)
    (awslabs/multi-model-server, frontend/server/src/main/java/com/amazonaws/ml/mms/wlm/
    WorkerLifeCycle.java, ReaderThread.run), with the STDOUT layout of sagemaker-inference's
    log4j2.xml: "%d{ISO8601} [%-5p] %t %c - %m%n" (aws/sagemaker-inference-toolkit,
    src/sagemaker_inference/etc/log4j2.xml).
    """
    return (
        f"2026-11-25T23:13:08,736 [{level:<5}] W-model-1-{thread} "
        f"com.amazonaws.ml.mms.wlm.WorkerLifeCycle - {message}"
    )


SERVER_ERROR_LINES = [
    _container_line(
        "stderr",
        "WARN",
        f"{SERVER_ERROR_MARKER} predict_fn failed: torch.OutOfMemoryError: CUDA out of memory. "
        "Tried to allocate 2.00 GiB",
    ),
    _container_line("stdout", "INFO", f"{SERVER_ERROR_MARKER} model_fn failed: KeyError: 'x'"),
    # The marker inside a longer, structured message still counts.
    _container_line("stderr", "WARN", f'{{"level": "ERROR", "marker": "{SERVER_ERROR_MARKER}"}}'),
]
OTHER_LINES = [
    # A caller's mistake: 400 with a message naming the field, never the marker.
    _container_line(
        "stdout", "INFO", "parameters.candidate_labels: expected a non-empty list of labels"
    ),
    _container_line("stdout", "INFO", "Backend worker process died."),
    _container_line("stdout", "INFO", SERVER_ERROR_MARKER.lower() + " is case sensitive"),
    _container_line("stdout", "INFO", "ZSTC_SERVER error in a sentence"),
]


def test_metric_filter_counts_marked_lines_of_the_endpoint_log_group(
    default_app: SynthesizedApp,
) -> None:
    template, raw = _endpoint(default_app)
    (log_group_id,) = [
        logical_id
        for logical_id, group in resources_of_type(raw, "AWS::Logs::LogGroup").items()
        if group["Properties"].get("LogGroupName") == LOG_GROUP_NAME
    ]
    pattern = Capture()
    template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "LogGroupName": {"Ref": log_group_id},
            "FilterPattern": pattern,
            "MetricTransformations": [
                {
                    "MetricNamespace": f"zstc/{ENDPOINT_NAME}",
                    "MetricName": "ServerErrors",
                    "MetricValue": "1",
                    "Unit": "Count",
                }
            ],
        },
    )
    assert pattern.as_string() == f'"{SERVER_ERROR_MARKER}"'


@pytest.mark.parametrize("line", SERVER_ERROR_LINES)
def test_filter_pattern_matches_server_error_lines(default_app: SynthesizedApp, line: str) -> None:
    _, raw = _endpoint(default_app)
    (metric_filter,) = resources_of_type(raw, "AWS::Logs::MetricFilter").values()
    assert cloudwatch_term_matches(metric_filter["Properties"]["FilterPattern"], line)


@pytest.mark.parametrize("line", OTHER_LINES)
def test_filter_pattern_ignores_other_lines(default_app: SynthesizedApp, line: str) -> None:
    _, raw = _endpoint(default_app)
    (metric_filter,) = resources_of_type(raw, "AWS::Logs::MetricFilter").values()
    assert not cloudwatch_term_matches(metric_filter["Properties"]["FilterPattern"], line)


def test_unquoted_marker_is_not_a_valid_term() -> None:
    # The marker holds "_", so CloudWatch needs it quoted; the evaluator enforces that.
    with pytest.raises(ValueError, match="double-quoted"):
        cloudwatch_term_matches(SERVER_ERROR_MARKER, SERVER_ERROR_LINES[0])


def test_server_errors_alarm_fires_on_one_marked_line_and_notifies_the_topic(
    default_app: SynthesizedApp,
) -> None:
    template, raw = _endpoint(default_app)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": f"zstc/{ENDPOINT_NAME}",
            "MetricName": "ServerErrors",
            "Statistic": "Sum",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [_topic_ref(raw)],
        },
    )


def test_model_errors_alarm_watches_the_share_of_failed_invocations(
    default_app: SynthesizedApp,
) -> None:
    """InvocationModelErrors counts every non-2XX answer of the container, callers' 400s
    included, so the alarm is on its share of Invocations over a minimum of traffic."""
    template, raw = _endpoint(default_app)
    expression = Capture()
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Metrics": Match.array_with(
                [
                    Match.object_like({"Expression": expression, "ReturnData": True}),
                    Match.object_like(
                        {
                            "Id": "errors",
                            "ReturnData": False,
                            "MetricStat": Match.object_like(
                                {
                                    "Metric": {
                                        "Namespace": "AWS/SageMaker",
                                        "MetricName": "InvocationModelErrors",
                                        "Dimensions": Match.array_with(VARIANT_DIMENSIONS),
                                    },
                                    "Stat": "Sum",
                                    "Period": 60,
                                }
                            ),
                        }
                    ),
                    Match.object_like(
                        {
                            "Id": "invocations",
                            "ReturnData": False,
                            "MetricStat": Match.object_like(
                                {
                                    "Metric": {
                                        "Namespace": "AWS/SageMaker",
                                        "MetricName": "Invocations",
                                        "Dimensions": Match.array_with(VARIANT_DIMENSIONS),
                                    },
                                    "Stat": "Sum",
                                    "Period": 60,
                                }
                            ),
                        }
                    ),
                ]
            ),
            "Threshold": 10,
            "EvaluationPeriods": 5,
            "DatapointsToAlarm": 3,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [_topic_ref(raw)],
        },
    )
    assert "errors" in expression.as_string()
    assert "/ invocations" in expression.as_string()
    assert "invocations >= 5" in expression.as_string()


def test_gpu_endpoint_alarms_on_gpu_memory(default_app: SynthesizedApp) -> None:
    template, raw = _endpoint(default_app)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "/aws/sagemaker/Endpoints",
            "MetricName": "GPUMemoryUtilization",
            "Dimensions": Match.array_with(VARIANT_DIMENSIONS),
            "Statistic": "Maximum",
            "Threshold": 90,
            "AlarmActions": [_topic_ref(raw)],
        },
    )


def test_cpu_endpoint_has_no_gpu_memory_alarm_but_the_other_alarms(
    cpu_app: SynthesizedApp,
) -> None:
    _, raw = _endpoint(cpu_app)
    alarms = resources_of_type(raw, "AWS::CloudWatch::Alarm").values()
    metric_names = {alarm["Properties"].get("MetricName") for alarm in alarms}
    assert "GPUMemoryUtilization" not in metric_names
    assert {"ServerErrors", "Invocation5XXErrors", "ModelLatency"} <= metric_names


def test_every_endpoint_alarm_notifies_the_alarm_topic(default_app: SynthesizedApp) -> None:
    _, raw = _endpoint(default_app)
    alarms = resources_of_type(raw, "AWS::CloudWatch::Alarm")
    # 5XX, latency, server errors, model errors, GPU memory.
    assert len(alarms) == 5
    for logical_id, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [_topic_ref(raw)], logical_id


@pytest.mark.parametrize(
    ("instance_type", "gpu"),
    [
        ("ml.g4dn.xlarge", True),
        ("ml.g5.2xlarge", True),
        ("ml.g6e.xlarge", True),
        ("ml.p3.2xlarge", True),
        ("ml.p4d.24xlarge", True),
        ("ml.c7i.xlarge", False),
        ("ml.m5.large", False),
        ("ml.r5d.xlarge", False),
    ],
)
def test_gpu_metrics_exist_only_for_gpu_instance_types(instance_type: str, gpu: bool) -> None:
    assert has_gpu(instance_type) is gpu

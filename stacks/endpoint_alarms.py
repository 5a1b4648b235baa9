"""Alarms for the endpoint failures that its 5XX metric cannot see.

The Hugging Face inference toolkit answers every exception with HTTP 400, so a CUDA
out-of-memory error or a bug in the inference code never reaches Invocation5XXErrors. Three
signals cover them:

- ServerErrors: a CloudWatch Logs metric filter counts the log lines that the inference code
  marks with SERVER_ERROR_MARKER (inference_code/server_error_log.py): failures of the server,
  never a caller's mistake.
- InvocationModelErrors (AWS/SageMaker): every invocation the container did not answer with 2XX,
  including time-outs, dead workers and malformed responses, but also callers' 400s. Its alarm
  therefore watches the share of failed invocations, not single ones.
- GPUMemoryUtilization (/aws/sagemaker/Endpoints), on instance types with a GPU only: memory
  pressure before it turns into out-of-memory errors.

Metric names, namespaces and dimensions:
https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from constructs import Construct

from inference_code.server_error_log import SERVER_ERROR_MARKER
from stacks.container_image import processor_for

ALARM_PERIOD = cdk.Duration.minutes(5)
SERVER_ERRORS_METRIC_NAME = "ServerErrors"
# Share of invocations (percent) the container did not answer with 2XX in a minute, and the
# least number of invocations in that minute for the share to mean anything: a single bad
# request on an idle endpoint is not an incident. Three bad minutes out of five trip it, fast
# enough to roll a deployment back within its baking period (stacks/endpoint_deployment.py).
MODEL_ERROR_RATE_PERIOD = cdk.Duration.minutes(1)
MODEL_ERROR_RATE_ALARM_PERCENT = 10
MODEL_ERROR_RATE_MIN_INVOCATIONS = 5
MODEL_ERROR_RATE_PERIODS = 5
MODEL_ERROR_RATE_BREACHING_PERIODS = 3
# GPUMemoryUtilization is a percentage multiplied by the number of GPUs (0-400 on four GPUs).
# zstc runs one model server worker, which uses one GPU, so 90 means that GPU is 90% full
# whatever the instance's GPU count.
GPU_MEMORY_ALARM_PERCENT = 90
GPU_MEMORY_PERIODS = 3


def server_errors_namespace(endpoint_name: str) -> str:
    """The CloudWatch namespace of the endpoint's server-error count: one per endpoint, so that
    two zstc deployments in one account and region never count each other's errors."""
    return f"zstc/{endpoint_name}"


def server_error_filter_pattern() -> str:
    """The metric filter pattern that matches the marker anywhere in a log line.

    CloudWatch Logs filter patterns are case sensitive, and a term with non-alphanumeric
    characters (the marker has "_") must be in double quotes to match as one exact term:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
    """
    return f'"{SERVER_ERROR_MARKER}"'


def has_gpu(instance_type: str) -> bool:
    """Whether SageMaker publishes GPU metrics for this instance type (NVIDIA ml.g*, ml.p*)."""
    return processor_for(instance_type) == "gpu"


class EndpointErrorAlarms(Construct):
    """The server-error metric filter and the alarms on server errors, model errors and GPU
    memory of one endpoint variant. The stack adds the notification actions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        variant_name: str,
        log_group: logs.ILogGroup,
        gpu_metrics: bool,
    ) -> None:
        """gpu_metrics: whether SageMaker publishes GPU metrics for the variant (has_gpu)."""
        super().__init__(scope, construct_id)
        dimensions = {"EndpointName": endpoint_name, "VariantName": variant_name}

        self.server_errors_filter = logs.MetricFilter(
            self,
            "ServerErrorsFilter",
            log_group=log_group,
            filter_pattern=logs.FilterPattern.literal(server_error_filter_pattern()),
            metric_namespace=server_errors_namespace(endpoint_name),
            metric_name=SERVER_ERRORS_METRIC_NAME,
            metric_value="1",
            unit=cloudwatch.Unit.COUNT,
        )
        server_errors = self.server_errors_filter.metric(
            statistic=cloudwatch.Stats.SUM, period=ALARM_PERIOD
        ).create_alarm(
            self,
            "ServerErrorsAlarm",
            alarm_description=(
                f"The zstc endpoint logged {SERVER_ERROR_MARKER}: a request failed inside the "
                "server (out of memory, a bug), not because of the caller. Read the endpoint's "
                "log group for the marker's lines."
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        model_error_rate = cloudwatch.MathExpression(
            expression=(
                f"IF(invocations >= {MODEL_ERROR_RATE_MIN_INVOCATIONS}, "
                "100 * FILL(errors, 0) / invocations, 0)"
            ),
            using_metrics={
                "errors": cloudwatch.Metric(
                    namespace="AWS/SageMaker",
                    metric_name="InvocationModelErrors",
                    dimensions_map=dimensions,
                    statistic=cloudwatch.Stats.SUM,
                    period=MODEL_ERROR_RATE_PERIOD,
                ),
                "invocations": cloudwatch.Metric(
                    namespace="AWS/SageMaker",
                    metric_name="Invocations",
                    dimensions_map=dimensions,
                    statistic=cloudwatch.Stats.SUM,
                    period=MODEL_ERROR_RATE_PERIOD,
                ),
            },
            label="Invocations not answered with 2XX (%)",
            period=MODEL_ERROR_RATE_PERIOD,
        )
        model_errors = model_error_rate.create_alarm(
            self,
            "InvocationModelErrorsAlarm",
            alarm_description=(
                f"In {MODEL_ERROR_RATE_BREACHING_PERIODS} of the last {MODEL_ERROR_RATE_PERIODS} "
                f"minutes, over {MODEL_ERROR_RATE_ALARM_PERCENT}% of the zstc endpoint's "
                "invocations were not answered with 2XX (InvocationModelErrors): time-outs, "
                "crashed workers, a model that is not loaded, server errors, or a client sending "
                "invalid requests. Check the ServerErrors alarm and the endpoint's log group."
            ),
            threshold=MODEL_ERROR_RATE_ALARM_PERCENT,
            evaluation_periods=MODEL_ERROR_RATE_PERIODS,
            datapoints_to_alarm=MODEL_ERROR_RATE_BREACHING_PERIODS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # A deployment rolls back when either trips during its baking period.
        self.rollback_alarms: tuple[cloudwatch.Alarm, ...] = (server_errors, model_errors)
        alarms: list[cloudwatch.Alarm] = [server_errors, model_errors]

        if gpu_metrics:
            gpu_memory = cloudwatch.Metric(
                namespace="/aws/sagemaker/Endpoints",
                metric_name="GPUMemoryUtilization",
                dimensions_map=dimensions,
                statistic=cloudwatch.Stats.MAXIMUM,
                period=ALARM_PERIOD,
            ).create_alarm(
                self,
                "GPUMemoryUtilizationAlarm",
                alarm_description=(
                    f"GPU memory of a zstc endpoint instance stayed at or above "
                    f"{GPU_MEMORY_ALARM_PERCENT}% for {GPU_MEMORY_PERIODS * 5} minutes: large "
                    "requests are close to out-of-memory errors. Send fewer (text, label) pairs "
                    "per request, or use an instance type with more GPU memory."
                ),
                threshold=GPU_MEMORY_ALARM_PERCENT,
                evaluation_periods=GPU_MEMORY_PERIODS,
                comparison_operator=(
                    cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
                ),
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarms.append(gpu_memory)
        self.alarms: tuple[cloudwatch.Alarm, ...] = tuple(alarms)

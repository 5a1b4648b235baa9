"""The README's promises, as integ-tests-alpha assertions against the deployed stacks.

Every call is an AWS API call that runs in the account (DeployAssert.aws_api_call or
invoke_function; service and action names as in the AWS SDK for JavaScript v3, which the
assertion provider runs). tests/integ validates each call's service, action and parameters
against botocore's service model, so a misspelt parameter fails offline.

A call whose response is read with get_att_string is flattened, and then `expect` no longer sees
the response (integ-tests-alpha lambda-handler/index.ts compares `result.apiCallResponse`), so a
job is waited for with one call and its name read with a second one.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import integ_tests_alpha as integ_tests

from integ.discovery import DiscoveredAlarm
from integ.flow_data import ENDPOINT_REQUEST, Dataset, SingleFile, duplicate_s3_event
from integ.probe_stack import ProbeStack
from stacks.app_wiring import ZstcStacks

Match = integ_tests.Match
ExpectedResult = integ_tests.ExpectedResult

# A transform job on a fresh CPU instance needs minutes to pull the image and start.
# CloudFormation waits at most an hour for a custom resource, so every wait stays below that.
JOB_TIMEOUT = cdk.Duration.minutes(40)
POLL_INTERVAL = cdk.Duration.seconds(30)
NOTIFICATION_TIMEOUT = cdk.Duration.minutes(10)
# ReceiveMessage long polling asks every SQS server, so a message that exists is returned
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html).
LONG_POLL_SECONDS = 20
ALARM_STATE_REASON = "zstc integration run: checking that this alarm reaches a person"


def duplicate_log_filter(key: str) -> str:
    """A CloudWatch Logs filter pattern for the trigger's log line about a duplicate of `key`.

    The trigger logs each outcome with extra fields status, key and job_name (trigger.py), and
    the Lambda runtime's JSON formatter writes a record's extra fields as top-level JSON keys
    (aws-lambda-python-runtime-interface-client, awslambdaric/lambda_runtime_log_utils.py,
    JsonFormatter.format). Pattern syntax ("Using filter patterns to match terms in JSON log
    events"): https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
    """
    return f'{{ ($.status = "duplicate") && ($.key = "{key}") }}'


def _wait(call: integ_tests.IApiCall, timeout: cdk.Duration) -> integ_tests.IApiCall:
    return call.wait_for_assertions(total_timeout=timeout, interval=POLL_INTERVAL, backoff_rate=1)


def _all_true(*names: str) -> ExpectedResult:
    """A Lambda Invoke response whose JSON payload has each of these names set to true."""
    return ExpectedResult.object_like(
        {"Payload": Match.serialized_json(Match.object_like(dict.fromkeys(names, True)))}
    )


def _exactly_one_completed_job() -> ExpectedResult:
    # A literal list inside object_like must match in length: exactly one job.
    return ExpectedResult.object_like(
        {"TransformJobSummaries": [Match.object_like({"TransformJobStatus": "Completed"})]}
    )


def _allow_key(call: integ_tests.IApiCall, *, actions: list[str], key_arn: str) -> None:
    """The assertion providers' roles get only the key use a call needs, on one key."""
    statement = {"Effect": "Allow", "Action": actions, "Resource": [key_arn]}
    call.provider.add_to_role_policy(statement)
    waiter = getattr(call, "waiter_provider", None)
    if waiter is not None:
        waiter.add_to_role_policy(statement)


class FlowAssertions:
    """Adds every assertion of one integration run to the DeployAssert stack."""

    def __init__(
        self,
        *,
        assertions: integ_tests.IDeployAssert,
        zstc: ZstcStacks,
        probe: ProbeStack,
        alarms: list[DiscoveredAlarm],
        single: SingleFile,
        dataset: Dataset,
        job_name_prefix: str,
    ) -> None:
        self.assertions = assertions
        self.zstc = zstc
        self.probe = probe
        self.bucket_name = zstc.data.bucket.bucket_name
        self.data_key_arn = zstc.data.key.key_arn
        self.job_name_prefix = job_name_prefix
        self.endpoint_answers_the_jumpstart_request()
        self.single_file_runs_one_job_with_errors_in_place(single)
        self.dataset_runs_as_one_job(dataset)
        self.alarms_reach_a_person(alarms)

    # -- helpers --------------------------------------------------------------------------------

    def _put_object(self, key: str, body: str) -> integ_tests.IApiCall:
        call = self.assertions.aws_api_call(
            "S3", "putObject", {"Bucket": self.bucket_name, "Key": key, "Body": body}
        )
        # The bucket encrypts with the zstc key by default (SSE-KMS).
        _allow_key(call, actions=["kms:GenerateDataKey"], key_arn=self.data_key_arn)
        return call

    def _list_jobs(self, name_filter: str, **extra: object) -> integ_tests.IApiCall:
        return self.assertions.aws_api_call(
            "SageMaker", "listTransformJobs", {"NameContains": name_filter, **extra}
        )

    def _job_name_regexp(self, name_filter: str) -> str:
        # The trigger names jobs prefix + slug of the key + "-" + 16 hex digits (job_names.py).
        return f"{self.job_name_prefix}{name_filter}-[0-9a-f]{{16}}"

    # -- the endpoint ---------------------------------------------------------------------------

    def endpoint_answers_the_jumpstart_request(self) -> None:
        self.assertions.invoke_function(
            function_name=self.probe.checker.function_name,
            payload=json.dumps({"check": "endpoint", "request": ENDPOINT_REQUEST}),
        ).expect(
            _all_true(
                "is_classification",
                "sequence_kept",
                "every_label_once",
                "one_score_per_label",
                "sorted_by_score",
                "scores_sum_to_one",
            )
        )

    # -- one JSON Lines file --------------------------------------------------------------------

    def single_file_runs_one_job_with_errors_in_place(self, single: SingleFile) -> None:
        upload = self._put_object(single.key, single.body)
        one_job = _wait(
            self._list_jobs(single.job_name_filter).expect(_exactly_one_completed_job()),
            JOB_TIMEOUT,
        )
        upload.next(one_job)

        named_job = self._list_jobs(single.job_name_filter, SortBy="CreationTime")
        one_job.next(named_job)
        job_name = named_job.get_att_string("TransformJobSummaries.0.TransformJobName")

        output_check = self.assertions.invoke_function(
            function_name=self.probe.checker.function_name,
            payload=json.dumps(
                {
                    "check": "transform_output",
                    "input_key": single.key,
                    "job_name": job_name,
                    "error_lines": list(single.error_lines),
                }
            ),
        ).expect(
            _all_true(
                "one_line_per_input_line",
                "ids_in_input_order",
                "bad_lines_are_errors_in_place",
                "good_lines_classified",
            )
        )
        named_job.next(output_check)

        notified = _wait(
            self.assertions.aws_api_call(
                "SQS",
                "receiveMessage",
                {
                    "QueueUrl": self.probe.notification_queue.queue_url,
                    "MaxNumberOfMessages": 10,
                    "WaitTimeSeconds": LONG_POLL_SECONDS,
                    # Left visible, so every poll sees every notification of the run.
                    "VisibilityTimeout": 0,
                },
            ).expect(
                ExpectedResult.object_like(
                    {
                        "Messages": Match.array_with(
                            [
                                Match.object_like(
                                    {
                                        "Body": Match.string_like_regexp(
                                            f"job {self._job_name_regexp(single.job_name_filter)}"
                                            " is Completed"
                                        )
                                    }
                                )
                            ]
                        )
                    }
                )
            ),
            NOTIFICATION_TIMEOUT,
        )
        _allow_key(notified, actions=["kms:Decrypt"], key_arn=self.probe.key.key_arn)
        one_job.next(notified)

        self.duplicate_event_starts_no_second_job(single=single, upload=upload, after=one_job)

    def duplicate_event_starts_no_second_job(
        self, *, single: SingleFile, upload: integ_tests.IApiCall, after: integ_tests.IApiCall
    ) -> None:
        queue = self.zstc.batch.queue
        resend = self.assertions.aws_api_call(
            "SQS",
            "sendMessage",
            {
                "QueueUrl": queue.queue_url,
                "MessageBody": duplicate_s3_event(
                    bucket=self.bucket_name,
                    key=single.key,
                    version_id=upload.get_att_string("VersionId"),
                    size=len(single.body.encode("utf-8")),
                ),
            },
        )
        # Sending to a KMS-encrypted queue needs both (SQS developer guide, "Key management").
        _allow_key(
            resend, actions=["kms:GenerateDataKey", "kms:Decrypt"], key_arn=self.data_key_arn
        )
        after.next(resend)

        seen = _wait(
            self.assertions.aws_api_call(
                "CloudWatchLogs",
                "filterLogEvents",
                {
                    "logGroupName": self.zstc.batch.function.log_group.log_group_name,
                    "filterPattern": duplicate_log_filter(single.key),
                },
            ).expect(
                ExpectedResult.object_like(
                    {
                        "events": Match.array_with(
                            [
                                Match.object_like(
                                    {"message": Match.string_like_regexp('"status": "duplicate"')}
                                )
                            ]
                        )
                    }
                )
            ),
            NOTIFICATION_TIMEOUT,
        )
        resend.next(seen)

        drained = _wait(
            self.assertions.aws_api_call(
                "SQS",
                "getQueueAttributes",
                {
                    "QueueUrl": queue.queue_url,
                    "AttributeNames": [
                        "ApproximateNumberOfMessages",
                        "ApproximateNumberOfMessagesNotVisible",
                    ],
                },
            ).expect(
                ExpectedResult.object_like(
                    {
                        "Attributes": {
                            "ApproximateNumberOfMessages": "0",
                            "ApproximateNumberOfMessagesNotVisible": "0",
                        }
                    }
                )
            ),
            NOTIFICATION_TIMEOUT,
        )
        seen.next(drained)
        still_one_job = self._list_jobs(single.job_name_filter, MaxResults=10).expect(
            _exactly_one_completed_job()
        )
        drained.next(still_one_job)

    # -- a dataset ------------------------------------------------------------------------------

    def dataset_runs_as_one_job(self, dataset: Dataset) -> None:
        previous: integ_tests.IApiCall | None = None
        for name, body in dataset.parts:
            part = self._put_object(f"{dataset.prefix}{name}", body)
            if previous is not None:
                previous.next(part)
            previous = part
        # The marker last: it starts the one job over every part already there.
        marker = self._put_object(dataset.marker_key, "")
        assert previous is not None
        previous.next(marker)
        marker.next(
            _wait(
                self._list_jobs(dataset.job_name_filter).expect(_exactly_one_completed_job()),
                JOB_TIMEOUT,
            )
        )

    # -- alarms ---------------------------------------------------------------------------------

    def alarms_reach_a_person(self, alarms: list[DiscoveredAlarm]) -> None:
        for alarm in alarms:
            set_state = self.assertions.aws_api_call(
                "CloudWatch",
                "setAlarmState",
                {
                    "AlarmName": alarm.alarm_name,
                    "StateValue": "ALARM",
                    "StateReason": ALARM_STATE_REASON,
                },
            )
            received = _wait(
                self.assertions.aws_api_call(
                    "SQS",
                    "receiveMessage",
                    {
                        "QueueUrl": self.probe.alarm_queues[alarm.path].queue_url,
                        "MaxNumberOfMessages": 1,
                        "WaitTimeSeconds": LONG_POLL_SECONDS,
                    },
                ).expect(
                    ExpectedResult.object_like(
                        {
                            "Messages": [
                                Match.object_like(
                                    {
                                        "Body": Match.string_like_regexp(
                                            '"NewStateValue":\\s*"ALARM"'
                                        )
                                    }
                                )
                            ]
                        }
                    )
                ),
                NOTIFICATION_TIMEOUT,
            )
            _allow_key(received, actions=["kms:Decrypt"], key_arn=self.probe.key.key_arn)
            set_state.next(received)

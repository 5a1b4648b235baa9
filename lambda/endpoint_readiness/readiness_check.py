"""The deploy-time readiness check: CloudFormation waits until the endpoint classifies.

multi-model-server answers /ping with HTTP 200 while its worker is still loading the model, and
after loading failed, so an endpoint can be InService while every call fails. This check makes
the deployment wait for a correct answer instead, and fail (CloudFormation then rolls back) when
none comes in time.

The CDK Provider framework (aws-cdk-lib custom_resources) calls on_event once per Create,
Update or Delete, then polls is_complete until it returns IsComplete true or raises; a raise
fails the custom resource with the exception's message. is_complete receives the request
combined with every field on_event returned (aws-cdk-lib custom-resources README, "Asynchronous
Providers: isComplete"), which is how the deadline travels.

Modes (EndpointMode property): a realtime or serverless endpoint gets the probe through
InvokeEndpoint. A serverless endpoint may be cold, and the first call then waits for a container
to start: a call that times out or is throttled is "not ready yet", never a failure. An async
endpoint gets the probe as an S3 object through InvokeEndpointAsync, once per CloudFormation
request (the object names carry the request id, so every poll of one deployment finds the same
request again), and each poll then looks for its answer or failure object; the endpoint may
first have to scale out of zero.

Rollback: when an update fails, CloudFormation sends this resource an Update with the old
properties while the endpoint still runs the new config. Probing then would test the config
being rolled away from, and a failure would leave the stack in UPDATE_ROLLBACK_FAILED. So the
endpoint is only probed while it runs the config named in the properties.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError
from readiness_probe import PROBE_CONTENT_TYPE, answer_problem, probe_request_body

logger = logging.getLogger(__name__)

# InvokeEndpoint errors that a starting or recovering endpoint gives, per the sagemaker-runtime
# service model: ModelError is any non-2XX answer of the container (503 while no worker is
# loaded), ModelNotReadyException and ServiceUnavailable say "try later". Every other error
# (ValidationError: no such endpoint; AccessDenied) will not go away by waiting.
NOT_READY_ERRORS = frozenset(
    {
        "ModelError",
        "ModelNotReadyException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalDependencyException",
        "ThrottlingException",
    }
)
# A failure quotes the container's last log lines: on a failed first deploy CloudFormation
# deletes the endpoint's log group with the rest of the stack, so a message that only pointed
# there would point at nothing. CloudFormation keeps the stack's events, this reason included.
# The Provider framework returns the reason with its own text, and a custom resource response
# may be at most 4096 bytes, so the quote is kept short.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
EVIDENCE_MAX_CHARS = 1500
EVIDENCE_MAX_LINES = 20
EVIDENCE_WINDOW_SECONDS = 1800
# S3 answers these when an object is not there (yet).
MISSING_OBJECT_ERRORS = frozenset({"NoSuchKey", "404", "NotFound"})
# Endpoint states that waiting cannot fix.
BROKEN_STATES = frozenset({"Failed", "UpdateRollbackFailed", "OutOfService", "Deleting"})


class ReadinessError(Exception):
    """The endpoint does not classify, and waiting will not change that."""


def _endpoint_mode(event: dict[str, Any]) -> str:
    # Stacks deployed before endpoint modes existed have no EndpointMode: they are realtime.
    mode: str = event["ResourceProperties"].get("EndpointMode", "realtime")
    return mode


def _properties(event: dict[str, Any]) -> tuple[str, str, int]:
    properties = event["ResourceProperties"]
    # CloudFormation passes every custom resource property as a string.
    return (
        properties["EndpointName"],
        properties["EndpointConfigName"],
        int(properties["TimeoutSeconds"]),
    )


def on_event(event: dict[str, Any], *, now: float) -> dict[str, Any]:
    """Starts the check on Create and Update; a Delete has nothing to undo."""
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    endpoint_name, endpoint_config_name, timeout_seconds = _properties(event)
    logger.info(
        "Waiting up to %d s for endpoint %s (config %s) to classify",
        timeout_seconds,
        endpoint_name,
        endpoint_config_name,
    )
    return {"PhysicalResourceId": endpoint_name, "Deadline": now + timeout_seconds}


def _model_error_text(error: ClientError) -> str:
    details = error.response.get("Error", {})
    text = f"{details.get('Code')}: {details.get('Message')}"
    original_status = error.response.get("OriginalStatusCode")
    if original_status is not None:
        text += f" (container answered {original_status}: {error.response.get('OriginalMessage')})"
    log_stream = error.response.get("LogStreamArn")
    if log_stream:
        text += f"; container log: {log_stream}"
    return text


def probe(*, runtime: Any, endpoint_name: str) -> str | None:
    """Sends the probe once. None when the answer is correct, else why the endpoint is not
    ready yet. Raises ReadinessError when it answers wrongly or cannot be reached at all."""
    try:
        response = runtime.invoke_endpoint(
            EndpointName=endpoint_name,
            ContentType=PROBE_CONTENT_TYPE,
            Accept=PROBE_CONTENT_TYPE,
            Body=probe_request_body(),
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in NOT_READY_ERRORS:
            return _model_error_text(error)
        raise ReadinessError(
            f"endpoint {endpoint_name} cannot be invoked: {_model_error_text(error)}"
        ) from error
    except (ReadTimeoutError, ConnectionError) as error:
        # A cold serverless endpoint, or an instance still loading, can outlast the read
        # timeout; the next poll asks again.
        return f"no answer in time ({type(error).__name__}: {error})"
    problem = answer_problem(response["Body"].read())
    if problem is not None:
        raise ReadinessError(f"endpoint {endpoint_name} answered the probe wrongly: {problem}")
    return None


def container_log_tail(logs: Any, *, log_group_name: str, now: float) -> str:
    """The last lines the endpoint's containers logged (newest last), or why there are none."""
    try:
        response = logs.filter_log_events(
            logGroupName=log_group_name,
            startTime=int((now - EVIDENCE_WINDOW_SECONDS) * 1000),
            limit=1000,
        )
    except ClientError as error:
        return f"(no container log: {error.response.get('Error', {}).get('Code')})"
    lines = [event["message"].rstrip() for event in response.get("events", [])]
    if not lines:
        return f"(the container logged nothing to {log_group_name} in the last 30 minutes)"
    tail = "\n".join(lines[-EVIDENCE_MAX_LINES:])
    return tail[-EVIDENCE_MAX_CHARS:]


def _split_s3_url(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def _read_object(s3: Any, *, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None when it does not exist (yet)."""
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        if error.response.get("Error", {}).get("Code", "") in MISSING_OBJECT_ERRORS:
            return None
        raise


def probe_async(*, runtime: Any, s3: Any, event: dict[str, Any]) -> str | None:
    """One poll of the async probe: sends it on the first poll of this CloudFormation request,
    then looks for its answer. None when the answer is correct, else what it waits for.
    Raises ReadinessError when the endpoint answered wrongly or wrote a failure."""
    properties = event["ResourceProperties"]
    endpoint_name = properties["EndpointName"]
    bucket = properties["ProbeBucket"]
    # One request per deployment: CloudFormation's request id is the same in every poll.
    stem = f"{properties['ProbeInputPrefix']}readiness-{event['RequestId']}"
    sent_key = f"{stem}.sent.json"
    sent = _read_object(s3, bucket=bucket, key=sent_key)
    if sent is None:
        request_key = f"{stem}.json"
        s3.put_object(
            Bucket=bucket,
            Key=request_key,
            Body=probe_request_body(),
            ContentType=PROBE_CONTENT_TYPE,
        )
        try:
            response = runtime.invoke_endpoint_async(
                EndpointName=endpoint_name,
                InputLocation=f"s3://{bucket}/{request_key}",
                ContentType=PROBE_CONTENT_TYPE,
                Accept=PROBE_CONTENT_TYPE,
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in NOT_READY_ERRORS:
                return _model_error_text(error)
            raise ReadinessError(
                f"endpoint {endpoint_name} cannot be invoked: {_model_error_text(error)}"
            ) from error
        locations = {
            "OutputLocation": response["OutputLocation"],
            "FailureLocation": response.get("FailureLocation", ""),
        }
        s3.put_object(
            Bucket=bucket,
            Key=sent_key,
            Body=json.dumps(locations).encode("utf-8"),
            ContentType="application/json",
        )
        return f"async request sent; its answer will be {locations['OutputLocation']}"
    locations = json.loads(sent)
    failure_url = locations.get("FailureLocation") or ""
    if failure_url:
        failure_bucket, failure_key = _split_s3_url(failure_url)
        failure = _read_object(s3, bucket=failure_bucket, key=failure_key)
        if failure is not None:
            raise ReadinessError(
                f"endpoint {endpoint_name} failed the async probe: "
                f"{failure[:500].decode('utf-8', errors='replace')}"
            )
    output_bucket, output_key = _split_s3_url(locations["OutputLocation"])
    answer = _read_object(s3, bucket=output_bucket, key=output_key)
    if answer is None:
        return f"waiting for {locations['OutputLocation']} (the endpoint may be scaling out)"
    problem = answer_problem(answer)
    if problem is not None:
        raise ReadinessError(f"endpoint {endpoint_name} answered the probe wrongly: {problem}")
    return None


def is_complete(
    event: dict[str, Any],
    *,
    sagemaker: Any,
    runtime: Any,
    now: float,
    s3: Any = None,
    logs_client: Callable[[], Any] | None = None,
    log_group_name: str | None = None,
) -> dict[str, Any]:
    """One poll: complete when the endpoint classifies correctly; raises when it never will.

    With a CloudWatch Logs client factory (called only on failure) and the endpoint's log
    group, a failure quotes the container's last log lines."""
    try:
        return _poll(event, sagemaker=sagemaker, runtime=runtime, s3=s3, now=now)
    except ReadinessError as error:
        if logs_client is None or not log_group_name:
            raise
        tail = container_log_tail(logs_client(), log_group_name=log_group_name, now=now)
        raise ReadinessError(
            f"{error}\nLast container log lines ({log_group_name}):\n{tail}"
        ) from error


def _poll(
    event: dict[str, Any], *, sagemaker: Any, runtime: Any, s3: Any, now: float
) -> dict[str, Any]:
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    endpoint_name, endpoint_config_name, timeout_seconds = _properties(event)
    endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    status = endpoint["EndpointStatus"]
    if endpoint["EndpointConfigName"] != endpoint_config_name:
        logger.info(
            "Endpoint %s runs config %s, not %s (a rollback): nothing to check",
            endpoint_name,
            endpoint["EndpointConfigName"],
            endpoint_config_name,
        )
        return {"IsComplete": True}
    if status in BROKEN_STATES:
        raise ReadinessError(
            f"endpoint {endpoint_name} is {status}: {endpoint.get('FailureReason', 'no reason')}"
        )
    if status == "InService":
        if _endpoint_mode(event) == "async":
            problem = probe_async(runtime=runtime, s3=s3, event=event)
        else:
            problem = probe(runtime=runtime, endpoint_name=endpoint_name)
        if problem is None:
            logger.info("Endpoint %s classifies correctly", endpoint_name)
            return {"IsComplete": True}
    else:
        problem = f"endpoint is {status}"
    if now >= float(event["Deadline"]):
        raise ReadinessError(
            f"endpoint {endpoint_name} did not classify within {timeout_seconds} s of deployment; "
            f"last answer: {problem}"
        )
    logger.info("Endpoint %s is not ready yet: %s", endpoint_name, problem)
    return {"IsComplete": False}

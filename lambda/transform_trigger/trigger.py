"""Turns S3 event notifications from the queue into SageMaker transform jobs, exactly once.

Every upload maps to one deterministic job name, so a redelivered or concurrent duplicate event
finds its job already there and counts as done. Each job reads copies of exactly the object
versions its event names (version_pinning.py). Every SQS message gets its own outcome through
the SQS partial batch response: done, or back to the queue. An exception that escaped the
handler would instead make Lambda deliver the whole batch again ("If your function throws an
exception, the entire batch is considered a complete failure",
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html), so none does.

Each record of a message is decided on its own:
- started, or duplicate (its job exists), or ignored (nothing to do; logged with why);
- rejected: it can never succeed (malformed, larger than accepted, its version is gone). It is
  logged, a person is told through the notification topic (rejections.py), and it leaves the
  queue: retrying it would only end in the dead-letter queue and hold nothing up but itself;
- deferred: the invocation's time budget is spent (time_budget.py); not started, so retried;
- retry: throttling, a quota or a 5xx; back to the queue;
- failed: any other error (AccessDenied, a bug). Back to the queue, and after the bounded
  receives into the dead-letter queue, whose alarm tells a person; a redrive works once the
  cause is fixed.
A message leaves the queue when every one of its records is done; otherwise it comes back
whole, and the records already started count as duplicates the next time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from aws_errors import error_code, is_retryable
from botocore.exceptions import BotoCoreError, ClientError
from input_limits import InputLimits, InputTooLargeError, object_too_large
from input_manifests import manifest_document, manifest_key, write_manifest
from job_names import transform_job_name
from object_routing import DataLayout, DatasetMarker, Ignored, SingleFile, route_object
from rejections import publish_rejection
from s3_events import MalformedMessageError, RecordError, S3ObjectEvent, parse_notification
from time_budget import RemainingTime, TimeBudget
from transform_request import JobInput, TransformSettings, build_transform_request
from version_pinning import (
    PinningError,
    SourceVersion,
    latest_dataset_parts,
    pin_versions,
    pinned_folder,
)

logger = logging.getLogger(__name__)

Status = Literal["started", "duplicate", "ignored", "rejected", "deferred", "retry", "failed"]
# Outcomes after which the message may leave the queue.
DONE: frozenset[Status] = frozenset({"started", "duplicate", "ignored", "rejected"})
# What DescribeTransformJob answers for a name that has no job: ResourceNotFound in the
# service model, ValidationException ("Could not find ...") in practice.
_NO_SUCH_JOB = frozenset({"ResourceNotFound", "ValidationException"})


@dataclass(frozen=True, kw_only=True)
class TriggerSettings:
    job_name_prefix: str
    layout: DataLayout
    transform: TransformSettings
    limits: InputLimits
    budget: TimeBudget
    # The batch notification topic, told of every rejected upload.
    notification_topic_arn: str


@dataclass(frozen=True, kw_only=True)
class ObjectOutcome:
    status: Status
    detail: str
    key: str = ""
    job_name: str = ""
    # s3://bucket/key as far as known, for the notice of a rejection.
    shown_object: str = ""
    # An exception nobody expected, logged with its traceback.
    unexpected: BaseException | None = None


def transform_job_exists(*, sagemaker: Any, job_name: str) -> bool:
    try:
        sagemaker.describe_transform_job(TransformJobName=job_name)
    except ClientError as error:
        if error_code(error) in _NO_SUCH_JOB:
            return False
        raise
    return True


def create_transform_job(*, sagemaker: Any, request: dict[str, Any]) -> Status:
    """Calls CreateTransformJob; "duplicate" when a job of that name exists already.

    Two Lambdas can race on a duplicate event: the loser gets ResourceInUse, or a
    ValidationException saying the name must be unique. Both mean the job exists, which is
    confirmed with DescribeTransformJob rather than by parsing the message text.
    """
    job_name = request["TransformJobName"]
    try:
        sagemaker.create_transform_job(**request)
    except ClientError as error:
        code = error_code(error)
        if code == "ResourceInUse":
            return "duplicate"
        if code == "ValidationException" and transform_job_exists(
            sagemaker=sagemaker, job_name=job_name
        ):
            return "duplicate"
        raise
    return "started"


def _sources(
    *, event: S3ObjectEvent, route: SingleFile | DatasetMarker, limits: InputLimits, s3: Any
) -> list[SourceVersion]:
    """The object versions the job reads: the uploaded version, or the dataset's parts."""
    if isinstance(route, SingleFile):
        return [
            SourceVersion(
                key=route.key,
                version_id=event.version_id,
                etag=event.etag,
                size=event.size,
                # The file name alone, so that results land at output/<job>/<name>.out.
                relative_key=route.key.rpartition("/")[2],
            )
        ]
    return latest_dataset_parts(
        s3=s3, bucket=event.bucket, dataset_prefix=route.dataset_prefix, limits=limits
    )


def _start_job(
    *,
    event: S3ObjectEvent,
    route: SingleFile | DatasetMarker,
    job_name: str,
    settings: TriggerSettings,
    s3: Any,
    sagemaker: Any,
) -> ObjectOutcome:
    """Pins the versions, writes the manifest over the copies, and creates the job."""
    sources = _sources(event=event, route=route, limits=settings.limits, s3=s3)
    if not sources:
        assert isinstance(route, DatasetMarker)
        return ObjectOutcome(
            status="ignored",
            key=event.key,
            detail=f"dataset {route.dataset_prefix} has no non-empty part files",
        )
    folder = pinned_folder(pinned_prefix=settings.layout.pinned_inputs_prefix, job_name=job_name)
    kms_key_id = settings.transform.output_kms_key_id
    pin_versions(s3=s3, bucket=event.bucket, sources=sources, folder=folder, kms_key_id=kms_key_id)
    is_dataset = isinstance(route, DatasetMarker)
    job = JobInput(
        job_name=job_name,
        bucket=event.bucket,
        manifest_key=manifest_key(
            manifests_prefix=settings.layout.manifests_prefix, job_name=job_name
        ),
        # A single file cannot be split across machines.
        instance_count=settings.transform.dataset_instance_count if is_dataset else 1,
        source_key=event.key,
        source_version=event.identity,
        trigger="dataset" if is_dataset else "single-file",
    )
    write_manifest(
        s3=s3,
        bucket=job.bucket,
        key=job.manifest_key,
        document=manifest_document(
            bucket=event.bucket,
            base_prefix=folder,
            relative_keys=[source.relative_key for source in sources],
        ),
        kms_key_id=kms_key_id,
    )
    request = build_transform_request(
        settings=settings.transform, job=job, output_prefix=settings.layout.output_prefix
    )
    status = create_transform_job(sagemaker=sagemaker, request=request)
    detail = "job started" if status == "started" else "job exists"
    return ObjectOutcome(status=status, key=event.key, job_name=job_name, detail=detail)


def handle_object(
    *, event: S3ObjectEvent, settings: TriggerSettings, s3: Any, sagemaker: Any
) -> ObjectOutcome:
    """Starts the transform job for one upload, unless it has one or needs none."""
    if not event.is_object_created:
        return ObjectOutcome(
            status="ignored", key=event.key, detail=f"{event.event_name} is not ObjectCreated"
        )
    route = route_object(key=event.key, size=event.size, layout=settings.layout)
    if isinstance(route, Ignored):
        return ObjectOutcome(status="ignored", key=event.key, detail=route.reason)
    shown_object = f"s3://{event.bucket}/{event.key}"
    too_large = object_too_large(size=event.size, limits=settings.limits)
    if isinstance(route, SingleFile) and too_large:
        return ObjectOutcome(
            status="rejected", key=event.key, shown_object=shown_object, detail=too_large
        )
    job_name = transform_job_name(
        prefix=settings.job_name_prefix, bucket=event.bucket, key=event.key, version=event.identity
    )
    try:
        # Checked before anything is copied or written, so a late duplicate never rewrites
        # the manifest or the copies of a job that already ran.
        if transform_job_exists(sagemaker=sagemaker, job_name=job_name):
            return ObjectOutcome(
                status="duplicate", key=event.key, job_name=job_name, detail="job exists"
            )
        return _start_job(
            event=event,
            route=route,
            job_name=job_name,
            settings=settings,
            s3=s3,
            sagemaker=sagemaker,
        )
    except (PinningError, InputTooLargeError) as error:
        return ObjectOutcome(
            status="rejected",
            key=event.key,
            job_name=job_name,
            shown_object=shown_object,
            detail=str(error),
        )
    except (ClientError, BotoCoreError) as error:
        status: Status = "retry" if is_retryable(error) else "failed"
        return ObjectOutcome(status=status, key=event.key, job_name=job_name, detail=str(error))


def _rejected_record(record: RecordError) -> ObjectOutcome:
    return ObjectOutcome(
        status="rejected",
        shown_object=record.shown_object,
        detail=f"record {record.index} of the notification: {record.reason}",
    )


def _object_outcome(
    *, event: S3ObjectEvent, settings: TriggerSettings, s3: Any, sagemaker: Any
) -> ObjectOutcome:
    try:
        return handle_object(event=event, settings=settings, s3=s3, sagemaker=sagemaker)
    except Exception as error:  # one record's bug must not fail the batch
        return ObjectOutcome(
            status="failed",
            key=event.key,
            detail=f"unexpected {type(error).__name__} while handling the upload",
            unexpected=error,
        )


def handle_message(
    *,
    body: object,
    settings: TriggerSettings,
    s3: Any,
    sagemaker: Any,
    context: RemainingTime | None = None,
) -> list[ObjectOutcome]:
    """The outcome for every record of one SQS message; never raises.

    Before each record the time budget is checked; once it is spent, this record and the rest
    are deferred, untouched.
    """
    try:
        notification = parse_notification(body)
    except MalformedMessageError as error:
        # Never valid, and never will be: rejected (and reported) rather than retried.
        return [ObjectOutcome(status="rejected", detail=str(error))]
    if not notification.records:
        return [ObjectOutcome(status="ignored", detail=notification.empty_reason)]
    outcomes = []
    for record in notification.records:
        if not settings.budget.allows_a_record(context):
            outcomes.append(
                ObjectOutcome(
                    status="deferred",
                    key="" if isinstance(record, RecordError) else record.key,
                    detail="not started: too little of this invocation's time is left for "
                    "one more record; it comes back after the queue's visibility timeout",
                )
            )
        elif isinstance(record, RecordError):
            outcomes.append(_rejected_record(record))
        else:
            outcomes.append(
                _object_outcome(event=record, settings=settings, s3=s3, sagemaker=sagemaker)
            )
    return outcomes


def _reported(
    outcome: ObjectOutcome, *, settings: TriggerSettings, sns: Any, message_id: str
) -> ObjectOutcome:
    """A rejection counts as done only once a person has been told; until then it is retried."""
    if outcome.status != "rejected":
        return outcome
    try:
        publish_rejection(
            sns=sns,
            topic_arn=settings.notification_topic_arn,
            shown_object=outcome.shown_object,
            reason=outcome.detail,
            message_id=message_id,
        )
    except (ClientError, BotoCoreError) as error:
        status: Status = "retry" if is_retryable(error) else "failed"
        return ObjectOutcome(
            status=status,
            key=outcome.key,
            job_name=outcome.job_name,
            detail=f"rejected ({outcome.detail}), but the notice could not be sent: {error}",
        )
    return outcome


_LOG_LEVELS: dict[Status, int] = {
    "started": logging.INFO,
    "duplicate": logging.INFO,
    "ignored": logging.INFO,
    "deferred": logging.INFO,
    "rejected": logging.WARNING,
    "retry": logging.WARNING,
    "failed": logging.ERROR,
}


def _receive_count(record: dict[str, Any]) -> object:
    attributes = record.get("attributes")
    return attributes.get("ApproximateReceiveCount") if isinstance(attributes, dict) else None


def _log(outcome: ObjectOutcome, *, message_id: str, record: dict[str, Any]) -> None:
    logger.log(
        _LOG_LEVELS[outcome.status],
        "%s: %s",
        outcome.status,
        outcome.detail,
        exc_info=outcome.unexpected,
        extra={
            "message_id": message_id,
            "receive_count": _receive_count(record),
            "status": outcome.status,
            "key": outcome.key,
            "job_name": outcome.job_name,
        },
    )


def handle_sqs_batch(
    *,
    event: object,
    settings: TriggerSettings,
    s3: Any,
    sagemaker: Any,
    sns: Any,
    context: RemainingTime | None = None,
) -> dict[str, list[dict[str, str]]]:
    """The SQS partial batch response: the messages to receive again, by messageId.

    Never raises: an exception here would send every message of the batch back to the queue.
    `context` is the Lambda context; its remaining time bounds how many records start.
    """
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        # Lambda never polls an empty batch from SQS; seeing one means a misrouted or
        # hand-made invocation, which someone should notice.
        logger.warning(
            "invoked without SQS records: nothing to do",
            extra={"event_type": type(event).__name__, "records": type(records).__name__},
        )
        return {"batchItemFailures": []}
    failures: list[dict[str, str]] = []
    for record in records:
        message_id = record.get("messageId") if isinstance(record, dict) else None
        if not isinstance(message_id, str) or not message_id:
            # A failure can only be reported by messageId; an empty or missing one in the
            # response would fail the whole batch. SQS always sets it, so this is not SQS.
            logger.error("SQS record without a messageId skipped: it cannot be retried alone")
            continue
        assert isinstance(record, dict)
        if not settings.budget.allows_a_record(context):
            deferred = ObjectOutcome(
                status="deferred",
                detail="message not read: too little of this invocation's time is left; "
                "it comes back after the queue's visibility timeout",
            )
            _log(deferred, message_id=message_id, record=record)
            failures.append({"itemIdentifier": message_id})
            continue
        try:
            outcomes = [
                _reported(outcome, settings=settings, sns=sns, message_id=message_id)
                for outcome in handle_message(
                    body=record.get("body"),
                    settings=settings,
                    s3=s3,
                    sagemaker=sagemaker,
                    context=context,
                )
            ]
        except Exception as error:  # the last line of defence for the batch
            outcomes = [
                ObjectOutcome(
                    status="failed",
                    detail=f"unexpected {type(error).__name__} while reading the message",
                    unexpected=error,
                )
            ]
        for outcome in outcomes:
            _log(outcome, message_id=message_id, record=record)
        if any(outcome.status not in DONE for outcome in outcomes):
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}

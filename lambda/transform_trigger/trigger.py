"""Turns S3 event notifications from the queue into SageMaker transform jobs, exactly once.

Every upload maps to one deterministic job name, so a redelivered or concurrent duplicate event
finds its job already there and counts as done. Each job reads copies of exactly the object
versions its event names (version_pinning.py). Every SQS message gets its own outcome through
the SQS partial batch response: done, or back to the queue. An exception that escaped the
handler would instead make Lambda deliver the whole batch again ("If your function throws an
exception, the entire batch is considered a complete failure",
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html), so none does.

Messages that can never succeed (not an S3 event, a version that no longer exists) go back to
the queue too, on purpose: after the queue's bounded receive count they land in the
dead-letter queue, whose alarm is how a person hears of them, and where they stay 14 days for
a redrive once the cause is fixed. Nothing is dropped silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from aws_errors import error_code, is_retryable
from botocore.exceptions import BotoCoreError, ClientError
from input_manifests import manifest_document, manifest_key, write_manifest
from job_names import transform_job_name
from object_routing import DataLayout, DatasetMarker, Ignored, SingleFile, route_object
from s3_events import MalformedMessageError, S3ObjectEvent, parse_notification
from transform_request import JobInput, TransformSettings, build_transform_request
from version_pinning import (
    PinningError,
    SourceVersion,
    latest_dataset_parts,
    pin_versions,
    pinned_folder,
)

logger = logging.getLogger(__name__)

Status = Literal["started", "duplicate", "ignored", "retry", "failed"]
# Outcomes after which the message may leave the queue.
DONE: frozenset[Status] = frozenset({"started", "duplicate", "ignored"})
# What DescribeTransformJob answers for a name that has no job: ResourceNotFound in the
# service model, ValidationException ("Could not find ...") in practice.
_NO_SUCH_JOB = frozenset({"ResourceNotFound", "ValidationException"})


@dataclass(frozen=True, kw_only=True)
class TriggerSettings:
    job_name_prefix: str
    layout: DataLayout
    transform: TransformSettings


@dataclass(frozen=True, kw_only=True)
class ObjectOutcome:
    status: Status
    detail: str
    key: str = ""
    job_name: str = ""
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
    *, event: S3ObjectEvent, route: SingleFile | DatasetMarker, s3: Any
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
    return latest_dataset_parts(s3=s3, bucket=event.bucket, dataset_prefix=route.dataset_prefix)


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
    sources = _sources(event=event, route=route, s3=s3)
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
    except PinningError as error:
        return ObjectOutcome(status="failed", key=event.key, job_name=job_name, detail=str(error))
    except (ClientError, BotoCoreError) as error:
        status: Status = "retry" if is_retryable(error) else "failed"
        return ObjectOutcome(status=status, key=event.key, job_name=job_name, detail=str(error))


def handle_message(
    *, body: object, settings: TriggerSettings, s3: Any, sagemaker: Any
) -> list[ObjectOutcome]:
    """The outcome for every object named by one SQS message; never raises."""
    try:
        events = parse_notification(body)
    except MalformedMessageError as error:
        # Never valid, yet kept as a failure: after the bounded receives it lands in the DLQ,
        # whose alarm tells a person, instead of vanishing.
        return [ObjectOutcome(status="failed", detail=str(error))]
    outcomes = []
    for event in events:
        try:
            outcome = handle_object(event=event, settings=settings, s3=s3, sagemaker=sagemaker)
        except Exception as error:  # one message's bug must not fail the batch
            outcome = ObjectOutcome(
                status="failed",
                key=event.key,
                detail=f"unexpected {type(error).__name__} while handling the upload",
                unexpected=error,
            )
        outcomes.append(outcome)
    return outcomes


_LOG_LEVELS: dict[Status, int] = {
    "started": logging.INFO,
    "duplicate": logging.INFO,
    "ignored": logging.INFO,
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
    *, event: object, settings: TriggerSettings, s3: Any, sagemaker: Any
) -> dict[str, list[dict[str, str]]]:
    """The SQS partial batch response: the messages to receive again, by messageId.

    Never raises: an exception here would send every message of the batch back to the queue.
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
        try:
            outcomes = handle_message(
                body=record.get("body"), settings=settings, s3=s3, sagemaker=sagemaker
            )
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

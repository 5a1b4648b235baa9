"""Turns S3 event notifications from the queue into SageMaker transform jobs, exactly once.

Every object version maps to one deterministic job name, so a redelivered or concurrent
duplicate event finds its job already there and counts as done. Failures that can clear with
time go back to the queue through the SQS partial batch response; after the queue's bounded
receive count they land in the dead-letter queue, so nothing is dropped silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from aws_errors import error_code, is_retryable
from botocore.exceptions import BotoCoreError, ClientError
from input_manifests import (
    list_dataset_parts,
    manifest_document,
    manifest_key,
    single_file_manifest,
    write_manifest,
)
from job_names import transform_job_name
from object_routing import DataLayout, DatasetMarker, Ignored, SingleFile, route_object
from s3_events import MalformedMessageError, S3ObjectEvent, parse_notification
from transform_request import JobInput, TransformSettings, build_transform_request

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


def _job_for(
    *, event: S3ObjectEvent, route: SingleFile | DatasetMarker, settings: TriggerSettings, s3: Any
) -> tuple[JobInput, str] | str:
    """The job and its manifest document, or why there is nothing to run."""
    job_name = transform_job_name(
        prefix=settings.job_name_prefix, bucket=event.bucket, key=event.key, version=event.version
    )
    if isinstance(route, SingleFile):
        document = single_file_manifest(bucket=event.bucket, key=route.key)
        instance_count, trigger = 1, "single-file"
    else:
        parts = list_dataset_parts(s3=s3, bucket=event.bucket, dataset_prefix=route.dataset_prefix)
        if not parts:
            return f"dataset {route.dataset_prefix} has no non-empty part files"
        document = manifest_document(
            bucket=event.bucket, base_prefix=route.dataset_prefix, relative_keys=parts
        )
        instance_count, trigger = settings.transform.dataset_instance_count, "dataset"
    job = JobInput(
        job_name=job_name,
        bucket=event.bucket,
        manifest_key=manifest_key(
            manifests_prefix=settings.layout.manifests_prefix, job_name=job_name
        ),
        instance_count=instance_count,
        source_key=event.key,
        source_version=event.version,
        trigger=trigger,
    )
    return job, document


def handle_object(
    *, event: S3ObjectEvent, settings: TriggerSettings, s3: Any, sagemaker: Any
) -> ObjectOutcome:
    """Starts the transform job for one object version, unless it has one or needs none."""
    if not event.is_object_created:
        return ObjectOutcome(
            status="ignored", key=event.key, detail=f"{event.event_name} is not ObjectCreated"
        )
    route = route_object(key=event.key, size=event.size, layout=settings.layout)
    if isinstance(route, Ignored):
        return ObjectOutcome(status="ignored", key=event.key, detail=route.reason)
    job_name = ""
    try:
        planned = _job_for(event=event, route=route, settings=settings, s3=s3)
        if isinstance(planned, str):
            return ObjectOutcome(status="ignored", key=event.key, detail=planned)
        job, document = planned
        job_name = job.job_name
        # Checked before the manifest is written, so a late duplicate of a dataset marker
        # never rewrites the manifest of a job that already ran.
        if transform_job_exists(sagemaker=sagemaker, job_name=job_name):
            return ObjectOutcome(
                status="duplicate", key=event.key, job_name=job_name, detail="job exists"
            )
        write_manifest(
            s3=s3,
            bucket=job.bucket,
            key=job.manifest_key,
            document=document,
            kms_key_id=settings.transform.output_kms_key_id,
        )
        request = build_transform_request(
            settings=settings.transform, job=job, output_prefix=settings.layout.output_prefix
        )
        status = create_transform_job(sagemaker=sagemaker, request=request)
    except (ClientError, BotoCoreError) as error:
        status = "retry" if is_retryable(error) else "failed"
        return ObjectOutcome(status=status, key=event.key, job_name=job_name, detail=str(error))
    detail = "job started" if status == "started" else "job exists"
    return ObjectOutcome(status=status, key=event.key, job_name=job_name, detail=detail)


def handle_message(
    *, body: str, settings: TriggerSettings, s3: Any, sagemaker: Any
) -> list[ObjectOutcome]:
    """The outcome for every object named by one SQS message."""
    try:
        events = parse_notification(body)
    except MalformedMessageError as error:
        # Kept as a failure so that, after the bounded receives, it lands in the DLQ for a
        # person to look at instead of vanishing.
        return [ObjectOutcome(status="failed", detail=str(error))]
    return [
        handle_object(event=event, settings=settings, s3=s3, sagemaker=sagemaker)
        for event in events
    ]


_LOG_LEVELS: dict[Status, int] = {
    "started": logging.INFO,
    "duplicate": logging.INFO,
    "ignored": logging.INFO,
    "retry": logging.WARNING,
    "failed": logging.ERROR,
}


def handle_sqs_batch(
    *, event: dict[str, Any], settings: TriggerSettings, s3: Any, sagemaker: Any
) -> dict[str, list[dict[str, str]]]:
    """The SQS partial batch response: the messages to receive again, by messageId."""
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        message_id = record["messageId"]
        outcomes = handle_message(
            body=record.get("body", ""), settings=settings, s3=s3, sagemaker=sagemaker
        )
        for outcome in outcomes:
            logger.log(
                _LOG_LEVELS[outcome.status],
                "%s: %s",
                outcome.status,
                outcome.detail,
                extra={
                    "message_id": message_id,
                    "receive_count": record.get("attributes", {}).get("ApproximateReceiveCount"),
                    "status": outcome.status,
                    "key": outcome.key,
                    "job_name": outcome.job_name,
                },
            )
        if any(outcome.status not in DONE for outcome in outcomes):
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}

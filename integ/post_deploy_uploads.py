"""After deploy: uploads the assertion stack cannot make, checked with the user's credentials.

- A tagged upload (PutObject with Tagging): CopyObject copies tags by default, so a trigger
  without the tag permissions sends every tagged upload to its dead-letter queue.
- A dataset of MANY_PARTS parts: one custom resource per part would exceed CloudFormation's
  500 resources per stack, so the run uploads them itself, then the marker.

Each must start exactly one transform job that completes; the dataset's results are then
joined by the real client (integ/dataset_results.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from integ.flow_data import UPLOAD_TAGS, Dataset, SingleFile

JOB_TIMEOUT_SECONDS = 2700
POLL_SECONDS = 30


def upload_tagged_file(s3: Any, *, bucket: str, single: SingleFile) -> None:
    s3.put_object(
        Bucket=bucket, Key=single.key, Body=single.body.encode("utf-8"), Tagging=UPLOAD_TAGS
    )


def upload_dataset(s3: Any, *, bucket: str, dataset: Dataset) -> None:
    for name, body in dataset.parts:
        s3.put_object(Bucket=bucket, Key=f"{dataset.prefix}{name}", Body=body.encode("utf-8"))
    # The marker last: it starts the one job over every part already there.
    s3.put_object(Bucket=bucket, Key=dataset.marker_key, Body=b"")


def wait_for_one_completed_job(
    sagemaker: Any,
    *,
    name_filter: str,
    what: str,
    timeout_seconds: float = JOB_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Problems found; empty once exactly one job with the name filter has Completed."""
    waited = 0.0
    while True:
        jobs = sagemaker.list_transform_jobs(NameContains=name_filter)["TransformJobSummaries"]
        states = [(job["TransformJobName"], job["TransformJobStatus"]) for job in jobs]
        if len(jobs) > 1:
            return [f"{what}: expected exactly one transform job, found {states}"]
        if jobs and states[0][1] == "Completed":
            return []
        if jobs and states[0][1] in ("Failed", "Stopped"):
            return [f"{what}: transform job {states[0][0]} is {states[0][1]}"]
        if waited >= timeout_seconds:
            return [f"{what}: no completed transform job after {timeout_seconds:.0f} s: {states}"]
        sleep(POLL_SECONDS)
        waited += POLL_SECONDS


def check_post_deploy_uploads(
    *,
    session: Any,
    region: str,
    bucket: str,
    tagged: SingleFile,
    many_parts: Dataset,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    s3 = session.client("s3", region_name=region)
    sagemaker = session.client("sagemaker", region_name=region)
    upload_tagged_file(s3, bucket=bucket, single=tagged)
    upload_dataset(s3, bucket=bucket, dataset=many_parts)
    return [
        *wait_for_one_completed_job(
            sagemaker,
            name_filter=tagged.job_name_filter,
            what=f"tagged upload {tagged.key}",
            sleep=sleep,
        ),
        *wait_for_one_completed_job(
            sagemaker,
            name_filter=many_parts.job_name_filter,
            what=f"dataset of {len(many_parts.parts)} parts {many_parts.prefix}",
            sleep=sleep,
        ),
    ]

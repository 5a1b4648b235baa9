"""The run's own uploads: a tagged file and a many-part dataset, each one completed job.

Every request goes through botocore's Stubber, so PutObject's Tagging and the other parameters
are checked against the S3 and SageMaker service models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stubbed_session import ACCOUNT, REGION, StubbedSession

from integ.flow_data import UPLOAD_TAGS, many_part_dataset, tagged_file
from integ.post_deploy_uploads import check_post_deploy_uploads, wait_for_one_completed_job

BUCKET = "zstcinteg-data-bucket"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _jobs(*states: tuple[str, str]) -> dict[str, Any]:
    return {
        "TransformJobSummaries": [
            {
                "TransformJobName": name,
                "TransformJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/{name}",
                "CreationTime": NOW,
                "TransformJobStatus": status,
            }
            for name, status in states
        ]
    }


def test_the_many_part_dataset_is_in_natural_order_and_uploaded_out_of_order() -> None:
    many = many_part_dataset("r1")
    assert len(many.parts) == 150
    assert many.parts[0][0] == "part-150.jsonl"
    assert many.ids_in_input_order[:3] == ("many-1", "many-2", "many-3")


def test_uploads_then_waits_for_one_completed_job_each() -> None:
    session = StubbedSession()
    tagged = tagged_file("r1")
    many = many_part_dataset("r1", parts=3)
    s3 = session.stub("s3")
    s3.add_response(
        "put_object",
        {},
        {"Bucket": BUCKET, "Key": tagged.key, "Body": tagged.body.encode(), "Tagging": UPLOAD_TAGS},
    )
    for name, body in many.parts:
        s3.add_response(
            "put_object",
            {},
            {"Bucket": BUCKET, "Key": f"{many.prefix}{name}", "Body": body.encode()},
        )
    s3.add_response("put_object", {}, {"Bucket": BUCKET, "Key": many.marker_key, "Body": b""})
    sagemaker = session.stub("sagemaker")
    sagemaker.add_response("list_transform_jobs", _jobs(), {"NameContains": tagged.job_name_filter})
    sagemaker.add_response(
        "list_transform_jobs",
        _jobs(("zstcinteg-input-r1-tagged-jsonl-0123456789abcdef", "Completed")),
        {"NameContains": tagged.job_name_filter},
    )
    sagemaker.add_response(
        "list_transform_jobs",
        _jobs(("zstcinteg-datasets-r1-many-success-0123456789abcdef", "Completed")),
        {"NameContains": many.job_name_filter},
    )
    slept: list[float] = []

    problems = check_post_deploy_uploads(
        session=session,
        region=REGION,
        bucket=BUCKET,
        tagged=tagged,
        many_parts=many,
        sleep=slept.append,
    )

    assert problems == []
    assert slept == [30]
    session.assert_no_pending_responses()


def test_a_failed_or_duplicated_job_is_a_problem() -> None:
    session = StubbedSession()
    sagemaker = session.client("sagemaker")
    stub = session.stub("sagemaker")
    stub.add_response("list_transform_jobs", _jobs(("job-a", "Failed")))
    stub.add_response("list_transform_jobs", _jobs(("job-a", "Completed"), ("job-b", "InProgress")))

    failed = wait_for_one_completed_job(sagemaker, name_filter="x", what="tagged upload")
    duplicated = wait_for_one_completed_job(sagemaker, name_filter="x", what="tagged upload")

    assert failed == ["tagged upload: transform job job-a is Failed"]
    assert "expected exactly one transform job" in duplicated[0]

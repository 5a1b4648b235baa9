"""The objects the integration run uploads and what each one must produce.

Keys carry the run id: SageMaker keeps transform job records for good and derives nothing from
them here, so a job of an earlier run never matches this run's name filter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from stacks.data_layout import DATASETS_PREFIX, INPUT_PREFIX

# The JumpStart zero-shot request shape (see README, "Request and response").
LABELS = ["Health", "Humor", "Personal Growth", "Philanthropic", "Leisure", "Career", "Finance"]
TEMPLATE = "This example is {}."
ENDPOINT_REQUEST = {
    "inputs": "#newyearsresolution :: read more books, no scrolling fb/checking email b4 breakfast",
    "parameters": {
        "candidate_labels": LABELS,
        "multi_label": False,
        "hypothesis_template": TEMPLATE,
    },
}
DATASET_MARKER = "_SUCCESS"


def _record(record_id: str, text: str, labels: list[str] = LABELS) -> str:
    return json.dumps(
        {
            "id": record_id,
            "inputs": text,
            "parameters": {"candidate_labels": labels, "hypothesis_template": TEMPLATE},
        }
    )


@dataclass(frozen=True)
class SingleFile:
    key: str
    body: str
    # 1-based lines that are bad on purpose and must come back as error lines in place.
    error_lines: tuple[int, ...]
    # SageMaker ListTransformJobs NameContains: the slug the trigger puts into the job name.
    job_name_filter: str


@dataclass(frozen=True)
class Dataset:
    prefix: str
    # Part name -> body, in upload order; natural order (part-1, part-2, part-10) is input order.
    parts: tuple[tuple[str, str], ...]
    ids_in_input_order: tuple[str, ...]
    job_name_filter: str

    @property
    def marker_key(self) -> str:
        return f"{self.prefix}{DATASET_MARKER}"


def single_file(run_id: str) -> SingleFile:
    lines = [
        _record("resolution-1", "run a marathon before summer"),
        # Empty labels: the request contract refuses it, so this line must become an error line.
        _record("bad-no-labels", "learn to play the piano", labels=[]),
        _record("resolution-3", "save a tenth of every pay check"),
        "this line is not JSON",
        _record("resolution-5", "volunteer at the food bank once a month"),
    ]
    return SingleFile(
        key=f"{INPUT_PREFIX}{run_id}.jsonl",
        body="\n".join(lines) + "\n",
        error_lines=(2, 4),
        job_name_filter=f"input-{run_id}-jsonl",
    )


def dataset(run_id: str) -> Dataset:
    # Uploaded out of order and named without zero padding, so only a natural sort of the part
    # names gives input order back.
    parts = (
        ("part-10.jsonl", [("dataset-4", "call my grandparents every week")]),
        ("part-1.jsonl", [("dataset-1", "cook at home four nights a week")]),
        ("part-2.jsonl", [("dataset-2", "finish the online course"), ("dataset-3", "sleep by 11")]),
    )
    ordered_ids = ("dataset-1", "dataset-2", "dataset-3", "dataset-4")
    return Dataset(
        prefix=f"{DATASETS_PREFIX}{run_id}/",
        parts=tuple(
            (name, "\n".join(_record(i, text) for i, text in records) + "\n")
            for name, records in parts
        ),
        ids_in_input_order=ordered_ids,
        job_name_filter=f"datasets-{run_id}-success",
    )


def duplicate_s3_event(*, bucket: str, key: str, version_id: str, size: int) -> str:
    """An SQS message body as S3 sends it for one ObjectCreated:Put (event version 2.1).

    Structure: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
    Keys are URL-encoded in real events; the run's keys have no character that encoding changes.
    """
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "bucket": {"name": bucket},
                        "object": {"key": key, "size": size, "versionId": version_id},
                    },
                }
            ]
        }
    )


# Enough parts that the trigger's copy of the parts into one job's pinned input takes real
# time, far more than the three of the assertion stack's dataset.
MANY_PARTS = 150
# S3 object tags as PutObject takes them (URL query form). CopyObject copies tags by default,
# which needs tag permissions on both sides (README of the trigger, "Tagged uploads").
UPLOAD_TAGS = "team=ml-platform&purpose=zstc-integ"


def tagged_file(run_id: str) -> SingleFile:
    """A JSON Lines file uploaded with object tags: it must run like any other upload."""
    return SingleFile(
        key=f"{INPUT_PREFIX}{run_id}-tagged.jsonl",
        body=_record("tagged-1", "learn a new language this year") + "\n",
        error_lines=(),
        job_name_filter=f"input-{run_id}-tagged-jsonl",
    )


def many_part_dataset(run_id: str, parts: int = MANY_PARTS) -> Dataset:
    """A dataset of many one-record parts, uploaded in reverse order before its marker."""
    names = [f"part-{n}.jsonl" for n in range(1, parts + 1)]
    return Dataset(
        prefix=f"{DATASETS_PREFIX}{run_id}-many/",
        parts=tuple(
            (name, _record(f"many-{n}", f"resolution number {n}") + "\n")
            for n, name in reversed(list(enumerate(names, start=1)))
        ),
        ids_in_input_order=tuple(f"many-{n}" for n in range(1, parts + 1)),
        job_name_filter=f"datasets-{run_id}-many-success",
    )

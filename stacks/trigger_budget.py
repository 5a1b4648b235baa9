"""The largest input the transform trigger accepts, and the time budget that follows from it.

One source for the limits the trigger enforces (lambda/transform_trigger/input_limits.py, via
its environment), the per-record budget it keeps (time_budget.py), the function timeout and
the queue's visibility timeout.

How long one record may take. The trigger's work for one record is: DescribeTransformJob; for a
dataset, ListObjectVersions pages of 1,000; one server-side copy per part (CopyObject up to
MULTIPART_PART_BYTES, above that HeadObject, CreateMultipartUpload, one UploadPartCopy per part
and CompleteMultipartUpload); PutObject of the manifest; CreateTransformJob; and an SNS Publish
for a rejection. Copies run COPY_WORKERS at a time (version_pinning.py; the clients keep as many
connections, handler.py).

The rates below are assumptions, chosen on the slow side, not measurements: no AWS account is
reachable from the test suite, and S3 documents no server-side copy rate. S3's performance
guidelines suggest one concurrent request per 85-90 MB/s of throughput
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance-guidelines.html,
"Horizontal scaling of storage connections"); a copy is assumed to move half that. Every request
is assumed to take REQUEST_SECONDS on top of its bytes, several times the latency S3 states for
small requests. The integ run in a real account is where these get checked.
"""

from __future__ import annotations

import math

GIB = 1024**3
MIB = 1024**2

# --- Assumptions (see above) -------------------------------------------------------------------
COPY_BYTES_PER_SECOND = 40 * 10**6
REQUEST_SECONDS = 0.5
# Must equal lambda/transform_trigger/version_pinning.py COPY_WORKERS and
# MULTIPART_COPY_THRESHOLD (checked by tests/batch/test_batch_trigger_budget.py).
COPY_WORKERS = 16
MULTIPART_PART_BYTES = 256 * MIB
# ListObjectVersions returns at most 1,000 versions a page (S3 API reference, MaxKeys).
LIST_PAGE_SIZE = 1000
# DescribeTransformJob, PutObject (manifest), CreateTransformJob, SNS Publish.
FIXED_REQUESTS = 4
# Requests around one multipart copy besides its UploadPartCopy calls: HeadObject,
# CreateMultipartUpload, CompleteMultipartUpload.
MULTIPART_OVERHEAD_REQUESTS = 3

# --- The largest accepted input ------------------------------------------------------------------
# One uploaded file (or one part of a dataset). A file this size is already days of GPU time on
# one instance; a dataset of many parts spreads over several instances.
MAX_OBJECT_BYTES = 10 * GIB
MAX_DATASET_PARTS = 2000
MAX_DATASET_BYTES = 50 * GIB
# Versions and delete markers under a dataset's folder, old ones included (they are listed to
# find the current ones, and expire after the data bucket's noncurrent-version days).
MAX_DATASET_LISTED_VERSIONS = 10 * MAX_DATASET_PARTS

# Time for the rest of a batch beside its largest record, and for a cold start: the function
# timeout is the per-record budget plus this.
BATCH_REMAINDER_SECONDS = 120
# "set the source queue's visibility timeout to at least six times the configuration timeout
# on your function" (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
VISIBILITY_TIMEOUT_FACTOR = 6
# The longest function timeout Lambda allows.
MAX_FUNCTION_TIMEOUT_SECONDS = 900


def copy_seconds(*, total_bytes: int, requests: int) -> float:
    """Worst-case seconds to copy `total_bytes` in `requests` requests, COPY_WORKERS at a time."""
    byte_seconds = total_bytes / (COPY_WORKERS * COPY_BYTES_PER_SECOND)
    request_seconds = math.ceil(requests / COPY_WORKERS) * REQUEST_SECONDS
    return byte_seconds + request_seconds


def single_file_seconds(size: int) -> float:
    parts = math.ceil(size / MULTIPART_PART_BYTES)
    copy_requests = 1 if parts <= 1 else parts + MULTIPART_OVERHEAD_REQUESTS
    return FIXED_REQUESTS * REQUEST_SECONDS + copy_seconds(total_bytes=size, requests=copy_requests)


def dataset_seconds(*, parts: int, total_bytes: int, listed_versions: int) -> float:
    # Parts above MULTIPART_PART_BYTES are copied in pieces; there are at most this many.
    large_parts = total_bytes // MULTIPART_PART_BYTES
    copy_requests = (
        parts
        + large_parts * MULTIPART_OVERHEAD_REQUESTS
        + math.ceil(total_bytes / MULTIPART_PART_BYTES)
    )
    # One page more than the limit fills: the listing stops once past it.
    pages = math.ceil(listed_versions / LIST_PAGE_SIZE) + 1
    return (FIXED_REQUESTS + pages) * REQUEST_SECONDS + copy_seconds(
        total_bytes=total_bytes, requests=copy_requests
    )


def record_budget_seconds() -> int:
    """The most one record may need: the larger of the largest file and the largest dataset."""
    worst = max(
        single_file_seconds(MAX_OBJECT_BYTES),
        dataset_seconds(
            parts=MAX_DATASET_PARTS,
            total_bytes=MAX_DATASET_BYTES,
            listed_versions=MAX_DATASET_LISTED_VERSIONS,
        ),
    )
    return math.ceil(worst)


RECORD_BUDGET_SECONDS = record_budget_seconds()
TRIGGER_TIMEOUT_SECONDS = RECORD_BUDGET_SECONDS + BATCH_REMAINDER_SECONDS
assert TRIGGER_TIMEOUT_SECONDS <= MAX_FUNCTION_TIMEOUT_SECONDS
QUEUE_VISIBILITY_TIMEOUT_SECONDS = VISIBILITY_TIMEOUT_FACTOR * TRIGGER_TIMEOUT_SECONDS


def trigger_limit_environment() -> dict[str, str]:
    """The Lambda environment entries read by lambda/transform_trigger/trigger_settings.py."""
    return {
        "MAX_OBJECT_BYTES": str(MAX_OBJECT_BYTES),
        "MAX_DATASET_PARTS": str(MAX_DATASET_PARTS),
        "MAX_DATASET_BYTES": str(MAX_DATASET_BYTES),
        "MAX_DATASET_LISTED_VERSIONS": str(MAX_DATASET_LISTED_VERSIONS),
        "RECORD_BUDGET_SECONDS": str(RECORD_BUDGET_SECONDS),
    }

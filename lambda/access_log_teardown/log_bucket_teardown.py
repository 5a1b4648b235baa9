"""Makes sure late server access logs cannot stop the access-log bucket's deletion.

S3 delivers server access logs best-effort, up to hours late. The data bucket's own teardown
(the CDK emptying it) writes logs that may arrive after the log bucket was emptied, and the
log bucket's DeleteBucket then fails with BucketNotEmpty: the data stack ends DELETE_FAILED
(aws/aws-cdk#21776, #16332). CloudFormation deletes this custom resource after the data bucket
and before the log bucket. The log bucket's policy, the only grant that lets the logging service
(logging.s3.amazonaws.com) write there, names the data bucket as the source, so CloudFormation
deletes it even before the data bucket; this resource deletes it again in case it is still
there, so no delivery can land any more, then deletes every object version. Create and Update
do nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)
# DeleteObjects takes at most 1,000 keys per request.
DELETE_BATCH = 1000


def empty_bucket(s3: Any, *, bucket: str) -> int:
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in (*page.get("Versions", ()), *page.get("DeleteMarkers", ()))
        ]
        for start in range(0, len(versions), DELETE_BATCH):
            batch = versions[start : start + DELETE_BATCH]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            deleted += len(batch)
    return deleted


def on_event(event: dict[str, Any], *, s3: Any) -> dict[str, Any]:
    bucket = event["ResourceProperties"]["BucketName"]
    if event["RequestType"] != "Delete":
        return {"PhysicalResourceId": bucket}
    try:
        # First stop the deliveries, then empty: nothing can arrive after the last delete.
        # (CloudFormation normally deleted the policy already, before the data bucket.)
        s3.delete_bucket_policy(Bucket=bucket)
        count = empty_bucket(s3, bucket=bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchBucket":
            logger.info("Bucket %s is already gone", bucket)
            return {"PhysicalResourceId": event["PhysicalResourceId"]}
        raise
    logger.info("Closed %s to log deliveries and deleted %d object versions", bucket, count)
    return {"PhysicalResourceId": event["PhysicalResourceId"]}

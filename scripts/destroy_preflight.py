"""What `make destroy` does before `cdk destroy`: stop this deployment's transform jobs, and say
which CDK bootstrap-bucket assets the deployment leaves behind.

A transform job is no resource of any stack: it outlives `cdk destroy`, keeps its instances
billing until it ends, and in VPC mode keeps network interfaces in the subnets the network
stack must delete. This deployment's jobs are found by what they read: their input lies in the
data bucket of `<stack_prefix>-Data` (its BucketName output). Each is stopped
(StopTransformJob), then waited for until it has left the Stopping state.

The templates and Lambda/model assets `cdk deploy` uploaded stay in the bootstrap bucket
(cdk-<qualifier>-assets-<account>-<region>), which every CDK app of the environment shares;
destroy lists the ones this deployment's templates reference, with their size. `cdk gc`
(unstable in CDK CLI 2.1148, `--unstable=gc`) removes unreferenced assets of the whole
environment, other apps' included, so destroy does not run it; the report names the command.

Usage: python scripts/destroy_preflight.py [-c stack_prefix=NAME ...]   (CDK-style arguments)
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stacks.teardown import BATCH, DATA, ENDPOINT, NETWORK

# SageMaker's transform job states; the ones a job can still bill or hold ENIs in.
ACTIVE_STATES = ("InProgress", "Stopping")
STOP_WAIT_SECONDS = 1800
POLL_SECONDS = 20
# A CDK asset object: the content hash, then an extension (templates, zips, model.tar.gz).
_ASSET_KEY = re.compile(r"\b([0-9a-f]{64}\.(?:json|zip|gz|tar\.gz))\b")
_ASSET_BUCKET = re.compile(r"cdk-[a-z0-9]+-assets-(?:\$\{AWS::AccountId\}|\d{12})-")


@dataclass(frozen=True)
class Asset:
    key: str
    size: int


def stack_names(prefix: str) -> list[str]:
    return [f"{prefix}-{part}" for part in (BATCH, ENDPOINT, NETWORK, DATA)]


def data_bucket_name(cloudformation: Any, *, prefix: str) -> str | None:
    """The deployment's data bucket, or None when its data stack does not exist."""
    try:
        (stack,) = cloudformation.describe_stacks(StackName=f"{prefix}-{DATA}")["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    for output in stack.get("Outputs", []):
        if output["OutputKey"] == "BucketName":
            return str(output["OutputValue"])
    return None


def running_jobs(sagemaker: Any, *, bucket: str) -> list[str]:
    """Transform jobs still InProgress whose input is in this deployment's data bucket."""
    found = []
    for page in sagemaker.get_paginator("list_transform_jobs").paginate(StatusEquals="InProgress"):
        for summary in page["TransformJobSummaries"]:
            name = summary["TransformJobName"]
            job = sagemaker.describe_transform_job(TransformJobName=name)
            source = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
            if source.startswith(f"s3://{bucket}/"):
                found.append(name)
    return found


def stop_jobs(
    sagemaker: Any,
    names: Iterable[str],
    *,
    say: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    wait_seconds: float = STOP_WAIT_SECONDS,
) -> list[str]:
    """Stops the jobs and waits until none is InProgress or Stopping; returns any still active."""
    names = list(names)
    for name in names:
        say(f"stopping transform job {name}")
        sagemaker.stop_transform_job(TransformJobName=name)
    waited = 0.0
    active = names
    while active:
        statuses = {
            name: sagemaker.describe_transform_job(TransformJobName=name)["TransformJobStatus"]
            for name in active
        }
        active = [name for name, status in statuses.items() if status in ACTIVE_STATES]
        if not active or waited >= wait_seconds:
            break
        say(f"waiting for {len(active)} transform job(s) to stop: {', '.join(active)}")
        sleep(POLL_SECONDS)
        waited += POLL_SECONDS
    return active


def referenced_assets(cloudformation: Any, s3: Any, *, prefix: str, bucket: str) -> list[Asset]:
    """Asset objects of the bootstrap bucket that this deployment's templates reference."""
    keys: set[str] = set()
    for stack_name in stack_names(prefix):
        try:
            body = cloudformation.get_template(StackName=stack_name)["TemplateBody"]
        except cloudformation.exceptions.ClientError:
            continue  # not deployed
        text = body if isinstance(body, str) else repr(body)
        if _ASSET_BUCKET.search(text):
            keys.update(_ASSET_KEY.findall(text))
    assets = []
    for key in sorted(keys):
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except s3.exceptions.ClientError:
            continue  # already gone
        assets.append(Asset(key=key, size=int(head["ContentLength"])))
    return assets


def bootstrap_bucket(sts: Any, *, region: str, qualifier: str = "hnb659fds") -> str:
    account = sts.get_caller_identity()["Account"]
    return f"cdk-{qualifier}-assets-{account}-{region}"


def _prefix_from_args(arguments: list[str]) -> str:
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--context", action="append", default=[])
    known, _ = parser.parse_known_args(arguments)
    context = dict(item.split("=", 1) for item in known.context if "=" in item)
    from stacks.teardown import teardown_stack_prefix

    return teardown_stack_prefix(context)


def main(arguments: list[str]) -> int:
    import boto3

    prefix = _prefix_from_args(arguments)
    session = boto3.Session()
    cloudformation = session.client("cloudformation")
    sagemaker = session.client("sagemaker")
    bucket = data_bucket_name(cloudformation, prefix=prefix)
    if bucket is None:
        print(f"no stack {prefix}-{DATA}: no transform jobs of this deployment to stop")
    else:
        still_active = stop_jobs(sagemaker, running_jobs(sagemaker, bucket=bucket))
        if still_active:
            print(f"still stopping after {STOP_WAIT_SECONDS} s: {', '.join(still_active)}")
            return 1
    assets_bucket = bootstrap_bucket(session.client("sts"), region=session.region_name or "")
    assets = referenced_assets(
        cloudformation, session.client("s3"), prefix=prefix, bucket=assets_bucket
    )
    total = sum(asset.size for asset in assets)
    print(
        f"left in the CDK bootstrap bucket {assets_bucket} after destroy: {len(assets)} "
        f"asset(s) of this deployment, {total / 1e6:.1f} MB (cents a month). They are shared "
        "with every CDK app of this account and region; to remove unreferenced assets of all "
        "of them: node_modules/.bin/cdk gc --unstable=gc --rollback-buffer-days=1"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

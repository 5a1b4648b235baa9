"""The transform job name prefix of one deployment, derived from its stack prefix.

One source for the job names (the trigger gets the prefix in its environment), the job-state
rule's prefix match, the IAM resource transform-job/<prefix>* and the JobNamePrefix output the
client reads. Plain Python, so the trigger's tests can use it without the CDK.
"""

from __future__ import annotations

import hashlib
import re

# Hex digits of the stack prefix's hash in the job name prefix.
STACK_PREFIX_HASH_LENGTH = 6


def deployment_job_name_prefix(stack_prefix: str) -> str:
    """The job name prefix of the deployment named `stack_prefix`, shared by no other.

    The prefix must never be a prefix of another deployment's job names: plain "zstc-" also
    matched "zstc-dev-..." of a deployment named Zstc-Dev, in the rule and in IAM. So it is
    <slug>--<hash>-, where the slug is the stack prefix lowercased (SageMaker ARNs are
    lowercase, and IAM matches the ARN) with each run of '-' made one and none at either end.
    A slug never contains "--" and never ends with '-', and the rest of a job name has no "--"
    (the key's slug and the digest have none: lambda/transform_trigger/job_names.py), so the
    first "--" of any job name ends its deployment's slug, and two prefixes can match the same
    name only if their slugs are equal. Stack prefixes that differ only in case or hyphens
    ("Zstc" and "zstc", "Zs-tc" and "Zs--tc") share a slug; the hash of the exact stack prefix
    tells those apart. The stack prefix is at most 32 characters (stacks/config.py), so the
    prefix is at most 41, and a job name keeps room for its key's slug and digest (63 in all).
    """
    slug = re.sub(r"-+", "-", stack_prefix.lower()).strip("-")
    digest = hashlib.sha256(stack_prefix.encode("utf-8")).hexdigest()[:STACK_PREFIX_HASH_LENGTH]
    return f"{slug}--{digest}-"

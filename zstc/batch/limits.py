"""The largest line a batch transform job accepts: MaxPayloadInMB, and where it came from.

SageMaker fails the whole job when one record is larger than MaxPayloadInMB ("The value of
MaxPayloadInMB must be greater than, or equal to, the size of a single record": CreateTransformJob
API reference), so a file is checked against it before anything is uploaded or run locally.

The limit is the deployed one where a stack is there to ask (the Batch stack's MaxPayloadInMB
output); otherwise the project's configuration decides it (stacks/config.py: batch_max_payload_mb,
or the model kind's default from BATCH_PAYLOAD_MB_BY_MODEL_KIND), as `cdk deploy` would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zstc.cli_errors import CliError

BYTES_PER_MB = 1024 * 1024
MAX_PAYLOAD_OUTPUT = "MaxPayloadInMB"


@dataclass(frozen=True, kw_only=True)
class PayloadLimit:
    mb: int
    # Where the number comes from, in words the user can check.
    source: str

    @property
    def bytes(self) -> int:
        return self.mb * BYTES_PER_MB


def configured_payload_limit(*, project: Any, reason: str = "") -> PayloadLimit:
    """The limit `cdk deploy` would give the jobs, from the project's configuration.

    project: a zstc.project_config.ProjectConfig. reason: why no deployed limit was read.
    """
    config = project.config
    if config.batch_max_payload_mb == "auto":
        rule = f"model_kind {config.model_kind!r} default"
    else:
        rule = "batch_max_payload_mb"
    why = f"; {reason}" if reason else ""
    source = f"{rule} from {project.origin}{why}"
    return PayloadLimit(mb=int(config.batch_payload_mb), source=source)


def deployed_payload_limit(outputs: dict[str, str], *, stack_name: str) -> PayloadLimit | None:
    """The Batch stack's MaxPayloadInMB output; None for a stack deployed before it existed."""
    raw = outputs.get(MAX_PAYLOAD_OUTPUT)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise CliError(
            f"stack {stack_name!r} output {MAX_PAYLOAD_OUTPUT} is {raw!r}, not a positive "
            "integer; redeploy it with this version of zstc"
        )
    return PayloadLimit(mb=int(raw), source=f"{stack_name} output {MAX_PAYLOAD_OUTPUT}")


@dataclass(frozen=True, kw_only=True)
class BatchLimits:
    """What a file is checked against before upload: labels per line and bytes per line."""

    max_labels: int
    labels_source: str
    payload: PayloadLimit
    # Where both come from, for the dry run's summary line.
    origin: str


def deployed_limits(*, cloudformation: Any, stack_prefix: str, project: Any) -> BatchLimits:
    """The deployed Batch stack's limits (the configured payload limit for a stack deployed
    before it had the MaxPayloadInMB output)."""
    from zstc.stack_outputs import BATCH_STACK_SUFFIX, batch_resources, read_stack_outputs

    stack_name = stack_prefix + BATCH_STACK_SUFFIX
    batch = batch_resources(cloudformation=cloudformation, stack_prefix=stack_prefix)
    outputs = read_stack_outputs(cloudformation=cloudformation, stack_name=stack_name)
    payload = deployed_payload_limit(outputs, stack_name=stack_name) or configured_payload_limit(
        project=project, reason=f"{stack_name} has no {MAX_PAYLOAD_OUTPUT} output"
    )
    return BatchLimits(
        max_labels=batch.max_candidate_labels,
        labels_source=f"{stack_name} output MaxCandidateLabels",
        payload=payload,
        origin=f"the deployed {stack_name} stack's outputs",
    )


def configured_limits(*, project: Any, reason: str) -> BatchLimits:
    config = project.config
    rule = (
        f"model_kind {config.model_kind!r} default"
        if config.batch_max_payload_mb == "auto"
        else "batch_max_payload_mb"
    )
    return BatchLimits(
        max_labels=int(config.max_candidate_labels),
        labels_source=f"max_candidate_labels from {project.origin}; {reason}",
        payload=configured_payload_limit(project=project, reason=reason),
        origin=f"the configuration ({project.origin}; payload: {rule}); {reason}",
    )


def dry_run_limits(*, open_cloudformation: Any, stack_prefix: str) -> BatchLimits:
    """For a dry run: the deployed limits when the Batch stack can be read, else the configured
    ones, saying why (a dry run needs no AWS region or credentials).

    open_cloudformation: returns a CloudFormation client, or raises CliError.
    """
    from zstc.project_config import project_config

    project = project_config()
    stack_name = f"{stack_prefix}-Batch"
    try:
        cloudformation = open_cloudformation()
    except CliError:
        return configured_limits(
            project=project, reason=f"{stack_name} not read (no AWS region or credentials)"
        )
    try:
        return deployed_limits(
            cloudformation=cloudformation, stack_prefix=stack_prefix, project=project
        )
    except CliError as error:
        # The stack's own message up to its advice, e.g. "... is not deployed in this region".
        reason = str(error).split(" (", 1)[0].split(";", 1)[0]
        return configured_limits(project=project, reason=f"{stack_name} not read: {reason}")


def check_lines_fit(lines: Sequence[str], *, limit: PayloadLimit) -> None:
    """Refuses the first line larger than the limit (newline included, as SageMaker splits)."""
    for line_number, line in enumerate(lines, start=1):
        size = len(line.encode("utf-8")) + 1
        if size > limit.bytes:
            raise CliError(
                f"line {line_number} is {size} bytes, more than MaxPayloadInMB {limit.mb} "
                f"({limit.bytes} bytes; {limit.source}); the transform job would fail on it. "
                "Shorten the text, or raise batch_max_payload_mb in cdk.json and redeploy",
                exit_code=2,
            )

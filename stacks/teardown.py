"""What `make destroy` deletes: every stack `make deploy` can create, found by name.

`cdk destroy` deletes stacks by name, and leaves out any stack the app it synthesizes does not
have. The real app only has the Network stack when synth sees `-c vpc=...`, so a plain
`cdk destroy --all` after a VPC deploy never names it: the data stack then fails to delete
(Network imports its key) and the VPC endpoints keep billing.

In teardown mode the app is not the real one: it has every stack zstc can create for the stack
prefix, empty, with the real dependencies, so `cdk destroy --all` deletes them in the right order
(batch and endpoint, then network, then data). A stack that was never deployed is skipped: the
CDK CLI's destroyStack returns when CloudFormation has no stack of that name
(aws-cdk CLI, lib/api/deployments/deploy-stack.ts, destroyStack). Nothing is looked up and no
model weights are downloaded or packaged, so destroy works even when a weights directory named
at deploy time is gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk

from stacks.config import load_config

# `-c teardown=true` (the Makefile's destroy target) selects teardown mode.
TEARDOWN_CONTEXT_KEY = "teardown"
# The stacks app_wiring.build_stacks names, in deploy order.
DATA, NETWORK, ENDPOINT, BATCH = "Data", "Network", "Endpoint", "Batch"


def teardown_requested(context: Mapping[str, Any]) -> bool:
    return str(context.get(TEARDOWN_CONTEXT_KEY, "false")).strip().lower() == "true"


def teardown_stack_prefix(context: Mapping[str, Any]) -> str:
    """The stack prefix from context; every other key is ignored (and not validated)."""
    prefix_only = {key: context[key] for key in ("stack_prefix",) if key in context}
    return load_config(prefix_only).stack_prefix


def build_teardown_stacks(app: cdk.App, *, stack_prefix: str) -> dict[str, cdk.Stack]:
    """An empty stand-in for every zstc stack, with the real stacks' dependencies."""
    stacks = {
        part: cdk.Stack(
            app,
            f"{stack_prefix}-{part}",
            description=f"zstc teardown stand-in for {stack_prefix}-{part} (used by destroy only)",
        )
        for part in (DATA, NETWORK, ENDPOINT, BATCH)
    }
    stacks[NETWORK].add_dependency(stacks[DATA])
    for dependent in (ENDPOINT, BATCH):
        stacks[dependent].add_dependency(stacks[DATA])
        stacks[dependent].add_dependency(stacks[NETWORK])
    return stacks

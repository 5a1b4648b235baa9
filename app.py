#!/usr/bin/env python3
"""The zstc CDK app: turns cdk.json context into one config object and wires the stacks."""

from __future__ import annotations

import sys

import aws_cdk as cdk

from stacks.app_wiring import build_stacks
from stacks.config import ConfigError, load_config
from stacks.teardown import build_teardown_stacks, teardown_requested, teardown_stack_prefix


def main() -> None:
    app = cdk.App()
    context = app.node.get_all_context()
    try:
        if teardown_requested(context):
            # `make destroy`: every stack zstc can create, by name; see stacks/teardown.py.
            build_teardown_stacks(app, stack_prefix=teardown_stack_prefix(context))
            app.synth()
            return
        config = load_config(context)
    except ConfigError as error:
        print(f"zstc configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    build_stacks(app, config)
    app.synth()


if __name__ == "__main__":
    main()

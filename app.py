#!/usr/bin/env python3
"""The zstc CDK app: turns cdk.json context into one config object and wires the stacks."""

from __future__ import annotations

import sys

import aws_cdk as cdk

from stacks.app_wiring import build_stacks
from stacks.config import ConfigError, load_config


def main() -> None:
    app = cdk.App()
    try:
        config = load_config(app.node.get_all_context())
    except ConfigError as error:
        print(f"zstc configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    build_stacks(app, config)
    app.synth()


if __name__ == "__main__":
    main()

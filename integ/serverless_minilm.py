#!/usr/bin/env python3
"""The cheapest real check of a second endpoint mode: serverless with the bundled MiniLM.

The app deploys zstc's stacks in the integration run's cheap configuration, with
endpoint_mode=serverless, the bundled all-MiniLM-L6-v2 packaged into model.tar.gz (embedding
mode), 2048 MB and MaxConcurrency 1. The check is the Endpoint stack's own readiness resource:
CloudFormation only completes the deployment once the serverless endpoint, cold, has classified
the probe correctly (lambda/endpoint_readiness), and rolls it back otherwise. Nothing runs while
idle, so the check costs a few cold starts and probes (docs/serving-modes.md, "Cost"):

    node_modules/.bin/cdk deploy --app ".venv/bin/python integ/serverless_minilm.py" \\
        --output build/integ-serverless/cdk.out ZstcIntegServerless-Endpoint
    node_modules/.bin/cdk destroy --force --app ".venv/bin/python integ/serverless_minilm.py" \\
        --output build/integ-serverless/cdk.out --all
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import aws_cdk as cdk  # noqa: E402

from integ.cheap_config import bundled_minilm_dir, integ_context  # noqa: E402
from stacks.app_wiring import build_stacks  # noqa: E402
from stacks.config import ZstcConfig, load_config  # noqa: E402

SERVERLESS_INTEG_STACK_PREFIX = "ZstcIntegServerless"
# Its own archive, so this synth never overwrites the one `make synth` or `make integ` built.
SERVERLESS_INTEG_ARCHIVE_PATH = REPO_ROOT / "build" / "integ-serverless" / "model.tar.gz"


def serverless_integ_context(model_dir: Path) -> dict[str, Any]:
    """The cheap integration configuration, served by a serverless endpoint."""
    return {
        **integ_context(model_dir),
        "stack_prefix": SERVERLESS_INTEG_STACK_PREFIX,
        "endpoint_mode": "serverless",
        "model_kind": "embedding",
        # The measured peak of MiniLM's model server is 0.7 GB (docs/serving-modes.md).
        "serverless_memory_mb": 2048,
        # One at a time: the account's serverless concurrency is shared by every endpoint.
        "serverless_max_concurrency": 1,
    }


def serverless_integ_config(model_dir: Path | None = None) -> ZstcConfig:
    return load_config(serverless_integ_context(model_dir or bundled_minilm_dir()))


def main() -> None:
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    flags = {key: value for key, value in cdk_json.items() if key.startswith("@")}
    app = cdk.App(context=flags)
    build_stacks(app, serverless_integ_config(), model_archive_path=SERVERLESS_INTEG_ARCHIVE_PATH)
    app.synth()


if __name__ == "__main__":
    main()

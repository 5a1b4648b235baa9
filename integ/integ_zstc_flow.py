#!/usr/bin/env python3
"""The integration app integ-runner deploys: `make integ` runs it (see README)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# integ-runner starts this file from its own directory, with the repository not on the path.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import aws_cdk as cdk  # noqa: E402

from integ.cheap_config import run_id  # noqa: E402
from integ.flow_app import build_integ_app, integ_app_context  # noqa: E402


def main() -> None:
    app = cdk.App(context=integ_app_context())
    build_integ_app(app, run_id=run_id())
    app.synth()


if __name__ == "__main__":
    main()

"""Synthesizes the integration app once per test session, offline, with cdk-nag on."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from integ.cheap_config import OFFLINE_RUN_ID
from integ.flow_app import IntegApp, build_integ_app, integ_app_context


@dataclass(frozen=True)
class SynthesizedIntegApp:
    integ: IntegApp
    outdir: Path
    templates: dict[str, dict[str, Any]]

    def template_of(self, stack: cdk.Stack) -> dict[str, Any]:
        return self.templates[stack.stack_name]


@cache
def synth_integ_app() -> SynthesizedIntegApp:
    outdir = Path(tempfile.mkdtemp(prefix="zstc-integ-"))
    atexit.register(shutil.rmtree, outdir, True)
    app = cdk.App(outdir=str(outdir), context=integ_app_context())
    integ = build_integ_app(app, run_id=OFFLINE_RUN_ID)
    # cdk-nag 3 runs here and fails synth on any finding not fixed or acknowledged.
    assembly = app.synth()
    templates = {stack.stack_name: stack.template for stack in assembly.stacks}
    return SynthesizedIntegApp(integ=integ, outdir=outdir, templates=templates)

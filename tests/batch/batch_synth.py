"""Synthesizes the batch stack (with cdk-nag) for the template tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.batch_stack import BatchStack
from stacks.config import load_config
from stacks.data_stack import DataStack


def synth_batch(tmp_path: Path, context: dict[str, Any]) -> BatchStack:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"not a real model")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    config = load_config(context)
    data = DataStack(app, f"{config.stack_prefix}-Data", config=config)
    batch = BatchStack(
        app,
        f"{config.stack_prefix}-Batch",
        config=config,
        data=data,
        network=None,
        model_archive=archive,
    )
    # cdk-nag 3 fails synth on any finding that is neither fixed nor acknowledged.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return batch

"""`zstc package-model`: the byte-for-byte reproducible model.tar.gz."""

from __future__ import annotations

import json
from pathlib import Path

import click

from zstc.cli.context import output_option, settings


@click.command("package-model")
@click.option(
    "--model",
    metavar="DIR|HUB_ID",
    help="A model directory (transformers NLI, or sentence-transformers) or a Hugging Face id "
    "whose files go into the archive. Default: none; the archive holds only the code, and the "
    "endpoint loads the model named by the stack's model_id from the hub at start-up.",
)
@click.option("--revision", help="Hub revision (commit hash, tag, branch) for a hub id.")
@click.option(
    "-o",
    "--output-file",
    "output_file",
    type=click.Path(path_type=Path),
    default=Path("model.tar.gz"),
    show_default=True,
    help="Archive to write.",
)
@output_option
def command(model: str | None, revision: str | None, output_file: Path) -> int:
    """Build a deterministic model.tar.gz: the inference code under code/, plus the model's
    files at the root when --model is given. Prints its path and sha256."""
    from zstc.models.model_sources import package_model

    path, digest = package_model(model=model, revision=revision, output=output_file)
    if settings().json_output:
        click.echo(json.dumps({"archive": str(path), "sha256": digest}))
    else:
        click.echo(f"{path}  sha256={digest}")
    return 0

"""`zstc completion SHELL`: prints the shell completion script (click's own completion)."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")
# The variable click's completion reads: _<PROG>_COMPLETE (click docs, "Shell Completion").
COMPLETE_VAR = "_ZSTC_COMPLETE"


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def command(shell: str) -> int:
    """Print the completion script for SHELL; e.g. add `eval "$(zstc completion bash)"` to
    ~/.bashrc."""
    completion_class = get_completion_class(shell)
    if completion_class is None:
        raise click.UsageError(f"no completion for {shell}")
    root = click.get_current_context().find_root().command
    script = completion_class(root, {}, "zstc", COMPLETE_VAR).source()
    click.echo(script)
    return 0

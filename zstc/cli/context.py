"""What every zstc command shares: global options, AWS sessions, output mode and consoles.

`--region`, `--profile`, `--output` and `--stack-prefix` are accepted before the command
(`zstc --region eu-west-1 batch status`) and after it (`zstc batch status --region eu-west-1`),
as the AWS CLI accepts its global options anywhere; the value given last wins.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import click
from rich.console import Console

from zstc.cli_errors import CliError

OutputMode = Literal["table", "json"]
OUTPUT_MODES: tuple[OutputMode, ...] = ("table", "json")
F = TypeVar("F", bound=Callable[..., Any])

# Fix-it hints for credential problems: the three ways AWS users sign in.
CREDENTIALS_HINT = (
    "configure credentials with `aws configure`, choose a profile with AWS_PROFILE or "
    "--profile, or sign in with `aws sso login`"
)


@dataclass
class Settings:
    """The global options as finally given; commands read them through `settings()`."""

    region: str | None = None
    profile: str | None = None
    output: OutputMode = "table"
    stack_prefix: str | None = None
    # --ascii-output: JSON output escapes non-ASCII characters (zstc/cli/json_output.py).
    ascii_output: bool = False

    def session(self) -> Any:
        import boto3
        from botocore.exceptions import BotoCoreError

        try:
            return boto3.session.Session(region_name=self.region, profile_name=self.profile)
        except BotoCoreError as error:
            raise CliError(f"--profile: {error}", exit_code=2) from error

    def client(self, service: str) -> Any:
        """A boto3 client; a missing region or missing credentials are bad input (exit 2)."""
        session = self.session()
        # An empty AWS_REGION counts as none; botocore would build an invalid endpoint URL.
        if not session.region_name:
            raise CliError(
                "no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION", exit_code=2
            )
        if session.get_credentials() is None:
            raise CliError(f"no AWS credentials found: {CREDENTIALS_HINT}", exit_code=2)
        return session.client(service)

    def resolved_stack_prefix(self) -> str:
        from zstc.stack_outputs import resolve_stack_prefix

        return resolve_stack_prefix(flag=self.stack_prefix)

    @property
    def json_output(self) -> bool:
        return self.output == "json"


def settings() -> Settings:
    context = click.get_current_context()
    return context.find_root().ensure_object(Settings)


def _remember(attribute: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def store(context: click.Context, parameter: click.Parameter, value: Any) -> None:
        if value is not None:
            setattr(context.find_root().ensure_object(Settings), attribute, value)

    return store


def global_options(function: F) -> F:
    """Adds the global options to the root group and to every command."""
    options = [
        click.option(
            "--region",
            expose_value=False,
            callback=_remember("region"),
            help="AWS region (default: your AWS configuration).",
        ),
        click.option(
            "--profile",
            expose_value=False,
            callback=_remember("profile"),
            help="AWS named profile (default: your AWS configuration).",
        ),
        click.option(
            "--output",
            type=click.Choice(OUTPUT_MODES),
            expose_value=False,
            callback=_remember("output"),
            help="Output format: table (default) or json.",
        ),
        click.option(
            "--ascii-output",
            is_flag=True,
            default=None,
            expose_value=False,
            callback=_remember("ascii_output"),
            help="With --output json: escape non-ASCII characters as \\uXXXX "
            "(default: readable UTF-8).",
        ),
        click.option(
            "--stack-prefix",
            expose_value=False,
            callback=_remember("stack_prefix"),
            help="Stack name prefix (default: $ZSTC_STACK_PREFIX, then cdk.json, then Zstc).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def stdout_console() -> Console:
    """Rich output to stdout; wide when piped, so names and URIs are never wrapped mid-line."""
    return Console(soft_wrap=True, width=None if sys.stdout.isatty() else 1000)


def stderr_console() -> Console:
    """Progress bars and live status go to stderr, so stdout stays clean for pipes and jq."""
    return Console(stderr=True)


def info(message: str) -> None:
    click.echo(message, err=True)


def progress_enabled() -> bool:
    """Progress bars only where someone watches: a terminal on stderr, and no ZSTC_NO_PROGRESS."""
    return sys.stderr.isatty() and not os.environ.get("ZSTC_NO_PROGRESS")

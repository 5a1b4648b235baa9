"""What every zstc command shares: global options, AWS sessions, output mode and consoles.

`--region`, `--profile`, `--output` and `--stack-prefix` are accepted before the command
(`zstc --region eu-west-1 batch status`), after a group (`zstc batch --region eu-west-1 status`)
and after the command (`zstc batch status --region eu-west-1`), as the AWS CLI accepts its global
options anywhere; the value given last wins. Commands that never call AWS (`local serve`,
`package-model`) list only --output.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TextIO, TypeVar

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
        # An empty region counts as none; botocore would build an invalid endpoint URL. botocore
        # reads AWS_DEFAULT_REGION, not AWS_REGION (botocore/configprovider.py, "region").
        if not session.region_name:
            raise CliError("no AWS region: pass --region or set AWS_DEFAULT_REGION", exit_code=2)
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


class _OutputFormat(click.Choice):
    """--output takes a format; a file name there gets a message naming the file option.

    `zstc batch results JOB --output out.jsonl` reads naturally but means the format: the message
    points at the command's own file option (-o/--output-file) where it has one.
    """

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value in self.choices or ctx is None:
            return super().convert(value, param, ctx)
        file_option = next(
            (
                option
                for option in ctx.command.params
                if isinstance(option, click.Option) and option.name == "output_file"
            ),
            None,
        )
        if file_option is None:
            return super().convert(value, param, ctx)
        names = "/".join(file_option.opts)
        self.fail(
            f"{value!r} is not a format; --output is the output format (table or json). Write "
            f"to a file with {names} {value}",
            param,
            ctx,
        )


def output_option(function: F) -> F:
    """--output and --ascii-output, for every command and group: a table or JSON, and how JSON
    writes characters outside ASCII."""
    function = click.option(
        "--ascii-output",
        is_flag=True,
        default=None,
        expose_value=False,
        callback=_remember("ascii_output"),
        help="With --output json: escape non-ASCII characters as \\uXXXX "
        "(default: readable UTF-8).",
    )(function)
    return click.option(
        "--output",
        type=_OutputFormat(OUTPUT_MODES),
        expose_value=False,
        callback=_remember("output"),
        help="Output format: table (default) or json.",
    )(function)


def aws_options(*, used: str = "") -> Callable[[F], F]:
    """--region, --profile and --stack-prefix, for the commands and groups that call AWS.

    used: when the command calls AWS only in some modes, e.g. "with --endpoint"; said in the help.
    """
    when = f" Used {used}." if used else ""

    def decorate(function: F) -> F:
        options = [
            click.option(
                "--region",
                expose_value=False,
                callback=_remember("region"),
                help=f"AWS region (default: your AWS configuration).{when}",
            ),
            click.option(
                "--profile",
                expose_value=False,
                callback=_remember("profile"),
                help=f"AWS named profile (default: your AWS configuration).{when}",
            ),
            click.option(
                "--stack-prefix",
                expose_value=False,
                callback=_remember("stack_prefix"),
                help="Stack name prefix (default: $ZSTC_STACK_PREFIX, then stack_prefix in the "
                f"cdk.json found from the working directory upward, then Zstc).{when}",
            ),
        ]
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def global_options(function: F) -> F:
    """All global options (AWS and --output): the root group and every command that calls AWS."""
    return output_option(aws_options()(function))


# Piped output is never wrapped: one record stays one line for grep and cut.
PIPED_WIDTH = 1000


class _TrailingSpaceStripper:
    """A text stream that drops the spaces rich pads table rows with before each newline, so
    piped lines end where their text does (rich pads every row to the table's width)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._stream.write(line.rstrip(" ") + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(self._pending)
            self._pending = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._stream.fileno()


def stdout_console() -> Console:
    """Rich output to stdout.

    In a terminal, rich wraps prose at word boundaries and fits tables to the width. Piped, no
    line is wrapped or padded, so names and URIs stay whole on one line.
    """
    if sys.stdout.isatty():
        return Console()
    return Console(
        file=_TrailingSpaceStripper(sys.stdout),  # type: ignore[arg-type]
        soft_wrap=True,
        width=PIPED_WIDTH,
        force_terminal=False,
    )


def stderr_console() -> Console:
    """Progress bars and live status go to stderr, so stdout stays clean for pipes and jq."""
    return Console(stderr=True)


def wrap_prose(message: str, *, width: int | None) -> str:
    """Prose folded at word boundaries for a terminal of `width` columns (None: left as is).

    Each line keeps its indent on the lines it continues on; a word longer than the width (a
    URI, a path) stays whole and the terminal folds it.
    """
    if width is None:
        return message
    import textwrap

    folded = []
    for line in message.split("\n"):
        indent = line[: len(line) - len(line.lstrip(" "))]
        folded.append(
            textwrap.fill(
                line,
                width=width,
                subsequent_indent=indent + "  " if line.strip() else indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
            if len(line) > width
            else line
        )
    return "\n".join(folded)


def _terminal_width(stream: TextIO) -> int | None:
    if not stream.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns


def say(message: str) -> None:
    """A line of prose on stdout, folded at word boundaries in a terminal."""
    click.echo(wrap_prose(message, width=_terminal_width(sys.stdout)))


def info(message: str) -> None:
    """A line of prose on stderr (notes and errors), folded at word boundaries in a terminal."""
    click.echo(wrap_prose(message, width=_terminal_width(sys.stderr)), err=True)


def progress_enabled() -> bool:
    """Progress bars only where someone watches: a terminal on stderr, and no ZSTC_NO_PROGRESS."""
    return sys.stderr.isatty() and not os.environ.get("ZSTC_NO_PROGRESS")

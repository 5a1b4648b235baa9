"""The `zstc` command: one click group; each command group lives in its own module.

Exit codes (docs/cli.md), on every path: 0 done, 2 bad input (usage errors, bad files, missing
credentials or region), 1 any other failure, 130 Ctrl-C. Every error is one line on stderr that
names the problem; ZSTC_DEBUG=1 shows the traceback of an unexpected one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from zstc.cli import batch, classify, completion, doctor, evaluate, local, package_model
from zstc.cli.context import CREDENTIALS_HINT, global_options, info
from zstc.cli_errors import CliError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

# Adding a command is one module with a `command` attribute, and one entry here.
COMMAND_MODULES = (classify, batch, local, evaluate, package_model, doctor, completion)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(
    None, "-V", "--version", package_name="zstc", prog_name="zstc", message="%(prog)s %(version)s"
)
@global_options
def cli() -> None:
    """Zero-shot text classification on Amazon SageMaker: call the endpoint, run batches, and
    run everything locally first."""


for _module in COMMAND_MODULES:
    cli.add_command(_module.command)


def _credential_error(error: BaseException) -> bool:
    """True when botocore failed for lack of usable credentials (anywhere in the cause chain)."""
    from botocore.exceptions import (
        NoCredentialsError,
        PartialCredentialsError,
        SSOTokenLoadError,
        TokenRetrievalError,
        UnauthorizedSSOTokenError,
    )

    kinds = (
        NoCredentialsError,
        PartialCredentialsError,
        SSOTokenLoadError,
        TokenRetrievalError,
        UnauthorizedSSOTokenError,
    )
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _command_path(argv: Sequence[str]) -> str:
    """The command words of argv ("zstc local serve"), skipping options and their values."""
    words = ["zstc"]
    group: click.Command = cli
    for token in argv:
        if not isinstance(group, click.Group):
            break
        found = group.commands.get(token)
        if found is not None:
            words.append(token)
            group = found
    return " ".join(words)


def _missing_extra(error: ModuleNotFoundError, *, argv: Sequence[str]) -> str | None:
    """One line naming the extra that brings the missing module, or None for any other module."""
    from zstc.install_hints import extra_of_module, missing_extra_message

    extra = extra_of_module(error.name or "")
    if extra is None:
        return None
    return missing_extra_message(
        module=str(error.name), extra=extra, needed_for=_command_path(argv)
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        result = cli.main(
            args=list(sys.argv[1:] if argv is None else argv),
            prog_name="zstc",
            standalone_mode=False,
        )
    except click.exceptions.Exit as exit_request:
        return int(exit_request.exit_code)
    except click.ClickException as error:
        # Usage errors (exit 2) print their usage line and reason.
        error.show()
        return int(error.exit_code)
    except click.exceptions.Abort:
        info("zstc: interrupted")
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        info("zstc: interrupted")
        return EXIT_INTERRUPTED
    except CliError as error:
        if _credential_error(error):
            info(f"zstc: error: {error}; {CREDENTIALS_HINT}")
            return EXIT_BAD_INPUT
        info(f"zstc: error: {error}")
        return error.exit_code
    except ModuleNotFoundError as error:
        hint = _missing_extra(error, argv=list(sys.argv[1:] if argv is None else argv))
        if hint is None or os.environ.get("ZSTC_DEBUG"):
            raise
        info(f"zstc: error: {hint}")
        return EXIT_BAD_INPUT
    except Exception as error:
        if os.environ.get("ZSTC_DEBUG"):
            raise
        if _credential_error(error):
            info(f"zstc: error: {error}; {CREDENTIALS_HINT}")
            return EXIT_BAD_INPUT
        # AWS errors (access denied ...) and anything unforeseen: one line, as for every other.
        info(f"zstc: error: {type(error).__name__}: {error}")
        return EXIT_FAILURE
    # A group invoked without a command returns None after printing its help.
    return int(result) if isinstance(result, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

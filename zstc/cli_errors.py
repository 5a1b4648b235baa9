"""The one error type the zstc CLI turns into a single line on stderr and a non-zero exit."""

from __future__ import annotations


class CliError(Exception):
    """A problem the user can fix; the message names what is wrong and, where known, the fix.

    `exit_code` lets a command tell "your input is bad" (2) apart from "something failed" (1).
    """

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

"""CloudWatch Logs filter pattern matching, for the one form zstc's metric filter uses.

Semantics for unstructured log events, as documented in
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
("Matching terms in unstructured log events"): matching is case sensitive, and a term that holds
non-alphanumeric characters must be enclosed in double quotes to be matched exactly. This
evaluator implements only a single double-quoted term and refuses every other pattern, so it is
stricter than CloudWatch: an unquoted "ZSTC_SERVER_ERROR" is an error here, not a match.
"""

from __future__ import annotations

import re

_QUOTED_TERM = re.compile(r'^"([^"\\]+)"$')


def cloudwatch_term_matches(filter_pattern: str, message: str) -> bool:
    quoted = _QUOTED_TERM.fullmatch(filter_pattern)
    if quoted is None:
        raise ValueError(f"not a single double-quoted term: {filter_pattern!r}")
    return quoted.group(1) in message

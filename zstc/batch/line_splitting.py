"""Splits JSON Lines text into records exactly where SageMaker and the endpoint do.

SageMaker batch transform with SplitType=Line splits on "\\n", and the endpoint splits a JSON
Lines body on "\\n" too (inference_code/request_contract.py, parse_json_lines_request), with an
optional "\\r" before it. `str.splitlines()` must not be used: it also splits on U+2028, U+2029,
U+0085, \\v, \\f and \\x1c-\\x1e, which a JSON string may hold raw (RFC 8259 section 7 requires
escaping only U+0000 to U+001F, quotation mark and reverse solidus), so it would cut one record in
two and shift every later line.
"""

from __future__ import annotations

NEWLINE = "\n"
CARRIAGE_RETURN = "\r"


def split_records(text: str) -> list[str]:
    """The lines of `text`, split on "\\n" (an optional "\\r" before it is removed).

    The newline after the last line ends it and adds no empty record; blank lines in between
    are kept, so line numbers stay those of the file.
    """
    if not text:
        return []
    lines = text.split(NEWLINE)
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix(CARRIAGE_RETURN) for line in lines]

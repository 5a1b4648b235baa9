"""Text that the model server can always send: no lone surrogates, bounded length.

JSON may carry a lone UTF-16 surrogate as an escape ("\\ud800"), and json.loads turns it into a
Python str that UTF-8 cannot encode. multi-model-server encodes every response body and every
error message with str.encode("utf-8") after the handler returned (mms 1.1.11,
mms/protocol/otf_message_handler.py, create_predict_response), outside any error handling, so
one such character kills the worker process and every queued request waits for a reload.
Everything zstc echoes (ids, texts, labels, error messages) therefore passes through here.
"""

from __future__ import annotations

import re

# Longest error message sent to a caller: enough for the field, the bad value (quoted short)
# and what is allowed; a 100 KB label must not make a 100 KB error.
MAX_MESSAGE_CHARS = 500
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def first_lone_surrogate(text: str) -> int | None:
    """The index of the first lone surrogate in text, or None when text is valid Unicode."""
    match = _LONE_SURROGATE.search(text)
    return None if match is None else match.start()


def escape_lone_surrogates(text: str) -> str:
    """Each lone surrogate as its JSON escape (\\udXXX), which UTF-8 can carry.

    Applied to json.dumps output, a surrogate can only sit inside a string literal, where the
    escape decodes back to the same character: an echoed id stays exactly what was sent.
    """
    return _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def bounded_message(message: str, *, limit: int = MAX_MESSAGE_CHARS) -> str:
    """message, made encodable and cut to at most limit characters."""
    safe = escape_lone_surrogates(message)
    if len(safe) <= limit:
        return safe
    return safe[: limit - 3] + "..."

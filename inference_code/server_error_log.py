"""The stable marker on every log line that reports a failure of the server, not the caller.

The Hugging Face inference toolkit answers every exception with HTTP 400, so the endpoint's 5XX
metric never sees a CUDA out-of-memory error or a bug. Lines carrying this marker are counted by
a CloudWatch Logs metric filter on the endpoint's log group (stacks/endpoint_alarms.py), and an
alarm watches that count. A caller's mistake never carries it.
"""

from __future__ import annotations

SERVER_ERROR_MARKER = "ZSTC_SERVER_ERROR"

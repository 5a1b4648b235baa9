"""Sorts AWS API failures into those worth retrying later and those that never succeed."""

from __future__ import annotations

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as NetworkError

# The account's limits (ResourceLimitExceeded is the instance quota for transform jobs) and
# API rate limits clear with time, so these messages go back to the queue.
RETRYABLE_ERROR_CODES = frozenset(
    {
        "ResourceLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_retryable(error: Exception) -> bool:
    """Whether the same call may succeed later: throttling, quotas, 5xx and network trouble."""
    if isinstance(error, NetworkError | HTTPClientError):
        return True
    if not isinstance(error, ClientError):
        return False
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return error_code(error) in RETRYABLE_ERROR_CODES or status >= 500

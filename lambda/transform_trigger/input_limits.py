"""The largest input the trigger accepts, so that handling one record fits its time budget.

The batch stack sizes the Lambda's timeout for exactly these limits (stacks/trigger_budget.py)
and passes them in the environment. An upload beyond them is refused with a notification that
says what to do, instead of timing out again and again until the dead-letter queue.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3


class InputTooLargeError(Exception):
    """An upload or dataset bigger than the trigger accepts; retrying cannot help."""


@dataclass(frozen=True, kw_only=True)
class InputLimits:
    # One uploaded file, or one part file of a dataset.
    max_object_bytes: int
    max_dataset_parts: int
    max_dataset_bytes: int
    # Versions and delete markers listed under a dataset's folder, current or not: a folder
    # rewritten again and again holds old versions until they expire, and each costs listing.
    max_dataset_listed_versions: int


def _size(count: int) -> str:
    return f"{count:,} bytes ({count / GIB:.1f} GiB)"


def object_too_large(*, size: int | None, limits: InputLimits) -> str:
    """Why a single uploaded file is refused, or "" if its size is accepted."""
    if size is None or size <= limits.max_object_bytes:
        return ""
    return (
        f"the file is {_size(size)}; the largest file accepted is "
        f"{_size(limits.max_object_bytes)}. Split it into part files of a dataset "
        "(datasets/<name>/part-*.jsonl, then an empty datasets/<name>/_SUCCESS)"
    )


def dataset_too_large(
    *, listed: int, parts: int, total_bytes: int, largest: int, limits: InputLimits
) -> str:
    """Why a dataset is refused, or "" while it is within every limit."""
    if listed > limits.max_dataset_listed_versions:
        return (
            f"the dataset's folder holds more than {limits.max_dataset_listed_versions:,} object "
            "versions and delete markers (earlier uploads count until they expire); write each "
            "dataset to a new folder"
        )
    if parts > limits.max_dataset_parts:
        return (
            f"the dataset has more than {limits.max_dataset_parts:,} part files, the most "
            "accepted; split it into several datasets"
        )
    if total_bytes > limits.max_dataset_bytes:
        return (
            f"the dataset's part files hold more than {_size(limits.max_dataset_bytes)}, the "
            "most accepted; split it into several datasets"
        )
    if largest > limits.max_object_bytes:
        return (
            f"a part file is {_size(largest)}; the largest part accepted is "
            f"{_size(limits.max_object_bytes)}; write smaller parts"
        )
    return ""

"""Decides what an uploaded object means: a file to classify, a finished dataset, or nothing."""

from __future__ import annotations

from dataclasses import dataclass

INPUT_SUFFIX = ".jsonl"
# Written last by the producer of a dataset (the Hadoop/Spark convention), so its arrival
# means every part file is in place.
DATASET_MARKER = "_SUCCESS"


@dataclass(frozen=True, kw_only=True)
class DataLayout:
    """The bucket's prefixes, from the data stack (stacks/data_layout.py) via the environment."""

    input_prefix: str
    datasets_prefix: str
    output_prefix: str
    manifests_prefix: str
    # The trigger's copies of the exact object versions its jobs read (version_pinning.py).
    pinned_inputs_prefix: str


@dataclass(frozen=True, kw_only=True)
class SingleFile:
    """A JSON Lines file under input/: one transform job over exactly this object."""

    key: str


@dataclass(frozen=True, kw_only=True)
class DatasetMarker:
    """datasets/<name>/_SUCCESS: one transform job over every part file of the dataset."""

    dataset_prefix: str


@dataclass(frozen=True, kw_only=True)
class Ignored:
    """An object that starts no job, and why (for the log)."""

    reason: str


Route = SingleFile | DatasetMarker | Ignored


def route_object(*, key: str, size: int | None, layout: DataLayout) -> Route:
    """Where an uploaded object goes. `key` is decoded; `size` is in bytes."""
    if key.startswith(layout.datasets_prefix):
        folders, _, name = key[len(layout.datasets_prefix) :].rpartition("/")
        if name != DATASET_MARKER:
            return Ignored(
                reason=f"part file of a dataset under {layout.datasets_prefix}; only the "
                f"dataset's {DATASET_MARKER} marker starts a job"
            )
        if not folders:
            return Ignored(
                reason=f"a {DATASET_MARKER} marker must sit in a dataset folder: "
                f"{layout.datasets_prefix}<name>/{DATASET_MARKER}"
            )
        # The marker is normally empty, so its size says nothing.
        return DatasetMarker(dataset_prefix=f"{layout.datasets_prefix}{folders}/")
    if not key.startswith(layout.input_prefix):
        return Ignored(
            reason=f"outside the {layout.input_prefix} and {layout.datasets_prefix} prefixes"
        )
    if not key.endswith(INPUT_SUFFIX):
        return Ignored(reason=f"not a JSON Lines file: the key must end with {INPUT_SUFFIX}")
    if size == 0:
        return Ignored(reason="zero-byte object: there are no records to classify")
    return SingleFile(key=key)

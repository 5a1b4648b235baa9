"""Runs a JSON Lines file through a local endpoint with batch-transform semantics.

As SageMaker batch transform does with SplitType=Line, BatchStrategy=MultiRecord and
AssembleWith=Line: lines are packed into payloads of at most MaxPayloadInMB, each payload is one
application/jsonlines request, and the answers are written one line per input line, in input
order. The output file is the same as the real job's .out file for the same input.

Payloads also stay within the endpoint's per-request work cap (the request contract's
work_units and max_pairs_per_request), so the same run works against a real-time `zstc local
serve`, and the progress bar moves with the lines classified instead of jumping at the end of
one big payload.

The output: the location is checked before any server starts (OutputTarget.prepare); the
answers go to OUT.partial, which replaces OUT only when every line was answered. An older OUT
is removed when the run starts, so after a failure or an interruption no OUT is left that
could pass for this run's result, and folders the run created for OUT are removed again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from zstc.batch.limits import BYTES_PER_MB
from zstc.batch.line_splitting import split_records
from zstc.batch.results import is_error_line
from zstc.bundled_code import request_contract
from zstc.cli_errors import CliError
from zstc.endpoint_client import JSON_LINES, post_local

if TYPE_CHECKING:
    from rich.console import Console

DEFAULT_MAX_PAYLOAD_MB = 6.0


@dataclass(frozen=True, kw_only=True)
class Payload:
    first_line: int  # 1-based line number of the first record in this payload
    lines: list[str]

    @property
    def body(self) -> bytes:
        return "\n".join(self.lines).encode("utf-8") + b"\n"


def line_work_units(line: str) -> int:
    """The work one line costs the endpoint, by the request contract's own sizing rule."""
    contract = request_contract()
    record = contract.parse_json_line(
        line=line, max_candidate_labels=contract.DEFAULT_MAX_CANDIDATE_LABELS
    )
    pairs = len(record.task.parameters.candidate_labels) if record.task is not None else 0
    return int(contract.work_units([pairs]))


def pack_payloads(
    lines: Sequence[str], *, max_payload_mb: float, max_work_units: int | None = None
) -> Iterator[Payload]:
    """Greedy packing in input order; a record is never split across payloads.

    max_work_units: the most work (request_contract.work_units) one payload may carry; by
    default the endpoint's per-request cap, max_pairs_per_request.
    """
    if max_payload_mb <= 0:
        raise CliError(f"--max-payload-mb: {max_payload_mb} must be greater than 0", exit_code=2)
    if max_work_units is None:
        max_work_units = int(request_contract().DEFAULT_MAX_PAIRS_PER_REQUEST)
    limit = int(max_payload_mb * BYTES_PER_MB)
    current: list[str] = []
    first_line = 1
    used = 0
    work = 0
    for line_number, line in enumerate(lines, start=1):
        size = len(line.encode("utf-8")) + 1
        if size > limit:
            # SageMaker fails the whole job on a record larger than MaxPayloadInMB; so do we.
            raise CliError(
                f"line {line_number} is {size} bytes, more than --max-payload-mb "
                f"{max_payload_mb} ({limit} bytes); batch transform would fail on it"
            )
        units = line_work_units(line)
        if current and (used + size > limit or work + units > max_work_units):
            yield Payload(first_line=first_line, lines=current)
            current, used, work, first_line = [], 0, 0, line_number
        current.append(line)
        used += size
        work += units
    if current:
        yield Payload(first_line=first_line, lines=current)


@dataclass(kw_only=True)
class OutputTarget:
    """OUT and its OUT.partial, checked before the run and cleaned up after a failed one."""

    path: Path
    created_dirs: list[Path] = field(default_factory=list)

    @property
    def partial(self) -> Path:
        return self.path.with_name(self.path.name + ".partial")

    def prepare(self, *, expected_bytes: int) -> None:
        """Checks that OUT can be written, before any server starts; creates missing folders
        (removed again by discard) and removes an older OUT. Raises CliError naming the path."""
        if self.path.is_dir():
            raise CliError(f"--output-file: {self.path} is a directory; name a file", exit_code=2)
        missing: list[Path] = []
        existing = self.path.parent
        while not existing.exists():
            missing.append(existing)
            existing = existing.parent
        if not existing.is_dir():
            raise CliError(f"--output-file: {existing} is not a directory", exit_code=2)
        if not os.access(existing, os.W_OK | os.X_OK):
            raise CliError(
                f"--output-file: cannot write in {existing} (permission denied)", exit_code=2
            )
        free = shutil.disk_usage(existing).free
        if free < expected_bytes:
            raise CliError(
                f"--output-file: {existing} has {free} bytes free, less than the "
                f"{expected_bytes} bytes the output needs at least (the input's size)"
            )
        try:
            for folder in reversed(missing):
                folder.mkdir()
                self.created_dirs.append(folder)
            # An older OUT must not pass for this run's result should this run fail.
            self.path.unlink(missing_ok=True)
            with self.partial.open("w", encoding="utf-8"):
                pass
        except OSError as error:
            self.discard()
            raise CliError(f"--output-file: {_os_error_text(error)}") from error

    def commit(self) -> None:
        try:
            self.partial.replace(self.path)
        except OSError as error:
            raise CliError(f"{self.path}: cannot write it: {_os_error_text(error)}") from error

    def discard(self) -> None:
        """Removes OUT.partial and the folders prepare created (when they are empty)."""
        # An OSError here means nothing was written there: the location itself failed.
        with contextlib.suppress(OSError):
            self.partial.unlink(missing_ok=True)
        for folder in reversed(self.created_dirs):
            try:
                folder.rmdir()
            except OSError:
                break
        self.created_dirs.clear()


def _os_error_text(error: OSError) -> str:
    """An OSError as one line that names the file: "PATH: No space left on device"."""
    reason = error.strerror or str(error)
    return f"{error.filename}: {reason}" if error.filename else reason


@dataclass(frozen=True, kw_only=True)
class LocalBatchSummary:
    lines: int
    ok: int
    errors: int
    payloads: int
    output_path: Path

    def as_dict(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "ok": self.ok,
            "errors": self.errors,
            "payloads": self.payloads,
            "output_file": str(self.output_path),
        }

    def describe(self) -> str:
        return (
            f"{self.lines} lines, {self.ok} ok, {self.errors} errors "
            f"in {self.payloads} payload{'s' if self.payloads != 1 else ''} -> {self.output_path}"
        )


def read_input_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{path}: cannot read it as UTF-8 text ({error})", exit_code=2) from error
    # Split on "\n" only, as batch transform does (zstc/batch/line_splitting.py).
    return split_records(text.removeprefix("\ufeff"))


def read_and_pack(
    *, input_path: Path, max_payload_mb: float, default_labels: list[str] | None = None
) -> tuple[int, list[Payload]]:
    """The input's lines (labels filled in) packed into payloads; checked before any server
    starts. Returns the number of lines and the payloads."""
    from zstc.batch.jsonl_validation import fill_default_labels

    lines = read_input_lines(input_path)
    if not lines:
        raise CliError(f"{input_path}: the file has no lines", exit_code=2)
    if default_labels is not None:
        lines = fill_default_labels(lines, default_labels)
    return len(lines), list(pack_payloads(lines, max_payload_mb=max_payload_mb))


def run_local_batch(
    *,
    input_path: Path,
    output_path: Path,
    url: str,
    max_payload_mb: float = DEFAULT_MAX_PAYLOAD_MB,
    progress: Console | None = None,
    timeout_s: float = 600.0,
    default_labels: list[str] | None = None,
) -> LocalBatchSummary:
    """input_path through the endpoint at url into output_path, in one call.

    progress: the console a progress bar is drawn on (the caller's: stderr for the CLI); None
    draws none.

    default_labels: labels for lines that carry none, as `batch submit --labels` adds them.
    """
    line_count, payloads = read_and_pack(
        input_path=input_path, max_payload_mb=max_payload_mb, default_labels=default_labels
    )
    output = OutputTarget(path=output_path)
    output.prepare(expected_bytes=input_path.stat().st_size)
    return run_prepared_batch(
        input_path=input_path,
        output=output,
        payloads=payloads,
        line_count=line_count,
        url=url,
        progress=progress,
        timeout_s=timeout_s,
    )


def run_prepared_batch(
    *,
    input_path: Path,
    output: OutputTarget,
    payloads: Sequence[Payload],
    line_count: int,
    url: str,
    progress: Console | None = None,
    timeout_s: float = 600.0,
) -> LocalBatchSummary:
    """Sends the payloads in order and writes OUT; output must be prepared (and is discarded
    on any failure or interruption, so no partial or older result is left)."""
    from rich.progress import Progress

    ok = errors = 0
    committed = False
    try:
        with (
            output.partial.open("w", encoding="utf-8") as out,
            Progress(console=progress, disable=progress is None) as bar,
        ):
            task = bar.add_task(input_path.name, total=line_count)
            for payload in payloads:
                raw = post_local(
                    url=url, body=payload.body, content_type=JSON_LINES, timeout_s=timeout_s
                )
                answers = split_records(raw.decode("utf-8"))
                last_line = payload.first_line + len(payload.lines) - 1
                if len(answers) != len(payload.lines):
                    raise CliError(
                        f"lines {payload.first_line}-{last_line}: the endpoint answered "
                        f"{len(answers)} lines for {len(payload.lines)} records"
                    )
                for answer in answers:
                    out.write(answer + "\n")
                    if is_error_line(answer):
                        errors += 1
                    else:
                        ok += 1
                bar.advance(task, len(payload.lines))
        output.commit()
        committed = True
    except OSError as error:
        raise CliError(f"{output.partial}: cannot write it: {_os_error_text(error)}") from error
    finally:
        if not committed:
            output.discard()
    return LocalBatchSummary(
        lines=line_count, ok=ok, errors=errors, payloads=len(payloads), output_path=output.path
    )

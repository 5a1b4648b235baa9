"""Runs a JSON Lines file through a local endpoint with batch-transform semantics.

As SageMaker batch transform does with SplitType=Line, BatchStrategy=MultiRecord and
AssembleWith=Line: lines are packed into payloads of at most MaxPayloadInMB, each payload is one
application/jsonlines request, and the answers are written one line per input line, in input
order. The output file is the same as the real job's .out file for the same input.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from zstc.batch.line_splitting import split_records
from zstc.batch.results import is_error_line
from zstc.cli_errors import CliError
from zstc.endpoint_client import JSON_LINES, post_local

DEFAULT_MAX_PAYLOAD_MB = 6.0
BYTES_PER_MB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Payload:
    first_line: int  # 1-based line number of the first record in this payload
    lines: list[str]

    @property
    def body(self) -> bytes:
        return "\n".join(self.lines).encode("utf-8") + b"\n"


def pack_payloads(lines: Sequence[str], *, max_payload_mb: float) -> Iterator[Payload]:
    """Greedy packing in input order; a record is never split across payloads."""
    if max_payload_mb <= 0:
        raise CliError(f"--max-payload-mb: {max_payload_mb} must be greater than 0", exit_code=2)
    limit = int(max_payload_mb * BYTES_PER_MB)
    current: list[str] = []
    first_line = 1
    used = 0
    for line_number, line in enumerate(lines, start=1):
        size = len(line.encode("utf-8")) + 1
        if size > limit:
            # SageMaker fails the whole job on a record larger than MaxPayloadInMB; so do we.
            raise CliError(
                f"line {line_number} is {size} bytes, more than --max-payload-mb "
                f"{max_payload_mb} ({limit} bytes); batch transform would fail on it"
            )
        if current and used + size > limit:
            yield Payload(first_line=first_line, lines=current)
            current, used, first_line = [], 0, line_number
        current.append(line)
        used += size
    if current:
        yield Payload(first_line=first_line, lines=current)


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


def run_local_batch(
    *,
    input_path: Path,
    output_path: Path,
    url: str,
    max_payload_mb: float = DEFAULT_MAX_PAYLOAD_MB,
    progress: bool = True,
    timeout_s: float = 600.0,
    default_labels: list[str] | None = None,
) -> LocalBatchSummary:
    """default_labels: labels for lines that carry none, as `batch submit --labels` adds them."""
    from rich.progress import Progress

    from zstc.batch.jsonl_validation import fill_default_labels
    from zstc.cli.context import stderr_console

    lines = read_input_lines(input_path)
    if not lines:
        raise CliError(f"{input_path}: the file has no lines", exit_code=2)
    if default_labels is not None:
        lines = fill_default_labels(lines, default_labels)
    payloads = list(pack_payloads(lines, max_payload_mb=max_payload_mb))
    output_path.parent.mkdir(parents=True, exist_ok=True)
    partial = output_path.with_name(output_path.name + ".partial")
    ok = errors = 0
    try:
        with (
            partial.open("w", encoding="utf-8") as out,
            Progress(console=stderr_console(), disable=not progress) as bar,
        ):
            task = bar.add_task(input_path.name, total=len(lines))
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
        partial.replace(output_path)
    finally:
        partial.unlink(missing_ok=True)
    return LocalBatchSummary(
        lines=len(lines), ok=ok, errors=errors, payloads=len(payloads), output_path=output_path
    )

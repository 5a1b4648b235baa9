"""Downloads a transform job's output parts and writes one file in input order.

SageMaker writes output/<job>/<input file name>.out for each input file; a dataset job has one
.out per part. Parts sort back into input order by name, comparing digit runs as numbers, so
part-2 comes before part-10 even for parts a user named without zero padding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from zstc.batch.line_splitting import split_records
from zstc.cli_errors import CliError

OUTPUT_PREFIX = "output/"
OUTPUT_SUFFIX = ".out"
_DIGITS = re.compile(r"(\d+)")


def natural_key(key: str) -> list[Any]:
    """Sort key that orders digit runs numerically: part-2 < part-10."""
    return [(0, int(piece)) if piece.isdigit() else (1, piece) for piece in _DIGITS.split(key)]


def list_output_keys(*, s3: Any, bucket: str, job_name: str) -> list[str]:
    prefix = f"{OUTPUT_PREFIX}{job_name}/"
    keys: list[str] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
    except (ClientError, BotoCoreError) as error:
        raise CliError(f"cannot list s3://{bucket}/{prefix}: {error}") from error
    return sorted((key for key in keys if key.endswith(OUTPUT_SUFFIX)), key=natural_key)


@dataclass(frozen=True, kw_only=True)
class ResultsSummary:
    parts: int
    lines: int
    ok: int
    errors: int
    output_path: Path

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "ok": self.ok,
            "errors": self.errors,
            "parts": self.parts,
            "output_file": str(self.output_path),
        }

    def describe(self) -> str:
        return (
            f"{self.lines} lines, {self.ok} ok, {self.errors} errors "
            f"(from {self.parts} output part{'s' if self.parts != 1 else ''}) -> {self.output_path}"
        )


def is_error_line(line: str) -> bool:
    """An error line is {"id": ..., "error": ...}; anything unparseable counts as an error too."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return True
    return isinstance(record, dict) and "error" in record


def download_results(
    *,
    s3: Any,
    bucket: str,
    job_name: str,
    output_path: Path,
    job_state: str | None = None,
    on_part: Callable[[str], None] | None = None,
) -> ResultsSummary:
    """Concatenates the job's .out parts in input order into output_path; counts ok and errors."""
    keys = list_output_keys(s3=s3, bucket=bucket, job_name=job_name)
    if not keys:
        state = f" (job state: {job_state})" if job_state else ""
        raise CliError(f"no results under s3://{bucket}/{OUTPUT_PREFIX}{job_name}/{state}")
    lines = ok = errors = 0
    output_path.parent.mkdir(parents=True, exist_ok=True)
    # Written to a temporary name first, so a failed download never leaves a partial file that
    # looks complete.
    partial = output_path.with_name(output_path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as out:
            for key in keys:
                try:
                    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                except (ClientError, BotoCoreError) as error:
                    raise CliError(f"cannot download s3://{bucket}/{key}: {error}") from error
                # Split on "\n" only, as SageMaker assembles lines (zstc/batch/line_splitting.py).
                for line in split_records(body.decode("utf-8")):
                    # AssembleWith=Line ends every payload's answer with a newline; an empty
                    # line in between is that separator, not a record.
                    if not line.strip():
                        continue
                    out.write(line + "\n")
                    lines += 1
                    if is_error_line(line):
                        errors += 1
                    else:
                        ok += 1
                if on_part is not None:
                    on_part(key)
        partial.replace(output_path)
    finally:
        partial.unlink(missing_ok=True)
    return ResultsSummary(
        parts=len(keys), lines=lines, ok=ok, errors=errors, output_path=output_path
    )

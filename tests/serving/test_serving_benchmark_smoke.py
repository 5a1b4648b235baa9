"""`make bench` end to end on a tiny model: the four paths run and the report is complete.

Speed is not asserted (the run is too small and the machine shared); the score differences
are, since they are correctness: zstc at fp32 must give the stock pipeline's scores.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
BENCHMARK = REPO_ROOT / "benchmarks" / "inference_benchmark.py"
ROW = re.compile(
    r"^\| \((?P<key>[abcd])\) (?P<title>[^|]+) \| (?P<texts>\d+) \| (?P<words>[\d.]+) \| "
    r"(?P<pairs>\d+) \| "
    r"(?P<seconds>[\d.]+) \| (?P<rate>[\d.]+) \| (?P<ratio>[\d.]+)x \| (?P<diff>[^|]+) \| "
    r"(?P<gflops>\d+) \| (?P<share>\d+)% of (?P<dtype>fp32|bf16|fp16) \|$",
    re.MULTILINE,
)


def test_small_benchmark_reports_four_paths_with_ratios_and_score_differences(
    tmp_path: Path,
) -> None:
    report_path = tmp_path / "benchmarks.md"

    finished = subprocess.run(
        [
            sys.executable,
            str(BENCHMARK),
            "--small",
            "--texts",
            "6",
            "--output",
            str(report_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "(a) stock toolkit" in finished.stdout, "progress is printed as it goes"
    report = report_path.read_text()
    assert report in finished.stdout
    rows = {match["key"]: match for match in ROW.finditer(report)}
    assert sorted(rows) == ["a", "b", "c", "d"]
    assert "HF_TASK=zero-shot-classification" in rows["a"]["title"]
    assert "batch_size 32" in rows["b"]["title"]
    assert "fp32" in rows["c"]["title"] and "auto" in rows["d"]["title"]
    assert {row["texts"] for row in rows.values()} == {"6"}, "every path on the same texts"
    assert (rows["a"]["dtype"], rows["c"]["dtype"]) == ("fp32", "fp32")
    assert "Matrix-multiplication peak measured in this run" in report
    assert rows["c"]["pairs"] == str(6 * 9), "nine labels per text"
    assert all(5 <= float(row["words"]) <= 60 for row in rows.values())
    for key, row in rows.items():
        rate_ratio = float(row["rate"]) / float(rows["a"]["rate"])
        # The table rounds rates and ratios to two decimals.
        assert float(row["ratio"]) == pytest.approx(rate_ratio, rel=0.02, abs=0.02), (
            f"({key}) ratio is vs (a)"
        )
    assert rows["a"]["ratio"] == "1.00" and rows["a"]["diff"].strip() == "reference"
    assert float(rows["b"]["diff"]) <= 1e-5
    assert float(rows["c"]["diff"]) <= 1e-5, "zstc fp32 equals the stock pipeline"
    assert float(rows["d"]["diff"]) <= 0.02
    assert "- Command: `.venv/bin/python benchmarks/inference_benchmark.py --small" in report
    assert "CPU:" in report and "torch" in report
    assert re.search(r"\(c\) target >= 1\.8x .*: (met|MISSED)", report)
    assert re.search(r"\(d\) target >= 6\.0x .*: (met|MISSED)", report)

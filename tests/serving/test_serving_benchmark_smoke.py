"""`make bench` end to end on a tiny model: every path runs and the report is complete.

Speed is not asserted (the run is too small and the machine shared); the score differences
are, since they are correctness: zstc at fp32 must give the stock pipeline's scores. The
ceiling check is, too: the report's verdict (valid, or INVALID with the exit status 3) must
match its own table. Each path runs in a process of its own, so this takes about a minute.
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
    r"^\| \((?P<key>[a-f])\) (?P<title>[^|]+) \| (?P<texts>\d+) \| (?P<words>[\d.]+) \| "
    r"(?P<pairs>\d+) \| "
    r"(?P<seconds>[\d.]+) \| (?P<rate>[\d.]+) \| (?P<ratio>[\d.]+)x \| "
    r"(?P<agree>\d+)/(?P<agree_of>\d+) \| (?P<diff>[^|]+) \| "
    r"(?P<gflops>\d+) \| (?P<share>\d+)% of (?P<dtype>fp32|bf16|fp16|int8)"
    r"(?P<above> \(ABOVE CEILING\))? \| (?P<rss>\d+) \|$",
    re.MULTILINE,
)
EMBEDDING_ROW = re.compile(
    r"^\| \((?P<key>m\d)\) all-MiniLM-L6-v2, precision (?P<precision>fp32|int8) \((?P=precision)\)"
    r" \| (?P<texts>\d+) \| [\d.]+ \| [\d.]+ \| [\d.]+x \| (?P<agree>\d+)/(?P=texts) \| "
    r"(?P<diff>[^|]+) \| (?P<rss>\d+) \|$",
    re.MULTILINE,
)


def test_small_benchmark_reports_every_path_with_ceiling_agreement_and_memory(
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
        timeout=420,
        check=False,
    )

    report = report_path.read_text()
    rows = {match["key"]: match for match in ROW.finditer(report)}
    above = [key for key, row in rows.items() if row["above"]]
    # The verdict follows the table: any path above its ceiling makes the run invalid.
    if above:
        assert finished.returncode == 3, finished.stderr[-3000:]
        assert "**This run is INVALID**" in report
        assert all(f"- ({key}) ran its linear layers at" in report for key in above)
    else:
        assert finished.returncode == 0, finished.stderr[-3000:]
        assert "Valid: no path ran above its ceiling." in report
    assert "(a) stock toolkit" in finished.stdout, "progress is printed as it goes"
    assert report in finished.stdout
    assert sorted(rows) == ["a", "b", "c", "d", "e", "f"]
    assert "HF_TASK=zero-shot-classification" in rows["a"]["title"]
    assert "batch_size 32" in rows["b"]["title"]
    assert "precision fp32" in rows["c"]["title"] and "precision auto" in rows["d"]["title"]
    assert "precision bf16" in rows["e"]["title"] and "precision int8" in rows["f"]["title"]
    assert [rows[key]["dtype"] for key in "acef"] == ["fp32", "fp32", "bf16", "int8"]
    assert rows["d"]["dtype"] in ("fp32", "bf16")
    assert {row["texts"] for row in rows.values()} == {"6"}, "every path on the same texts"
    assert rows["c"]["pairs"] == str(6 * 9), "nine labels per text"
    assert all(5 <= float(row["words"]) <= 60 for row in rows.values())
    for key, row in rows.items():
        rate_ratio = float(row["rate"]) / float(rows["a"]["rate"])
        # The table rounds rates and ratios to two decimals.
        assert float(row["ratio"]) == pytest.approx(rate_ratio, rel=0.02, abs=0.02), (
            f"({key}) ratio is vs (a)"
        )
        # A whole Python process with torch and transformers, less than a few GB.
        assert 100 < int(row["rss"]) < 4000, f"({key}) peak RSS in MiB"
    assert rows["a"]["ratio"] == "1.00" and rows["a"]["diff"].strip() == "reference"
    assert rows["a"]["agree"] == "6"
    assert float(rows["b"]["diff"]) <= 1e-5 and rows["b"]["agree"] == "6"
    assert float(rows["c"]["diff"]) <= 1e-5, "zstc fp32 equals the stock pipeline"
    assert rows["c"]["agree"] == "6"
    assert float(rows["e"]["diff"]) <= 0.02
    assert 0 < float(rows["f"]["diff"]) <= 0.05, "int8 moves scores, a little"
    # auto states why, in the report as in its log line.
    assert re.search(
        r"^- \(d\) (fp32|bf16): (measured, best of \d interleaved trials on 16 \(text, label\) "
        r"pairs: fp32 [\d.]+ s, bf16 [\d.]+ s;|CPU without native bf16)",
        report,
        re.MULTILINE,
    )
    assert re.search(r"- Load average \(1 minute\): [\d.]+ before, [\d.]+ after", report)
    assert re.search(r"over \d+ trials interleaved with the paths: fp32 \d+ GFLOP/s", report)
    embedding = {match["precision"]: match for match in EMBEDDING_ROW.finditer(report)}
    assert sorted(embedding) == ["fp32", "int8"]
    assert embedding["fp32"]["diff"].strip() == "reference"
    assert 0 < float(embedding["int8"]["diff"]) < 1
    assert "- Command: `.venv/bin/python benchmarks/inference_benchmark.py --small" in report
    assert "CPU:" in report and "torch" in report
    assert re.search(r"\(c\) target >= 1\.8x .*: (met|MISSED)", report)
    assert re.search(r"\(d\) target >= 6\.0x .*: (met|MISSED)", report)
    assert re.search(r"\(d\) auto within 10% of the faster of .*: (met|MISSED)", report)

#!/usr/bin/env python3
"""Load run: concurrent clients against the real local model server, hostile bodies included.

It serves the bundled all-MiniLM-L6-v2 (embedding mode) through zstc.local.endpoint, the same
multi-model-server and toolkit handler the container runs, on loopback only. For each
concurrency level, that many client threads send a fixed mix of bodies for a bounded time:

- a JSON request with the reference solution's nine labels (expects 200);
- a JSON request with a list of four texts (200);
- a JSON Lines request of eight lines, one of them bad (200, with an error line in place);
- JSON Lines whose ids are NaN and a lone surrogate (200, error lines in place);
- a JSON request whose template has no {} (400);
- a JSON request with one lone surrogate in a label (400 or 200, never 500).

With --attacker, one more client sends the round-two attack bodies in a loop beside them
(ATTACK_BODIES: 100,000 "{}" lines, an amplifying "{0}" template, 5,000 lines of 50 labels, a
line that is not UTF-8, a JSON body with a bad byte, a gzip body), each of which once killed or
hogged the worker; each must get its 400 (or 200 with the bad line in place).

It reports requests per second, latency percentiles of the ordinary clients, every status that
differs from the expected one, whether the model worker ever restarted (its pid), and the
worker's resident memory before and after, so growth shows. Exit status 1 when any response was
unexpected or the worker restarted.

    .venv/bin/python benchmarks/load_run.py --concurrency 1 4 16 --seconds 60 --attacker
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from zstc.local.endpoint import LocalEndpoint, find_free_port
from zstc.models.artifact import prepare_model_dir
from zstc.models.model_sources import bundled_model_dir
from zstc.reference_categories import REFERENCE_CATEGORIES

JSON = "application/json"
JSON_LINES = "application/jsonlines"
TEXT = "#newyearsresolution :: read more books, no scrolling fb/checking email b4 breakfast"


@dataclass(frozen=True)
class Body:
    name: str
    payload: str | bytes
    content_type: str
    allowed_statuses: frozenset[int]
    expected_lines: int | None = None


def _json(inputs: object, **parameters: object) -> str:
    return json.dumps(
        {"inputs": inputs, "parameters": {"candidate_labels": REFERENCE_CATEGORIES, **parameters}}
    )


def _lines(records: list[str]) -> str:
    return "\n".join(records)


BODIES = (
    Body("json-single", _json(TEXT), JSON, frozenset({200})),
    Body(
        "json-list",
        _json([TEXT, "run a marathon", "save money", "learn Spanish"]),
        JSON,
        frozenset({200}),
    ),
    Body(
        "jsonl-one-bad",
        _lines(
            [
                json.dumps({"id": index, **json.loads(_json(f"{TEXT} #{index}"))})
                for index in range(7)
            ]
            + ['{"id": "bad", "inputs": 5}']
        ),
        JSON_LINES,
        frozenset({200}),
        expected_lines=8,
    ),
    Body(
        "jsonl-hostile-ids",
        _lines(
            [
                '{"id": NaN, "inputs": "x", "parameters": {"candidate_labels": ["a", "b"]}}',
                '{"id": "\\ud800", "inputs": "y", "parameters": {"candidate_labels": ["a"]}}',
            ]
        ),
        JSON_LINES,
        frozenset({200}),
        expected_lines=2,
    ),
    Body(
        "json-bad-template",
        _json(TEXT, hypothesis_template="no placeholder"),
        JSON,
        frozenset({400}),
    ),
    Body(
        "json-surrogate-label",
        '{"inputs": "x", "parameters": {"candidate_labels": ["ok", "\\udc00"]}}',
        JSON,
        frozenset({200, 400}),
    ),
)


def _attack_bodies() -> tuple[Body, ...]:
    labels_50 = [f"label {index}" for index in range(50)]
    fifty_labels = json.dumps({"inputs": TEXT, "parameters": {"candidate_labels": labels_50}})
    amplifying = {
        "inputs": TEXT,
        "parameters": {
            "candidate_labels": [f"{index:02d}" + "L" * 98 for index in range(10)],
            "hypothesis_template": "{0}" * 20_000,
        },
    }
    good_line = json.dumps({"id": 1, **json.loads(_json(TEXT))}).encode()
    bad_line = b'{"id": 2, "inputs": "caf\xe9", "parameters": {"candidate_labels": ["a"]}}'
    bad_json = b'{"inputs": "caf\xe9", "parameters": {"candidate_labels": ["a", "b"]}}'
    return (
        Body("attack-100k-empty-objects", b"{}\n" * 100_000, JSON_LINES, frozenset({400})),
        Body("attack-amplifying-template", json.dumps(amplifying), JSON, frozenset({400})),
        Body("attack-5000x50-labels", _lines([fifty_labels] * 5_000), JSON_LINES, frozenset({400})),
        Body(
            "attack-bad-byte-line",
            b"\n".join([good_line, bad_line, good_line]),
            JSON_LINES,
            frozenset({200}),
            expected_lines=3,
        ),
        Body("attack-bad-byte-json", bad_json, JSON, frozenset({400})),
        Body("attack-gzip", gzip.compress(good_line), JSON, frozenset({400})),
    )


ATTACK_BODIES = _attack_bodies()


@dataclass
class LevelResult:
    concurrency: int
    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    seconds: float = 0.0
    attacks: int = 0


def _check(body: Body, status: int, answer: bytes) -> str | None:
    if status not in body.allowed_statuses:
        return f"{body.name}: HTTP {status}: {answer[:200]!r}"
    if body.expected_lines is not None and status == 200:
        lines = answer.decode("utf-8").split("\n")
        if len(lines) != body.expected_lines:
            return f"{body.name}: {len(lines)} answer lines for {body.expected_lines}"
    return None


def run_level(
    endpoint: LocalEndpoint,
    *,
    concurrency: int,
    seconds: float,
    max_requests: int,
    attacker: bool = False,
) -> LevelResult:
    result = LevelResult(concurrency=concurrency)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    sent = 0

    def client(offset: int) -> None:
        nonlocal sent
        index = offset
        while time.monotonic() < deadline:
            with lock:
                if sent >= max_requests:
                    return
                sent += 1
            body = BODIES[index % len(BODIES)]
            index += 1
            accept = body.content_type
            started = time.perf_counter()
            answer = endpoint.invoke(
                body.payload, content_type=body.content_type, accept=accept, timeout_s=60
            )
            elapsed = time.perf_counter() - started
            problem = _check(body, answer.status, answer.body)
            with lock:
                result.latencies_s.append(elapsed)
                result.statuses[f"{body.name} {answer.status}"] += 1
                if problem:
                    result.unexpected.append(problem)

    def attack() -> None:
        index = 0
        while time.monotonic() < deadline:
            body = ATTACK_BODIES[index % len(ATTACK_BODIES)]
            index += 1
            answer = endpoint.invoke(
                body.payload, content_type=body.content_type, accept=body.content_type, timeout_s=90
            )
            problem = _check(body, answer.status, answer.body)
            with lock:
                result.attacks += 1
                result.statuses[f"{body.name} {answer.status}"] += 1
                if problem:
                    result.unexpected.append(problem)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(concurrency)]
    if attacker:
        threads.append(threading.Thread(target=attack))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def model_worker(endpoint: LocalEndpoint) -> psutil.Process:
    """The model server's Python worker that holds the model.

    model_service_worker.py forks once: the child loads the model and serves, the parent only
    waits, so the worker is the matching process with no matching child.
    """
    assert endpoint._supervisor is not None
    workers = [
        process
        for process in psutil.Process(endpoint._supervisor.pid).children(recursive=True)
        if "model_service_worker" in " ".join(process.cmdline())
    ]
    worker_pids = {process.pid for process in workers}
    for process in workers:
        if not any(child.pid in worker_pids for child in process.children()):
            return process
    raise RuntimeError("no model worker process found under the model server")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=60.0, help="per concurrency level")
    parser.add_argument("--max-requests", type=int, default=20_000, help="per level")
    parser.add_argument(
        "--attacker", action="store_true", help="one more client sending ATTACK_BODIES"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="zstc-load-") as scratch:
        model_dir = prepare_model_dir(Path(scratch) / "model", weights_dir=bundled_model_dir())
        with LocalEndpoint(model_dir, port=find_free_port()) as endpoint:
            worker = model_worker(endpoint)
            rss_start = worker.memory_info().rss
            print(
                "| clients | requests | req/s | p50 ms | p99 ms | attacks | unexpected "
                "| worker pid |"
            )
            print("|---:|---:|---:|---:|---:|---:|---:|---|")
            failures: list[str] = []
            for concurrency in args.concurrency:
                level = run_level(
                    endpoint,
                    concurrency=concurrency,
                    seconds=args.seconds,
                    max_requests=args.max_requests,
                    attacker=args.attacker,
                )
                current = model_worker(endpoint)
                same_worker = current.pid == worker.pid
                print(
                    f"| {concurrency} | {len(level.latencies_s)} | "
                    f"{len(level.latencies_s) / level.seconds:.1f} | "
                    f"{1000 * percentile(level.latencies_s, 0.50):.0f} | "
                    f"{1000 * percentile(level.latencies_s, 0.99):.0f} | "
                    f"{level.attacks} | {len(level.unexpected)} | "
                    f"{'same' if same_worker else 'RESTARTED'} |",
                    flush=True,
                )
                failures += level.unexpected[:5]
                if not same_worker:
                    failures.append(f"the worker restarted at {concurrency} clients")
                    worker = current
            rss_end = worker.memory_info().rss
            print(
                f"\nworker resident memory: {rss_start / 2**20:.0f} MiB before, "
                f"{rss_end / 2**20:.0f} MiB after"
            )
    for failure in failures:
        print(f"UNEXPECTED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

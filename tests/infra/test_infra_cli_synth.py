"""`make synth`: the pinned CDK CLI writes every stack's template, with no credentials and no
network connection at all.

The pinned aws-cdk CLI sends usage telemetry and fetches notices unless told not to
(node_modules/aws-cdk/lib/index.js: canCollectTelemetry reads the "cli-telemetry" context key,
and the "notices" setting decides whether notices are refreshed). cdk.json turns both off, so
the test runs `make synth` itself and strips every CDK_* variable from its environment: only the
project's own files may do it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
# connect(2) to anything but a local socket: TCP, UDP (DNS included), IPv4 or IPv6.
_NETWORK_CONNECT = re.compile(r"connect\(\d+, \{sa_family=AF_INET6?,")


def _environment_without_aws() -> dict[str, str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CDK_")) and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    environment.update(
        {
            # Nothing to find credentials or a region in, and no instance metadata to ask.
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return environment


def test_make_synth_writes_every_stack_without_credentials_or_network(tmp_path: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        # .ci/run installs strace, so CI never skips this; a developer machine may lack it.
        if os.environ.get("CI"):
            pytest.fail("strace is not installed: .ci/run should have installed it")
        pytest.skip("strace is not installed: connect() calls cannot be observed")
    outdir = tmp_path / "cdk.out"
    trace = tmp_path / "connect.trace"
    completed = subprocess.run(
        [
            strace,
            "-f",
            "--seccomp-bpf",
            "-e",
            "trace=connect",
            "-o",
            str(trace),
            # -o install: the environment is installed already; synth only.
            "make",
            "--no-print-directory",
            "-o",
            "install",
            "synth",
            f"CDK_ARGS=-o {outdir}",
        ],
        cwd=REPO_ROOT,
        env=_environment_without_aws(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]

    connects = trace.read_text(encoding="utf-8")
    assert "+++ exited with 0 +++" in connects, "strace did not follow the processes"
    network = [line for line in connects.splitlines() if _NETWORK_CONNECT.search(line)]
    assert not network, "synth opened network connections:\n" + "\n".join(network)

    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    stacks = {
        name: artifact
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    # The default cdk.json: data, endpoint and batch; no VPC.
    assert set(stacks) == {"Zstc-Data", "Zstc-Endpoint", "Zstc-Batch"}
    for name, artifact in stacks.items():
        template = json.loads((outdir / f"{name}.template.json").read_text(encoding="utf-8"))
        assert template["Resources"], name
        # Environment-agnostic: deployable into whatever account and region the user has.
        assert artifact["environment"] == "aws://unknown-account/unknown-region", name
    # Nothing was looked up in an account (a lookup would leave "missing" context behind).
    assert "missing" not in manifest

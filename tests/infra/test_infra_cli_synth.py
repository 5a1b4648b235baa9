"""`make synth`: the pinned CDK CLI writes every stack's template with no AWS credentials."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
CDK = REPO_ROOT / "node_modules" / ".bin" / "cdk"


def _environment_without_aws() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    environment.update(
        {
            # Nothing to find credentials or a region in, and no instance metadata to ask.
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        }
    )
    return environment


def test_cdk_synth_writes_every_stack_without_credentials(tmp_path: Path) -> None:
    outdir = tmp_path / "cdk.out"
    completed = subprocess.run(
        [str(CDK), "synth", "--all", "--quiet", "--no-notices", "-o", str(outdir)],
        cwd=REPO_ROOT,
        env=_environment_without_aws(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]

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

"""`make destroy` deletes every stack `make deploy` created, whatever arguments destroy gets.

The VPC stack exists only when synth sees `-c vpc=...`; destroy must still name it, or the data
stack fails to delete (Network imports its key) and the VPC endpoints keep billing.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import aws_cdk as cdk
from infra_synth import synth, vpc_create

from stacks.teardown import build_teardown_stacks, teardown_stack_prefix

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
CDK = REPO_ROOT / "node_modules" / ".bin" / "cdk"


def _destroy_order(assembly_stacks: list[cdk.Stack]) -> list[str]:
    """Stack names in the order `cdk destroy --all` deletes them: dependents first."""
    done: list[str] = []
    remaining = list(assembly_stacks)
    while remaining:
        for stack in remaining:
            dependents = [s for s in remaining if stack in s.dependencies]
            if not dependents:
                done.append(stack.stack_name)
                remaining.remove(stack)
                break
    return done


def test_teardown_covers_every_stack_of_a_vpc_deploy_in_delete_order(
    tiny_nli_model_dir: Path, tmp_path: Path
) -> None:
    deployed = synth(vpc_create(tiny_nli_model_dir))
    # The weights directory of the deploy is gone by the time of the destroy.
    context = {**vpc_create(tmp_path / "deleted-weights"), "teardown": "true"}
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=context)
    stacks = build_teardown_stacks(app, stack_prefix=teardown_stack_prefix(context))
    app.synth()

    torn_down = {stack.stack_name for stack in stacks.values()}
    assert set(deployed.templates) == {"Zstc-Data", "Zstc-Network", "Zstc-Endpoint", "Zstc-Batch"}
    assert set(deployed.templates) <= torn_down
    order = _destroy_order(list(stacks.values()))
    assert order.index("Zstc-Network") < order.index("Zstc-Data")
    assert order.index("Zstc-Batch") < order.index("Zstc-Network")
    assert order.index("Zstc-Endpoint") < order.index("Zstc-Network")
    # Nothing to upload but the templates themselves: no model archive, no Lambda code.
    uploads = [
        asset["source"]["path"]
        for manifest in (tmp_path / "cdk.out").glob("*.assets.json")
        for asset in json.loads(manifest.read_text(encoding="utf-8")).get("files", {}).values()
    ]
    assert uploads and all(path.endswith(".template.json") for path in uploads)


def _environment(tmp_path: Path) -> dict[str, str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CDK_")) and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    fake_cdk = tmp_path / "fake-cdk"
    fake_cdk.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$FAKE_CDK_LOG"\n', encoding="utf-8")
    fake_cdk.chmod(0o755)
    fake_preflight = tmp_path / "fake-preflight"
    fake_preflight.write_text(
        '#!/bin/sh\nprintf "%s\\n" "$@" > "$FAKE_PREFLIGHT_LOG"\n', encoding="utf-8"
    )
    fake_preflight.chmod(0o755)
    environment.update(
        {
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "FAKE_CDK_LOG": str(tmp_path / "cdk-argv"),
            "FAKE_PREFLIGHT_LOG": str(tmp_path / "preflight-argv"),
        }
    )
    return environment


def _make(target: str, tmp_path: Path, *variables: str) -> list[str]:
    """Runs a Makefile target with a fake cdk; returns the arguments cdk was given."""
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            "install",
            target,
            f"CDK={tmp_path / 'fake-cdk'}",
            f"DEPLOYED_ARGS_FILE={tmp_path / 'deployed-args'}",
            # The job stopper needs an account (tests/infra/test_infra_destroy_preflight.py).
            f"DESTROY_PREFLIGHT={tmp_path / 'fake-preflight'}",
            *variables,
        ],
        cwd=REPO_ROOT,
        env=_environment(tmp_path),
        check=True,
        timeout=120,
    )
    return (tmp_path / "cdk-argv").read_text(encoding="utf-8").splitlines()


def test_make_destroy_without_arguments_lists_the_vpc_stack_of_the_last_deploy(
    tmp_path: Path,
) -> None:
    deploy_args = "-c vpc=create -c model_weights=/no/such/weights -c stack_prefix=Team"
    deploy_argv = _make("deploy", tmp_path, f"CDK_ARGS={deploy_args}")
    assert deploy_argv[:2] == ["deploy", "--all"]

    destroy_argv = _make("destroy", tmp_path)  # no CDK_ARGS at all
    assert destroy_argv[:2] == ["destroy", "--all"]
    # Transform jobs are stopped first, for the same deployment (its stack prefix).
    preflight_argv = (tmp_path / "preflight-argv").read_text(encoding="utf-8").split()
    assert "stack_prefix=Team" in preflight_argv
    # The stacks the real CLI would destroy with exactly these arguments; `cdk ls` needs no
    # account, and the weights directory no longer exists.
    listed = subprocess.run(
        [str(CDK), "ls", "-o", str(tmp_path / "cdk.out"), *destroy_argv[2:]],
        cwd=REPO_ROOT,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert set(listed.stdout.split()) == {
        "Team-Data",
        "Team-Network",
        "Team-Endpoint",
        "Team-Batch",
    }
    assert not list((tmp_path / "cdk.out").glob("asset.*"))

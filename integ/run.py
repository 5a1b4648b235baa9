"""`make integ`: deploy the integration app, check every promise, destroy it, check it is gone.

    python -m integ.run

Steps, each printed as it starts:
1. preflight: region, credentials (STS GetCallerIdentity) and the CDK bootstrap stack; without
   them the run stops here, having deployed nothing;
2. `cdk deploy --all` of integ/integ_zstc_flow.py: zstc's stacks in the cheap configuration, the
   probe stack, then the assertion stack, whose custom resources run the assertions;
3. the assertions' verdicts from the assertion stack's outputs;
4. a tagged upload and a dataset of many parts, uploaded with the user's credentials
   (integ/post_deploy_uploads.py);
5. `zstc batch results` on both dataset jobs (integ/dataset_results.py);
6. unless --skip-serverless: a deploy of integ/serverless_minilm.py, whose readiness resource
   classifies on the cold serverless endpoint; always destroyed with `cdk destroy --force --all`
   and checked for leftovers, even after a failure;
7. always, even after a failure or Ctrl-C: `cdk destroy` of the two test stacks, then zstc's
   stacks destroyed exactly as `make destroy` does it (running transform jobs stopped, then the
   app's teardown mode, stacks/teardown.py), then the leftovers check.

The stacks are deployed with the project's pinned CDK CLI. integ-runner is not used: its latest
release (@aws-cdk/integ-runner 2.197.10) bundles a toolkit that reads cloud assembly schema 53 at
most, and aws-cdk-lib 2.275.0 writes schema 55, so it refuses this app ("Cloud assembly schema
version mismatch: Maximum schema version supported is 53.x.x, but found 55.0.0").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from integ.assertion_results import RESULTS_OUTPUT_PREFIX, assertion_failures
from integ.cheap_config import (
    ASSERTION_STACK_NAME,
    INTEG_STACK_PREFIX,
    PROBE_STACK_NAME,
    RUN_ID_ENV,
)
from integ.dataset_results import check_dataset_results
from integ.flow_data import dataset, many_part_dataset, tagged_file
from integ.leftovers import (
    SETTLE_SECONDS,
    lambda_log_group_prefixes,
    log_groups,
    wait_for_no_leftovers,
)
from integ.post_deploy_uploads import check_post_deploy_uploads
from integ.preflight import PreflightError, Target, check_target

REPO_ROOT = Path(__file__).resolve().parent.parent
INTEG_APP = REPO_ROOT / "integ" / "integ_zstc_flow.py"
CDK = REPO_ROOT / "node_modules" / ".bin" / "cdk"
WORK_DIR = REPO_ROOT / "build" / "integ"
ASSERTION_STACK = ASSERTION_STACK_NAME
TEST_STACKS = (PROBE_STACK_NAME, ASSERTION_STACK_NAME)
# SageMaker writes the endpoint's logs here; the endpoint stack owns that log group.
ENDPOINT_LOG_GROUP_PREFIX = f"/aws/sagemaker/Endpoints/{INTEG_STACK_PREFIX}-"

SERVERLESS_APP = REPO_ROOT / "integ" / "serverless_minilm.py"
SERVERLESS_STACK = "ZstcIntegServerless-Endpoint"
SERVERLESS_LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/ZstcIntegServerless-"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_START = 2
EXIT_INTERRUPTED = 130

Runner = Callable[[Sequence[str], Mapping[str, str]], int]


def run_command(command: Sequence[str], env: Mapping[str, str]) -> int:
    return subprocess.run(list(command), env=dict(env), cwd=REPO_ROOT, check=False).returncode


def _step(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def new_run_id() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime())


def cdk_command(action: str, *arguments: str, assembly_dir: Path) -> list[str]:
    """A CDK CLI command on the integration app, synthesized into assembly_dir."""
    app = f"{sys.executable} {INTEG_APP}"
    return [str(CDK), action, "--all", "--app", app, "--output", str(assembly_dir), *arguments]


def destroy_test_stacks_command(assembly_dir: Path) -> list[str]:
    """Only the probe and assertion stacks: they use zstc's stacks, so they go first."""
    app = f"{sys.executable} {INTEG_APP}"
    return [
        str(CDK),
        "destroy",
        *TEST_STACKS,
        "--force",
        "--app",
        app,
        "--output",
        str(assembly_dir),
    ]


def serverless_commands(assembly_dir: Path) -> tuple[list[str], list[str]]:
    """Deploy and destroy of integ/serverless_minilm.py. Deploying the Endpoint stack is the
    check: its readiness resource only completes once the cold serverless endpoint classified
    the probe correctly, else CloudFormation rolls the deployment back."""
    common = ["--app", f"{sys.executable} {SERVERLESS_APP}", "--output", str(assembly_dir)]
    deploy = [str(CDK), "deploy", SERVERLESS_STACK, "--require-approval", "never", *common]
    destroy = [str(CDK), "destroy", "--force", "--all", *common]
    return deploy, destroy


def teardown_commands(work_dir: Path) -> list[list[str]]:
    """What `make destroy` runs, for the integration's stack prefix (Makefile, destroy)."""
    context = ["-c", f"stack_prefix={INTEG_STACK_PREFIX}"]
    return [
        [sys.executable, str(REPO_ROOT / "scripts" / "destroy_preflight.py"), *context],
        [
            str(CDK),
            "destroy",
            "--all",
            "--force",
            "--app",
            f"{sys.executable} {REPO_ROOT / 'app.py'}",
            "--output",
            str(work_dir / "teardown.out"),
            "-c",
            "teardown=true",
            *context,
        ],
    ]


def _bucket_name(outputs: dict[str, Any]) -> str | None:
    value = outputs.get(f"{INTEG_STACK_PREFIX}-Data", {}).get("BucketName")
    return str(value) if value else None


def assembly_stacks(assembly_dir: Path) -> list[str]:
    """The stacks of the synthesized integration app, from its cloud assembly manifest."""
    manifest_path = assembly_dir / "manifest.json"
    if not manifest_path.is_file():
        return []
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return [
        artifact.get("displayName", name)
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    ]


def expected_assertion_count(assembly_dir: Path) -> int:
    """How many AssertionResults outputs the synthesized assertion stack declares."""
    template_path = assembly_dir / f"{ASSERTION_STACK}.template.json"
    template = json.loads(template_path.read_text(encoding="utf-8"))
    return sum(1 for name in template.get("Outputs", {}) if name.startswith(RESULTS_OUTPUT_PREFIX))


def _remove_test_log_groups(*, session: Any, region: str, keep: bool) -> None:
    """The assertion framework's Lambdas log to groups Lambda creates itself, which outlive
    the stacks. They are the run's own debris, not zstc's: removed after a passing run, kept
    after a failing or interrupted one, where they explain what the assertions saw."""
    logs = session.client("logs", region_name=region)
    names = log_groups(logs, lambda_log_group_prefixes(list(TEST_STACKS)))
    for name in names:
        if keep:
            print(f"kept for diagnosis: log group {name}", file=sys.stderr)
        else:
            logs.delete_log_group(logGroupName=name)


def run_integration(
    *,
    session: Any,
    runner: Runner = run_command,
    environ: Mapping[str, str] | None = None,
    work_dir: Path = WORK_DIR,
    settle_seconds: float = SETTLE_SECONDS,
    check_serverless: bool = True,
) -> int:
    _step("preflight: region, credentials, CDK bootstrap")
    try:
        target: Target = check_target(session=session)
    except PreflightError as error:
        print(f"make integ: {error}", file=sys.stderr)
        return EXIT_CANNOT_START
    run_id = new_run_id()
    print(f"account {target.account}, region {target.region}, run {run_id}", file=sys.stderr)
    env = {
        **(os.environ if environ is None else environ),
        RUN_ID_ENV: run_id,
        "AWS_REGION": target.region,
        "AWS_DEFAULT_REGION": target.region,
        "CDK_DEFAULT_ACCOUNT": target.account,
        "CDK_DEFAULT_REGION": target.region,
    }
    assembly_dir = work_dir / "cdk.out"
    outputs_file = work_dir / "outputs.json"
    work_dir.mkdir(parents=True, exist_ok=True)
    outputs_file.unlink(missing_ok=True)
    problems: list[str] = []
    stack_names: list[str] = []
    finished = False
    try:
        _step("deploy the integration stacks and run the assertions (about an hour)")
        deploy_exit = runner(
            cdk_command(
                "deploy",
                "--require-approval",
                "never",
                "--outputs-file",
                str(outputs_file),
                assembly_dir=assembly_dir,
            ),
            env,
        )
        stack_names = assembly_stacks(assembly_dir)
        if deploy_exit != 0:
            problems.append(
                f"cdk deploy exited {deploy_exit}: a wait timed out or a resource failed"
            )
        outputs: dict[str, Any] = {}
        if outputs_file.is_file():
            _step("assertion results")
            outputs = json.loads(outputs_file.read_text(encoding="utf-8"))
            problems += assertion_failures(
                outputs,
                assertion_stack=ASSERTION_STACK,
                expected_count=expected_assertion_count(assembly_dir),
            )
        bucket = _bucket_name(outputs)
        if deploy_exit == 0 and bucket is None:
            problems.append(f"no BucketName output of {INTEG_STACK_PREFIX}-Data")
        if deploy_exit == 0 and bucket is not None:
            _step("a tagged upload and a dataset of many parts each run one job")
            problems += check_post_deploy_uploads(
                session=session,
                region=target.region,
                bucket=bucket,
                tagged=tagged_file(run_id),
                many_parts=many_part_dataset(run_id),
            )
            _step("zstc batch results joins each dataset in input order")
            for joined in (dataset(run_id), many_part_dataset(run_id)):
                problems += check_dataset_results(
                    session=session,
                    region=target.region,
                    stack_prefix=INTEG_STACK_PREFIX,
                    dataset=joined,
                )
        if check_serverless:
            _step("serverless mode with the bundled MiniLM: deploy is the readiness check")
            serverless_deploy, _ = serverless_commands(
                work_dir.parent / "integ-serverless" / "cdk.out"
            )
            serverless_exit = runner(serverless_deploy, env)
            if serverless_exit != 0:
                problems.append(
                    f"serverless cdk deploy exited {serverless_exit}: the cold endpoint's "
                    "readiness check failed or a resource failed"
                )
        finished = True
    finally:
        if check_serverless:
            serverless_dir = work_dir.parent / "integ-serverless" / "cdk.out"
            _step("destroy the serverless check's stacks")
            _, serverless_destroy = serverless_commands(serverless_dir)
            serverless_destroy_exit = runner(serverless_destroy, env)
            if serverless_destroy_exit != 0:
                problems.append(f"serverless cdk destroy exited {serverless_destroy_exit}")
            problems += wait_for_no_leftovers(
                session=session,
                region=target.region,
                stack_names=assembly_stacks(serverless_dir),
                log_group_prefixes=[SERVERLESS_LOG_GROUP_PREFIX],
                settle_seconds=settle_seconds,
            )
        _step("destroy the test stacks, then zstc's stacks as make destroy does")
        for command in [destroy_test_stacks_command(assembly_dir), *teardown_commands(work_dir)]:
            destroy_exit = runner(command, env)
            if destroy_exit != 0:
                problems.append(
                    f"{' '.join(command[:2])} exited {destroy_exit}: see README, 'Verify in "
                    "your account'"
                )
        stack_names = stack_names or assembly_stacks(assembly_dir)
        zstc_stacks = [name for name in stack_names if name not in TEST_STACKS]
        _step("nothing of zstc's stacks left behind")
        problems += wait_for_no_leftovers(
            session=session,
            region=target.region,
            stack_names=stack_names,
            log_group_prefixes=[
                *lambda_log_group_prefixes(zstc_stacks),
                ENDPOINT_LOG_GROUP_PREFIX,
            ],
            settle_seconds=settle_seconds,
        )
        _remove_test_log_groups(
            session=session, region=target.region, keep=bool(problems) or not finished
        )
    if problems:
        print("make integ: FAILED", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_FAILED
    print("make integ: every check passed, and nothing is left behind", file=sys.stderr)
    return EXIT_OK


def main() -> int:
    import boto3

    try:
        # --skip-serverless leaves out the serverless mode check (on by default).
        return run_integration(
            session=boto3.session.Session(),
            check_serverless="--skip-serverless" not in sys.argv[1:],
        )
    except KeyboardInterrupt:
        # run_integration's own cleanup (destroy, leftovers check) has run by now.
        print("make integ: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

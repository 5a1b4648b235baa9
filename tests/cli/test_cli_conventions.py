"""CLI conventions: --version, completion, global options anywhere, --output json, exit codes
(bad input 2, failure 1, Ctrl-C 130), credential hints, and one template rule with the server."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from cli_test_support import JOB_NAME_PREFIX, REGION, STACK_PREFIX, DeployedZstc

import zstc.cli.context
from zstc.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"zstc {version('zstc')}"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_uses_clicks_completion_variable(
    shell: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["completion", shell]) == 0
    assert "_ZSTC_COMPLETE" in capsys.readouterr().out


def test_completion_lists_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    # What the shell asks for while the user types `zstc ba<TAB>` (click's bash protocol).
    from click.shell_completion import ShellComplete

    from zstc.cli import cli

    completions = ShellComplete(cli, {}, "zstc", "_ZSTC_COMPLETE").get_completions([], "ba")
    assert [item.value for item in completions] == ["batch"]


def test_global_options_before_and_after_the_command_agree(
    deployed: DeployedZstc, capsys: pytest.CaptureFixture[str]
) -> None:
    before = ["--stack-prefix", STACK_PREFIX, "--region", REGION, "--output", "json"]
    assert main([*before, "batch", "status"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["batch", "status", *deployed.cli_args(), "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == first == []


def test_status_json_and_watch_without_job_follows_the_newest(
    deployed: DeployedZstc, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect: `batch status --watch` without JOB was refused although the README shows it."""
    from cli_test_support import create_transform_job

    older, newer = f"{JOB_NAME_PREFIX}-older-1", f"{JOB_NAME_PREFIX}-newer-2"
    create_transform_job(deployed.sagemaker, job_name=older, bucket=deployed.bucket)
    create_transform_job(deployed.sagemaker, job_name=newer, bucket=deployed.bucket)

    assert main(["batch", "status", "--watch", "--interval", "0.01", *deployed.cli_args()]) == 0
    captured = capsys.readouterr()
    assert f"watching the newest job: {newer}" in captured.err
    assert f"job:       {newer}" in captured.out and "state:     Completed" in captured.out

    assert main(["batch", "status", "--output", "json", *deployed.cli_args()]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [job["job"] for job in listed] == [newer, older]
    assert listed[0]["state"] == "Completed"


def test_watch_without_any_job_says_so(
    deployed: DeployedZstc, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch", "status", "--watch", *deployed.cli_args()]) == 1
    assert "has no transform jobs yet" in capsys.readouterr().err


def test_missing_credentials_get_a_hint_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                     "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                     "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):  # fmt: skip
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    # No instance metadata service here: botocore must not wait for one.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code = main(["batch", "status", "--region", REGION])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    for hint in ("aws configure", "AWS_PROFILE", "aws sso login"):
        assert hint in err


def test_credentials_rejected_at_call_time_get_the_hint_too(
    aws_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An expired SSO token fails inside botocore, after the client was made."""
    from botocore.exceptions import TokenRetrievalError

    cloudformation = boto3.client("cloudformation", region_name=REGION)

    def expired(**_: object) -> None:
        raise TokenRetrievalError(provider="sso", error_msg="Token has expired")

    monkeypatch.setattr(cloudformation, "describe_stacks", expired)
    monkeypatch.setattr(zstc.cli.context.Settings, "client", lambda self, service: cloudformation)
    code = main(["classify", "x", "--labels", "a,b", "--region", REGION])
    err = capsys.readouterr().err
    assert code == 2
    assert "Token has expired" in err and "aws sso login" in err


def test_ctrl_c_exits_130(
    deployed: DeployedZstc, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("zstc.batch.status.recent_jobs", interrupted)
    assert main(["batch", "status", *deployed.cli_args()]) == 130
    # click ends the ^C line first, then the one-line message.
    assert capsys.readouterr().err.strip() == "zstc: interrupted"


@pytest.mark.parametrize("command", [["local", "serve"], ["local", "batch", "x.jsonl", "-o", "y"]])
def test_ports_the_model_server_refuses_are_usage_errors(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect: --port accepted values multi-model-server refuses (above 32766)."""
    assert main([*command, "--port", "32767"]) == 2
    assert "32767 is not in the range 1<=x<=32766" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("template", "accepted"),
    [("{}", True), ("{0}", True), ("This is {}.", True), ("{} {}", False), ("no slot", False),
     ("{0.x}", False), ("{0[a]}", False)],
)  # fmt: skip
def test_cli_and_server_share_one_template_rule(template: str, accepted: bool) -> None:
    """Defect: the CLI accepted "{} {}" and refused "{0}"; the server did the opposite."""
    from request_contract import RequestError, parse_parameters

    from zstc.cli_errors import CliError
    from zstc.endpoint_client import build_request

    parameters = {"candidate_labels": ["a", "b"], "hypothesis_template": template}
    try:
        parse_parameters(parameters, max_candidate_labels=50)
        server_accepts = True
    except (RequestError, Exception):
        server_accepts = False
    try:
        build_request(text="x", labels=["a", "b"], multi_label=False, template=template)
        cli_accepts = True
    except CliError as error:
        assert error.exit_code == 2
        cli_accepts = False
    assert cli_accepts == server_accepts == accepted


def _expect_batch(runtime: Stubber, texts: list[str]) -> None:
    body = {"inputs": texts, "parameters": {"candidate_labels": ["a", "b"], "multi_label": False}}
    answer = json.dumps(
        [{"sequence": text, "labels": ["b", "a"], "scores": [0.75, 0.25]} for text in texts]
    ).encode()
    import io

    from botocore.response import StreamingBody

    runtime.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": "application/json"},
        {"EndpointName": "zstc-test-endpoint", "ContentType": "application/json",
         "Accept": "application/json", "Body": json.dumps(body).encode()},
    )  # fmt: skip


@pytest.mark.parametrize("from_stdin", [False, True])
def test_classify_reads_texts_from_a_file_or_stdin_in_list_requests(
    from_stdin: bool,
    deployed: DeployedZstc,
    runtime: Stubber,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Texts holding U+2028 and U+0085 are one line of the file each, not two.
    texts = ["text 0", "line\u2028separator", "text 2", "next\x85line", "text 4"]
    raw = "".join(text + "\n" for text in texts)
    if from_stdin:
        import io
        import sys

        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw.encode())))
        source = "-"
    else:
        (tmp_path / "texts.txt").write_text(raw)
        source = str(tmp_path / "texts.txt")
    _expect_batch(runtime, texts[:2])
    _expect_batch(runtime, texts[2:4])
    _expect_batch(runtime, texts[4:])
    with runtime:
        code = main(["classify", "--file", source, "--labels", "a,b", "--batch-size", "2",
                     "--output", "json", *deployed.cli_args()])  # fmt: skip
    runtime.assert_no_pending_responses()
    assert code == 0
    # JSON output keeps U+2028 raw (ensure_ascii=False): one record per "\n", never splitlines().
    lines = capsys.readouterr().out.split("\n")
    assert lines[-1] == ""
    assert [json.loads(line)["sequence"] for line in lines[:-1]] == texts


def test_classify_needs_text_or_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "--labels", "a,b", "--local", "localhost:9"]) == 2
    assert "give TEXT or --file PATH" in capsys.readouterr().err


def test_local_serve_json_output_names_where_it_listens(
    tiny_served_model_dir: Path, tmp_path: Path
) -> None:
    """`local serve --output json` prints one JSON line a script can read, then serves."""
    import select
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from zstc.local.endpoint import find_free_port

    port = find_free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "zstc"), "--output", "json", "local", "serve",
         "--model", str(tiny_served_model_dir), "--port", str(port),
         "--log-dir", str(tmp_path / "logs")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        line = ""
        while not line and time.monotonic() < deadline and process.poll() is None:
            if select.select([process.stdout], [], [], 1.0)[0]:
                line = process.stdout.readline()
        document = json.loads(line)
        assert document["url"] == f"http://127.0.0.1:{port}"
        assert document["model_dir"] == str(tiny_served_model_dir)
        with urllib.request.urlopen(f"{document['url']}/ping", timeout=5) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

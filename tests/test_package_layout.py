"""The client package's layout: the CDK app never loads the CLI libraries, and zstc/ stays small.

The CDK app imports a few client modules (the model-server settings, the archive builder), so
those must not pull in click or rich: a `cdk synth` then needs only what requirements.txt
installs, and a CLI change cannot break a deployment.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CLI_LIBRARIES = ("click", "rich")
MAX_TOP_LEVEL_MODULES = 12

# Imports every module of the CDK app, builds every stack of the default configuration and of
# `make destroy`'s teardown app (without synthesizing, which costs seconds and loads nothing
# more), then prints which of the CLI libraries Python has loaded.
_LOADED_BY_THE_CDK_APP = """
import importlib, json, pkgutil, sys
import aws_cdk as cdk
import app
import stacks
for module in pkgutil.iter_modules(stacks.__path__):
    importlib.import_module(f"stacks.{module.name}")
from stacks.app_wiring import build_stacks
from stacks.config import load_config
from stacks.teardown import build_teardown_stacks
application = cdk.App(context={})
build_stacks(application, load_config(application.node.get_all_context()))
build_teardown_stacks(cdk.App(), stack_prefix="Zstc")
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & set(%r))))
"""

# The same probe on the CLI itself, so the test shows it can see a library being loaded.
_LOADED_BY_THE_CLI = """
import json, sys
import zstc.cli
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & set(%r))))
"""


def _loaded(script: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-c", script % (CLI_LIBRARIES,)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    loaded: list[str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    ("script", "expected"),
    [(_LOADED_BY_THE_CDK_APP, []), (_LOADED_BY_THE_CLI, sorted(CLI_LIBRARIES))],
    ids=["cdk-app", "cli"],
)
def test_the_cdk_app_loads_no_cli_library(script: str, expected: list[str]) -> None:
    assert _loaded(script) == expected


# The eval's terminal output is drawn with rich; every other module outside zstc/cli/ does its
# work without a CLI library, and imports one only inside the function that draws.
TERMINAL_OUTPUT_MODULES = ("zstc.evaluation.options", "zstc.evaluation.terminal_report")

_LOADED_BY_THE_WORK_MODULES = """
import importlib, json, pathlib, sys
modules = sorted(
    ".".join(path.with_suffix("").parts).removesuffix(".__init__")
    for path in pathlib.Path("zstc").rglob("*.py")
)
work = [m for m in modules if not m.startswith("zstc.cli") and m not in %r]
for module in work:
    importlib.import_module(module)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & set(%r))))
"""


def test_the_client_work_modules_load_no_cli_library() -> None:
    script = _LOADED_BY_THE_WORK_MODULES % (TERMINAL_OUTPUT_MODULES, CLI_LIBRARIES)
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == [], (
        "a module outside zstc/cli/ imports click or rich at import time; import it inside the "
        "function that needs it, or move the code into zstc/cli/"
    )


def test_the_client_package_has_at_most_twelve_top_level_modules() -> None:
    modules = sorted(path.name for path in (REPO_ROOT / "zstc").glob("*.py"))
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, modules


def test_every_client_folder_with_code_is_an_installed_package() -> None:
    """A folder missing from pyproject.toml's packages is left out of the wheel silently."""
    import tomllib

    declared = set(
        tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    folders = {
        ".".join(path.parent.relative_to(REPO_ROOT).parts)
        for path in (REPO_ROOT / "zstc").rglob("*.py")
    }
    assert folders <= declared, sorted(folders - declared)

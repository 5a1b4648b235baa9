"""The install files describe no machine: every pin is a version the public registry serves, and
no file points pip at a local wheel directory or another index."""

from __future__ import annotations

import re

import pytest
from cli_test_support import REPO_ROOT

PIN_FILES = ("constraints.txt", "requirements.txt", "requirements-dev.txt")
INSTALL_FILES = (*PIN_FILES, "Makefile", "pyproject.toml", ".ci/run")
_PIN = re.compile(r"^([A-Za-z0-9_.\[\],-]+)==(\S+)$")


def _pins(name: str) -> list[tuple[str, str]]:
    pins = []
    for raw in (REPO_ROOT / name).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        match = _PIN.match(line)
        if match:
            pins.append((match.group(1), match.group(2)))
    return pins


@pytest.mark.parametrize("name", PIN_FILES)
def test_pins_carry_no_local_version_label(name: str) -> None:
    """Defect: constraints.txt pinned torch==2.13.0+cpu, which exists only on PyTorch's own
    index (PEP 440 local versions are never on PyPI), so installs failed everywhere else."""
    pins = _pins(name)
    assert pins
    assert [f"{package}=={version}" for package, version in pins if "+" in version] == []


def test_torch_is_pinned_as_pypi_serves_it() -> None:
    assert ("torch", "2.13.0") in _pins("constraints.txt")


@pytest.mark.parametrize("name", INSTALL_FILES)
def test_no_install_file_names_a_local_wheel_directory_or_another_index(name: str) -> None:
    # Comments may explain the options; the commands and pins themselves must not use them.
    lines = (REPO_ROOT / name).read_text(encoding="utf-8").splitlines()
    text = "\n".join(line.split("#", 1)[0] for line in lines)
    for machine_specific in ("--find-links", "find-links", "--index-url", "--extra-index-url",
                             "file://", "/opt/", "/work/", "+cpu"):  # fmt: skip
        assert machine_specific not in text, f"{name} mentions {machine_specific!r}"


def test_install_shows_progress() -> None:
    """Defect: the first `make` printed nothing for about two minutes (pip --quiet)."""
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    install = makefile[makefile.index("$(PYTHON_STAMP):") : makefile.index("$(NODE_STAMP):")]
    assert "--quiet" not in install and " -q " not in install
    assert install.count("@echo") >= 3

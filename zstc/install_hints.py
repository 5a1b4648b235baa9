"""What to run to add an extra ([local], [report]) to *this* zstc installation.

zstc is not on PyPI, so `pip install 'zstc[local]'` would fail. The hint follows how this copy
was installed, read from its own metadata (PEP 610, direct_url.json in the dist-info):
- from a source directory: `pip install '<checkout>[local]'` (`-e` when it was editable);
- from a wheel or sdist file: `pip install '<file>[local]'`;
- from a VCS URL: `pip install 'zstc[local] @ git+<url>@<commit>'`;
- a checkout whose zstc/ is imported in place (no direct_url.json): `pip install -e
  '<checkout>[local]'`.
The pip is the one of the Python running zstc (`<python> -m pip`), so the extra lands in the same
environment even when it is not activated (.venv/bin/zstc).
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

DISTRIBUTION = "zstc"
# Import names that differ from their distribution's name.
_IMPORT_NAMES = {"multi-model-server": "mms"}
# Imported by an extra's distributions, not listed in it.
_INDIRECT = {"sagemaker_inference": "local"}
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def extra_of_module(module: str) -> str | None:
    """The extra whose installation brings `module` (a top-level import name), if any."""
    top = module.split(".")[0]
    if top in _INDIRECT:
        return _INDIRECT[top]
    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        marker = _EXTRA_MARKER.search(requirement)
        if marker is None:
            continue
        name = re.split(r"[ ;<>=!~\[]", requirement, maxsplit=1)[0].lower()
        import_name = _IMPORT_NAMES.get(name, name.replace("-", "_"))
        if import_name == top:
            return marker.group(1)
    return None


def _file_path(url: str) -> str:
    parsed = urlparse(url)
    return unquote(parsed.path) if parsed.scheme == "file" else url


def _checkout_dir() -> Path | None:
    """The source checkout zstc is imported from in place, if it is one."""
    checkout = Path(__file__).resolve().parent.parent
    pyproject = checkout / "pyproject.toml"
    if pyproject.is_file() and 'name = "zstc"' in pyproject.read_text(encoding="utf-8"):
        return checkout
    return None


def install_target(extra: str, *, direct_url: str | None = None) -> str:
    """The pip arguments that add `extra` to this installation, quoted for a POSIX shell.

    direct_url: the content of direct_url.json (default: read from the installed metadata).
    """
    if direct_url is None:
        try:
            direct_url = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
        except metadata.PackageNotFoundError:
            direct_url = None
    if direct_url:
        origin = json.loads(direct_url)
        url = str(origin.get("url", ""))
        if "vcs_info" in origin:
            vcs = origin["vcs_info"]
            commit = f"@{vcs['commit_id']}" if vcs.get("commit_id") else ""
            return shlex.quote(f"{DISTRIBUTION}[{extra}] @ {vcs.get('vcs', 'git')}+{url}{commit}")
        if "dir_info" in origin:
            editable = "-e " if origin["dir_info"].get("editable") else ""
            return editable + shlex.quote(f"{_file_path(url)}[{extra}]")
        if "archive_info" in origin:
            return shlex.quote(f"{_file_path(url)}[{extra}]")
    checkout = _checkout_dir()
    if checkout is not None:
        return "-e " + shlex.quote(f"{checkout}[{extra}]")
    return shlex.quote(f"{DISTRIBUTION}[{extra}]")


def install_command(extra: str, *, direct_url: str | None = None) -> str:
    target = install_target(extra, direct_url=direct_url)
    return f"{shlex.quote(sys.executable)} -m pip install {target}"


def missing_extra_message(*, module: str, extra: str, needed_for: str) -> str:
    """One line: what is missing, what needs it, and the command that adds it."""
    return (
        f"{needed_for} needs the [{extra}] extra ({module} is not installed); add it with: "
        f"{install_command(extra)}"
    )

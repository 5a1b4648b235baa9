"""The inference code, the trigger's job naming and the app's configuration rules, as the
installed client finds them.

Both live beside the infrastructure that ships them (inference_code/ goes into model.tar.gz,
lambda/transform_trigger/ into the trigger Lambda). The client uses the same single copy:
- installed from a wheel (`pip install .`, pipx), pyproject.toml's package-dir mapping puts them
  in the package as zstc/inference_code/ and zstc/transform_trigger/;
- in an editable install of a source checkout, setuptools' editable finder maps only the
  top-level `zstc` package (setuptools/command/editable_wheel.py, _EditableFinder.MAPPING), so
  they are found in the checkout beside zstc/.
Modules are loaded by file path: the inference code imports its siblings as top-level modules
(`from request_contract import ...`, as it runs from code/ in the container), and `lambda` is a
Python keyword, so neither folder is an importable package.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

from zstc.cli_errors import CliError

_PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_DIR = _PACKAGE_DIR.parent
# (installed location, source checkout location) for each bundled folder.
_LOCATIONS = {
    "inference_code": (_PACKAGE_DIR / "inference_code", _CHECKOUT_DIR / "inference_code"),
    "transform_trigger": (
        _PACKAGE_DIR / "transform_trigger",
        _CHECKOUT_DIR / "lambda" / "transform_trigger",
    ),
    # The app's configuration rules (stdlib only); the client never imports the CDK stacks.
    "stacks": (_PACKAGE_DIR / "stacks", _CHECKOUT_DIR / "stacks"),
}


def _folder(name: str, *, must_hold: str) -> Path:
    for candidate in _LOCATIONS[name]:
        if (candidate / must_hold).is_file():
            return candidate
    installed, checkout = _LOCATIONS[name]
    raise CliError(
        f"{must_hold} is missing from this zstc installation (looked in {installed} and "
        f"{checkout}); reinstall zstc (pip install --force-reinstall zstc)"
    )


def inference_code_dir() -> Path:
    """The folder whose files go under code/ in model.tar.gz."""
    return _folder("inference_code", must_hold="inference.py")


@cache
def _load(name: str, file_name: str) -> ModuleType:
    path = _folder(name, must_hold=file_name) / file_name
    module_name = f"zstc._bundled_{name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CliError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    # Registered before running, as an import would: dataclasses look their module up by name.
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def inference_module(name: str) -> ModuleType:
    """A module of the inference code, imported as the container imports it: its folder on
    sys.path and its siblings as top-level modules (they import each other that way)."""
    import importlib

    folder = str(inference_code_dir())
    if folder not in sys.path:
        sys.path.append(folder)
    return importlib.import_module(name)


def job_names() -> ModuleType:
    """lambda/transform_trigger/job_names.py: the trigger's own transform job naming."""
    return _load("transform_trigger", "job_names.py")


def app_config() -> ModuleType:
    """stacks/config.py: the app's configuration keys, defaults and validation."""
    return _load("stacks", "config.py")


def request_contract() -> ModuleType:
    """inference_code/request_contract.py: the endpoint's request rules (templates, limits)."""
    return _load("inference_code", "request_contract.py")

"""Every Lambda folder and inference_code/ import their modules as top-level names (that is how
Lambda and the container load them), and the tests import them the same way, from sys.path. Two
folders with a module of the same name would then shadow each other in one test process: the
second import gets the first folder's module from sys.modules."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL_CODE_FOLDERS = [
    *sorted(path for path in (REPO_ROOT / "lambda").iterdir() if path.is_dir()),
    REPO_ROOT / "inference_code",
    REPO_ROOT / "integ" / "checker",
]


def test_no_two_code_folders_share_a_module_name() -> None:
    folders_by_module: defaultdict[str, list[str]] = defaultdict(list)
    for folder in TOP_LEVEL_CODE_FOLDERS:
        for module in folder.glob("*.py"):
            folders_by_module[module.stem].append(str(folder.relative_to(REPO_ROOT)))
    shared = {name: folders for name, folders in folders_by_module.items() if len(folders) > 1}
    assert not shared, f"module names used by more than one code folder: {shared}"

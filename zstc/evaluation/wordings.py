"""Label wordings: what is sent to the model for each label of the file.

A wording is a JSON object that maps the wording sent to the model to the label in the file,
e.g. {"money and saving": "Finance", "staying healthy": "Health", ...}. Several wordings may map
to one label; the label then scores as the best of its wordings, since any of them winning means
the model chose that label. The labels as written in the file are the wording "as written".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from zstc.cli_errors import CliError

AS_WRITTEN = "as written"


@dataclass(frozen=True, kw_only=True)
class Wording:
    name: str
    # sent wording -> label in the file
    to_label: Mapping[str, str]

    def sent_for(self, labels: Sequence[str]) -> list[str]:
        """The wordings to send for these file labels, in label order."""
        return [
            sent for label in labels for sent, target in self.to_label.items() if target == label
        ]

    def label_scores(self, sent_labels: Sequence[str], scores: Sequence[float]) -> dict[str, float]:
        """File label -> score: the best score among its wordings."""
        best: dict[str, float] = {}
        for sent, score in zip(sent_labels, scores, strict=True):
            label = self.to_label.get(sent)
            if label is None:
                raise CliError(f"the model answered with label {sent!r}, which was never sent")
            best[label] = max(score, best.get(label, float("-inf")))
        return best


def as_written(labels: Sequence[str]) -> Wording:
    return Wording(name=AS_WRITTEN, to_label={label: label for label in labels})


def check_wording(mapping: object, *, name: str, labels: Sequence[str]) -> Wording:
    """Every label of the sample needs a wording, and every wording must name a label."""
    if not isinstance(mapping, dict) or not mapping:
        raise CliError(
            f"--wording {name}: expected a JSON object such as "
            '{"money and saving": "Finance"} (wording sent -> label in the file)',
            exit_code=2,
        )
    for sent, label in mapping.items():
        if not isinstance(label, str) or not sent.strip():
            raise CliError(
                f"--wording {name}: {sent!r}: {label!r} must map a non-empty wording to a label "
                "name",
                exit_code=2,
            )
    unknown = sorted({label for label in mapping.values() if label not in labels})
    if unknown:
        raise CliError(
            f"--wording {name}: {', '.join(map(repr, unknown))} is not a label of the sample; "
            f"its labels are {', '.join(labels)}",
            exit_code=2,
        )
    uncovered = [label for label in labels if label not in mapping.values()]
    if uncovered:
        raise CliError(
            f"--wording {name}: no wording for {', '.join(map(repr, uncovered))}; every label "
            "needs one",
            exit_code=2,
        )
    return Wording(name=name, to_label=dict(mapping))


def read_wording(path: Path, *, labels: Sequence[str]) -> Wording:
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CliError(
            f"--wording {path}: cannot read it as JSON ({error})", exit_code=2
        ) from error
    return check_wording(mapping, name=path.stem, labels=labels)

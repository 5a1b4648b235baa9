"""Synth warns when model_weights=hub serves a branch or tag: the weights can change under it."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk.assertions import Annotations, Match
from infra_synth import DEFAULT, synth

from stacks.config import load_config, moving_revision_warning

COMMIT = "d7645e127eaf1aefc7862fd59a17a5aa8558b8ce"


def _revision_warnings(stack: cdk.Stack | None) -> list[object]:
    assert stack is not None
    return Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("model_revision: .* not a commit hash")
    )


HUB = {"model_weights": "hub"}


def test_hub_mode_on_a_branch_warns_on_every_stack_that_serves_the_model() -> None:
    app = synth(HUB)  # cdk.json: model_revision=main
    for stack in (app.stacks.endpoint, app.stacks.batch):
        (warning,) = _revision_warnings(stack)
        assert "'main'" in str(warning.entry.data)
        assert "model_weights=s3" in str(warning.entry.data)
    assert not Annotations.from_stack(app.stacks.data).find_warning(
        "*", Match.string_like_regexp("model_revision")
    )


def test_s3_mode_resolves_the_branch_once_at_deploy_and_does_not_warn() -> None:
    app = synth(DEFAULT)
    assert not _revision_warnings(app.stacks.batch)
    assert not _revision_warnings(app.stacks.endpoint)


def test_a_pinned_commit_does_not_warn() -> None:
    app = synth({**HUB, "model_revision": COMMIT})
    assert not _revision_warnings(app.stacks.batch)
    assert not _revision_warnings(app.stacks.endpoint)


def test_packaged_weights_do_not_move() -> None:
    assert moving_revision_warning(load_config({"model_weights": "package"})) is None
    assert moving_revision_warning(load_config({"model_revision": "v1.0"})) is None
    assert moving_revision_warning(load_config({**HUB, "model_revision": "v1.0"})) is not None

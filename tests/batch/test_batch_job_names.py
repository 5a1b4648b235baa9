"""Transform job names: always valid for SageMaker, deterministic, one per object version."""

from __future__ import annotations

import re

import batch_events  # noqa: F401  (puts the Lambda's modules on sys.path)
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from job_names import MAX_PREFIX_LENGTH, transform_job_name, upload_identity

# SageMaker's TransformJobName rule, as its API documents it.
SAGEMAKER_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")

# Any S3 key: up to 1024 UTF-8 bytes of any characters (surrogates cannot be encoded).
keys = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300)
versions = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
prefixes = st.from_regex(r"[a-z0-9][a-z0-9-]{0,45}", fullmatch=True)
# S3 sequencers are hexadecimal strings.
sequencers = st.from_regex(r"[0-9A-F]{16,18}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(prefix=prefixes, key=keys, version=versions)
def test_every_name_is_valid_for_sagemaker_and_keeps_the_prefix(
    prefix: str, key: str, version: str
) -> None:
    name = transform_job_name(prefix=prefix, bucket="zstc-data", key=key, version=version)

    assert SAGEMAKER_JOB_NAME.fullmatch(name)
    assert len(name) <= 63
    assert name.startswith(prefix)
    assert name == transform_job_name(prefix=prefix, bucket="zstc-data", key=key, version=version)


@settings(max_examples=200, deadline=None)
@given(key=keys, first=versions, second=versions)
def test_different_versions_of_a_key_get_different_names(key: str, first: str, second: str) -> None:
    names = {
        transform_job_name(prefix="zstc-", bucket="zstc-data", key=key, version=version)
        for version in (first, second)
    }

    assert len(names) == len({first, second})


def test_keys_that_slug_alike_still_get_different_names() -> None:
    # Both slug to "input-a-b-jsonl"; the hash keeps their jobs apart.
    first = transform_job_name(prefix="zstc-", bucket="b", key="input/a b.jsonl", version="1")
    second = transform_job_name(prefix="zstc-", bucket="b", key="input/a+b.jsonl", version="1")
    other_bucket = transform_job_name(
        prefix="zstc-", bucket="c", key="input/a b.jsonl", version="1"
    )

    assert len({first, second, other_bucket}) == 3


def test_the_name_shows_the_end_of_the_key() -> None:
    name = transform_job_name(
        prefix="zstc-",
        bucket="b",
        key="input/very/long/folder/structure/that/goes/on/and/on/Customer Reviews.jsonl",
        version="v1",
    )

    assert name.startswith("zstc-")
    assert "customer-reviews-jsonl-" in name


@pytest.mark.parametrize("prefix", ["Zstc-", "-zstc", "zstc_", "", "z" * (MAX_PREFIX_LENGTH + 1)])
def test_a_prefix_iam_could_not_match_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        transform_job_name(prefix=prefix, bucket="b", key="input/a.jsonl", version="v1")


def test_an_upload_is_identified_by_its_version_or_else_by_its_sequencer() -> None:
    assert upload_identity(version_id="3HL4kqtJ", sequencer="00A1") == "3HL4kqtJ"
    # "null" is every upload's version while versioning is suspended.
    assert upload_identity(version_id="null", sequencer="00A1") == "sequencer:00A1"
    assert upload_identity(version_id=None, sequencer="00A1") == "sequencer:00A1"
    # A client holding only a PutObject response cannot know the trigger's name.
    assert upload_identity(version_id="null", sequencer=None) is None
    assert upload_identity(version_id=None, sequencer=None) is None


@settings(max_examples=100, deadline=None)
@given(
    key=keys,
    first=sequencers,
    second=sequencers,
)
def test_re_uploads_without_a_version_get_names_by_sequencer(
    key: str, first: str, second: str
) -> None:
    names = {
        transform_job_name(
            prefix="zstc-",
            bucket="zstc-data",
            key=key,
            version=str(upload_identity(version_id="null", sequencer=sequencer)),
        )
        for sequencer in (first, second)
    }

    assert len(names) == len({first, second})
    assert all(SAGEMAKER_JOB_NAME.fullmatch(name) and len(name) <= 63 for name in names)

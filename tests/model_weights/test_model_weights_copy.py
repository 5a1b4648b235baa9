"""The weights copy custom resource, against a local hub over HTTP and a moto S3 bucket.

Everything above the network runs for real: urllib against the fake hub's socket, boto3 against
moto's S3 (versioned bucket, multipart uploads with S3's 5 MiB minimum part size enforced).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fake_hub import FakeHubState, FakeRepo, serve
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lambda" / "model_weights_copy"))

import s3_objects
import weights_copy
from weights_copy import CopyError

from zstc.models.hub_snapshot import (
    CONFIG_AND_TOKENIZER_PATTERNS,
    PYTORCH_BIN_PATTERNS,
    SAFETENSORS_PATTERNS,
)

REGION = "eu-west-1"
BUCKET = "zstc-data-bucket"
CODE_BUCKET = "cdk-hnb659fds-assets-111122223333-eu-west-1"
CODE_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0.tar.gz"
MODEL_ID = "facebook/bart-large-mnli"
COMMIT_1 = "a" * 40
COMMIT_2 = "b" * 40
ROOT = "model-data/Zstc-Endpoint/"
MIB = 1024 * 1024
# Three 5 MiB parts at S3's minimum part size: the multipart path runs, and stays small.
WEIGHTS_1 = bytes(range(256)) * (11 * MIB // 256)
WEIGHTS_2 = WEIGHTS_1[:-1] + b"\x01"
SMALL_FILES = {
    "config.json": json.dumps(
        {"label2id": {"contradiction": 0, "neutral": 1, "entailment": 2}}
    ).encode(),
    "tokenizer.json": b'{"model": {}}',
    "vocab.json": b'{"a": 0}',
    "merges.txt": b"#version: 0.2\n",
}
NOT_NEEDED = {"pytorch_model.bin": b"bin", "tf_model.h5": b"h5", "README.md": b"# card"}
STACK_ID = (
    "arn:aws:cloudformation:eu-west-1:111122223333:stack/Zstc-Endpoint/"
    "5b3f2a10-8c1d-11f0-9e2b-0a1b2c3d4e5f"
)


class FakeContext:
    """A Lambda context whose remaining time is whatever the test says."""

    def __init__(self, remaining_ms: int = 900_000) -> None:
        self.remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining


@pytest.fixture
def hub() -> Iterator[tuple[FakeHubState, str]]:
    state = FakeHubState()
    state.repos[MODEL_ID] = FakeRepo(
        commits={
            COMMIT_1: {**SMALL_FILES, **NOT_NEEDED, "model.safetensors": WEIGHTS_1},
            COMMIT_2: {**SMALL_FILES, **NOT_NEEDED, "model.safetensors": WEIGHTS_2},
        },
        branches={"main": COMMIT_1},
    )
    server, url = serve(state)
    yield state, url
    server.shutdown()


def _code_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in {"code/inference.py": b"def model_fn(d):\n    return d\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(s3_objects, "PART_SIZE", 5 * MIB)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        kms = boto3.client("kms", region_name=REGION)
        key_arn = kms.create_key()["KeyMetadata"]["Arn"]
        for bucket in (BUCKET, CODE_BUCKET):
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        client.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=_code_archive())
        client.key_arn = key_arn  # type: ignore[attr-defined]
        yield client


def _properties(
    url: str,
    key_arn: str,
    *,
    revision: str = "main",
    layout: str = "prefix",
    code_key: str = CODE_KEY,
) -> dict[str, Any]:
    # What the stack passes (stacks/model_weights.py); CloudFormation sends strings.
    return {
        "ServiceToken": "arn:aws:lambda:eu-west-1:111122223333:function:framework-onEvent",
        "ModelId": MODEL_ID,
        "Revision": revision,
        "HubEndpoint": url,
        "Bucket": BUCKET,
        "KmsKeyArn": key_arn,
        "PrefixRoot": ROOT,
        "CodeArchiveBucket": CODE_BUCKET,
        "CodeArchiveKey": code_key,
        "Layout": layout,
        "ConfigPatterns": json.dumps(CONFIG_AND_TOKENIZER_PATTERNS),
        "WeightsAlternatives": json.dumps([SAFETENSORS_PATTERNS, PYTORCH_BIN_PATTERNS]),
    }


def _request(
    request_type: str,
    properties: dict[str, Any],
    *,
    physical_id: str | None = None,
    old: dict[str, Any] | None = None,
) -> dict[str, Any]:
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/x",
        "StackId": STACK_ID,
        "RequestId": "5d0a0c3e-1b2a-4c5d-9e8f-0a1b2c3d4e5f",
        "LogicalResourceId": "ModelWeightsCopy",
        "ResourceType": "Custom::ModelWeightsCopy",
        "ResourceProperties": properties,
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old is not None:
        event["OldResourceProperties"] = old
    return event


def _run(
    event: dict[str, Any], s3: Any, *, context: FakeContext | None = None, max_polls: int = 5
) -> dict[str, Any]:
    """What the Provider framework does: on_event, then is_complete with the merged event."""
    started = weights_copy.on_event(
        event, s3=s3, opener=urllib.request.urlopen, sleep=lambda s: None
    )
    merged = {**event, **started}
    for _ in range(max_polls):
        result = weights_copy.is_complete(
            merged,
            s3=s3,
            opener=urllib.request.urlopen,
            remaining_ms=(context or FakeContext()).get_remaining_time_in_millis,
        )
        if result["IsComplete"]:
            return merged
    raise AssertionError(f"not complete after {max_polls} polls")


def _keys(s3: Any, prefix: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {
        o["Key"][len(prefix) :]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
        for o in listed
    }


def test_create_copies_the_needed_files_of_the_resolved_commit(hub, s3) -> None:
    state, url = hub

    done = _run(_request("Create", _properties(url, s3.key_arn)), s3)

    prefix = done["PhysicalResourceId"].removeprefix(f"s3://{BUCKET}/")
    assert prefix.startswith(f"{ROOT}{COMMIT_1}-") and prefix.endswith("/")
    assert done["Data"] == {"S3Uri": done["PhysicalResourceId"], "Commit": COMMIT_1}
    copied = _keys(s3, prefix)
    assert copied == {
        **SMALL_FILES,
        "model.safetensors": WEIGHTS_1,
        "code/inference.py": b"def model_fn(d):\n    return d\n",
    }
    # Only one weights format, and never the model card: nothing else was even requested.
    for name in NOT_NEEDED:
        assert state.downloads(name) == 0
    # Every file was read at the commit, never at the branch.
    assert all(COMMIT_1 in p for p in state.requests if "/resolve/" in p)
    head = s3.head_object(Bucket=BUCKET, Key=f"{prefix}model.safetensors")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == s3.key_arn
    assert (
        head["Metadata"]["zstc-content-digest"] == "sha256:" + hashlib.sha256(WEIGHTS_1).hexdigest()
    )


def test_a_corrupt_download_is_never_kept_and_fails_after_a_second_try(hub, s3) -> None:
    state, url = hub
    state.corrupt["model.safetensors"] = 2

    with pytest.raises(CopyError, match=r"content hash .* does not match the hub's") as raised:
        _run(_request("Create", _properties(url, s3.key_arn)), s3)

    assert "2 attempts" in str(raised.value)
    assert state.downloads("model.safetensors") == 2
    assert "model.safetensors" not in str(_keys(s3, ROOT).keys())
    # The aborted multipart uploads left no parts behind.
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_one_corrupt_download_is_read_again(hub, s3) -> None:
    state, url = hub
    state.corrupt["config.json"] = 1

    done = _run(_request("Create", _properties(url, s3.key_arn)), s3)

    assert state.downloads("config.json") == 2
    assert (
        _keys(s3, done["PhysicalResourceId"].removeprefix(f"s3://{BUCKET}/"))["config.json"]
        == SMALL_FILES["config.json"]
    )


def test_an_unavailable_hub_pauses_the_copy_and_the_next_poll_resumes_it(hub, s3) -> None:
    state, url = hub
    state.unavailable["model.safetensors"] = 1
    event = _request("Create", _properties(url, s3.key_arn))
    started = {**event, **weights_copy.on_event(event, s3=s3, opener=urllib.request.urlopen)}

    first = weights_copy.is_complete(
        started,
        s3=s3,
        opener=urllib.request.urlopen,
        remaining_ms=FakeContext().get_remaining_time_in_millis,
    )
    second = weights_copy.is_complete(
        started,
        s3=s3,
        opener=urllib.request.urlopen,
        remaining_ms=FakeContext().get_remaining_time_in_millis,
    )

    assert first == {"IsComplete": False}
    assert second == {"IsComplete": True}
    # The files copied before the failure were not read again.
    assert state.downloads("config.json") == 1
    assert state.downloads("model.safetensors") == 2


def test_a_poll_stops_taking_files_when_its_time_runs_short(hub, s3) -> None:
    state, url = hub
    event = _request("Create", _properties(url, s3.key_arn))
    started = {**event, **weights_copy.on_event(event, s3=s3, opener=urllib.request.urlopen)}
    # Enough for one file, not for the 11 MiB weights at the planning rate plus margin.
    short = FakeContext(remaining_ms=weights_copy.SAFETY_MARGIN_MS + 10)

    first = weights_copy.is_complete(
        started,
        s3=s3,
        opener=urllib.request.urlopen,
        remaining_ms=short.get_remaining_time_in_millis,
    )

    assert first == {"IsComplete": False}
    assert state.downloads("model.safetensors") == 0
    done = _run(event, s3)
    assert state.downloads("config.json") == 1
    assert "model.safetensors" in _keys(
        s3, done["PhysicalResourceId"].removeprefix(f"s3://{BUCKET}/")
    )


def test_a_new_revision_is_a_new_copy_reusing_unchanged_files_and_delete_removes_the_old(
    hub, s3
) -> None:
    state, url = hub
    first = _run(_request("Create", _properties(url, s3.key_arn, revision=COMMIT_1)), s3)
    state.requests.clear()

    second = _run(
        _request(
            "Update",
            _properties(url, s3.key_arn, revision=COMMIT_2),
            physical_id=first["PhysicalResourceId"],
            old=_properties(url, s3.key_arn, revision=COMMIT_1),
        ),
        s3,
    )

    assert second["PhysicalResourceId"] != first["PhysicalResourceId"]
    assert second["Data"]["Commit"] == COMMIT_2
    # Unchanged files come from the old copy inside the bucket; only the new weights from the hub.
    assert state.downloads("config.json") == 0
    assert state.downloads("model.safetensors") == 1
    old_prefix = first["PhysicalResourceId"].removeprefix(f"s3://{BUCKET}/")
    new_prefix = second["PhysicalResourceId"].removeprefix(f"s3://{BUCKET}/")
    assert _keys(s3, new_prefix)["model.safetensors"] == WEIGHTS_2
    # The old copy stays until CloudFormation's clean-up deletes it (the old Model may still run).
    assert _keys(s3, old_prefix)["model.safetensors"] == WEIGHTS_1

    weights_copy.on_event(
        _request(
            "Delete",
            _properties(url, s3.key_arn, revision=COMMIT_1),
            physical_id=first["PhysicalResourceId"],
        ),
        s3=s3,
        opener=urllib.request.urlopen,
    )

    assert s3.list_object_versions(Bucket=BUCKET, Prefix=old_prefix).get("Versions") is None
    assert s3.list_object_versions(Bucket=BUCKET, Prefix=old_prefix).get("DeleteMarkers") is None
    assert _keys(s3, new_prefix)["model.safetensors"] == WEIGHTS_2


def test_new_code_with_the_same_commit_downloads_nothing(hub, s3) -> None:
    state, url = hub
    first = _run(_request("Create", _properties(url, s3.key_arn)), s3)
    new_code_key = "1" * 64 + ".tar.gz"
    s3.put_object(Bucket=CODE_BUCKET, Key=new_code_key, Body=_code_archive())
    state.requests.clear()

    second = _run(
        _request(
            "Update",
            _properties(url, s3.key_arn, code_key=new_code_key),
            physical_id=first["PhysicalResourceId"],
            old=_properties(url, s3.key_arn),
        ),
        s3,
    )

    assert second["PhysicalResourceId"] != first["PhysicalResourceId"]
    assert not [p for p in state.requests if "/resolve/" in p]


def test_delete_of_an_id_that_is_not_a_copy_deletes_nothing(hub, s3) -> None:
    _, url = hub
    done = _run(_request("Create", _properties(url, s3.key_arn)), s3)
    prefix = done["PhysicalResourceId"].removeprefix(f"s3://{BUCKET}/")

    for foreign in (
        "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED",
        f"s3://{BUCKET}/input/",
    ):
        weights_copy.on_event(
            _request("Delete", _properties(url, s3.key_arn), physical_id=foreign),
            s3=s3,
            opener=urllib.request.urlopen,
        )

    assert "model.safetensors" in _keys(s3, prefix)


def test_the_batch_layout_adds_a_model_archive_of_the_same_files(hub, s3) -> None:
    _, url = hub

    done = _run(_request("Create", _properties(url, s3.key_arn, layout="archive")), s3)

    archive_key = done["Data"]["ArchiveS3Uri"].removeprefix(f"s3://{BUCKET}/")
    assert archive_key.endswith(".tar.gz")
    assert not archive_key.startswith(done["PhysicalResourceId"].removeprefix(f"s3://{BUCKET}/"))
    body = s3.get_object(Bucket=BUCKET, Key=archive_key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(body)), mode="r:") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert members == {
        **SMALL_FILES,
        "model.safetensors": WEIGHTS_1,
        "code/inference.py": b"def model_fn(d):\n    return d\n",
    }


@pytest.mark.parametrize(
    ("model_id", "revision", "message"),
    [
        ("org/missing", "main", "HTTP 404"),
        (MODEL_ID, "no-such-branch", "HTTP 404"),
    ],
)
def test_hub_refusals_fail_at_once_naming_the_model(hub, s3, model_id, revision, message) -> None:
    _, url = hub
    properties = {**_properties(url, s3.key_arn, revision=revision), "ModelId": model_id}

    with pytest.raises(CopyError, match=message) as raised:
        weights_copy.on_event(_request("Create", properties), s3=s3, opener=urllib.request.urlopen)
    assert repr(model_id) in str(raised.value)


def test_an_unreachable_hub_fails_on_event_after_retries(s3) -> None:
    properties = _properties("http://127.0.0.1:9", s3.key_arn)
    slept: list[float] = []

    with pytest.raises(CopyError, match="could not be reached after 3 attempts"):
        weights_copy.on_event(
            _request("Create", properties), s3=s3, opener=urllib.request.urlopen, sleep=slept.append
        )
    assert slept == [5.0, 10.0]


def test_a_listing_without_hashes_is_refused_never_copied_unchecked(hub, s3) -> None:
    import hub_files

    _, url = hub
    # What the hub answers without blobs=true: names only (fake_hub.py mirrors the real hub).
    with urllib.request.urlopen(f"{url}/api/models/{MODEL_ID}/revision/main") as response:
        names_only = json.loads(response.read())
    assert all(set(sibling) == {"rfilename"} for sibling in names_only["siblings"])
    with pytest.raises(hub_files.HubError, match="lacks rfilename or size"):
        hub_files._hub_file(names_only["siblings"][0], url=url)
    with pytest.raises(hub_files.HubError, match=r"neither lfs\.sha256 nor a blobId"):
        hub_files._hub_file({"rfilename": "config.json", "size": 2}, url=url)

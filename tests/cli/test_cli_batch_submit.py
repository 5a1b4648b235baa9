"""`zstc batch submit` against moto: validation first, SSE-KMS uploads, parts, the job name."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from cli_test_support import JOB_NAME_PREFIX, REPO_ROOT, DeployedZstc

from zstc.cli import main

LABELS = ["Health", "Career", "Finance"]


def _trigger_job_names() -> ModuleType:
    """The trigger Lambda's own naming module, loaded by path as the Lambda runtime does."""
    path = REPO_ROOT / "lambda" / "transform_trigger" / "job_names.py"
    spec = importlib.util.spec_from_file_location("trigger_job_names_for_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, records: list[object]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records),
        encoding="utf-8",
    )
    return path


def _records(count: int) -> list[object]:
    return [
        {"id": i, "inputs": f"resolution number {i}", "parameters": {"candidate_labels": LABELS}}
        for i in range(count)
    ]


def _printed_job_name(out: str) -> str:
    line = next(line for line in out.splitlines() if line.startswith("transform job: "))
    return line.removeprefix("transform job: ")


def _keys(deployed: DeployedZstc) -> list[str]:
    listing = deployed.s3.list_objects_v2(Bucket=deployed.bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_upload_is_kms_encrypted_under_input_and_names_the_triggers_job(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "resolutions.jsonl", _records(5))
    assert main(["batch", "submit", str(source), *deployed.cli_args()]) == 0
    out = capsys.readouterr().out

    key = "input/resolutions.jsonl"
    head = deployed.s3.head_object(Bucket=deployed.bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == deployed.kms_key_arn
    body = deployed.s3.get_object(Bucket=deployed.bucket, Key=key)["Body"].read()
    assert body == source.read_bytes()
    expected = _trigger_job_names().transform_job_name(
        prefix=JOB_NAME_PREFIX, bucket=deployed.bucket, key=key, version=head["VersionId"]
    )
    assert _printed_job_name(out) == expected
    assert f"s3://{deployed.bucket}/{key}" in out


def test_each_upload_of_the_same_file_names_a_new_job(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A new object version is a new job; the name must follow the version, not only the key.
    source = _write(tmp_path / "again.jsonl", _records(2))
    main(["batch", "submit", str(source), *deployed.cli_args()])
    first = _printed_job_name(capsys.readouterr().out)
    main(["batch", "submit", str(source), *deployed.cli_args()])
    second = _printed_job_name(capsys.readouterr().out)
    assert first != second and first.startswith(JOB_NAME_PREFIX)


def test_with_versioning_suspended_no_wrong_job_name_is_printed(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With versioning suspended every upload's version is "null", so the trigger names the job
    after the S3 event's sequencer (lambda/transform_trigger/job_names.py, upload_identity),
    which no PutObject response carries: a name from the ETag would be another job's, or none."""
    deployed.s3.put_bucket_versioning(
        Bucket=deployed.bucket, VersioningConfiguration={"Status": "Suspended"}
    )
    source = _write(tmp_path / "suspended.jsonl", _records(2))

    assert main(["batch", "submit", str(source), *deployed.cli_args()]) == 0

    out = capsys.readouterr().out
    assert "transform job: named by the trigger" in out
    assert f"transform job: {JOB_NAME_PREFIX}" not in out
    assert main(["batch", "submit", str(source), "--wait", *deployed.cli_args()]) != 0
    assert "cannot wait" in capsys.readouterr().err


def test_bad_lines_are_refused_by_line_number_and_nothing_is_uploaded(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _records(4)
    records[1] = "{broken"
    records[3] = {"id": 3, "inputs": "no labels here"}
    source = _write(tmp_path / "bad.jsonl", records)

    code = main(["batch", "submit", str(source), *deployed.cli_args()])
    captured = capsys.readouterr()
    assert code == 2
    assert "line 2: invalid JSON" in captured.err
    assert "line 4: 'parameters.candidate_labels' is missing" in captured.err
    assert "nothing uploaded" in captured.err
    assert "transform job" not in captured.out
    assert _keys(deployed) == []


def test_drop_uploads_only_the_good_lines_and_labels_fill_the_rest(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _records(3)
    records.insert(1, "{broken")
    records.append({"id": "no-labels", "inputs": "pay off my card"})
    source = _write(tmp_path / "mixed.jsonl", records)

    code = main(
        [
            "batch",
            "submit",
            str(source),
            "--on-bad-lines",
            "drop",
            "--labels",
            ",".join(LABELS),
            *deployed.cli_args(),
        ]
    )
    assert code == 0
    assert "line 2: invalid JSON" in capsys.readouterr().err
    body = deployed.s3.get_object(Bucket=deployed.bucket, Key="input/mixed.jsonl")["Body"].read()
    uploaded = [json.loads(line) for line in body.decode().splitlines()]
    assert [record["id"] for record in uploaded] == [0, 1, 2, "no-labels"]
    assert uploaded[-1]["parameters"]["candidate_labels"] == LABELS


def test_parts_go_under_datasets_then_the_marker_names_the_one_job(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _records(10)
    source = _write(tmp_path / "big.jsonl", records)
    code = main(
        ["batch", "submit", str(source), "--parts", "3", "--dataset", "q1", *deployed.cli_args()]
    )
    assert code == 0
    out = capsys.readouterr().out

    keys = sorted(_keys(deployed))
    parts = [f"datasets/q1/part-0000{i}.jsonl" for i in range(3)]
    assert keys == sorted([*parts, "datasets/q1/_SUCCESS"])
    lines: list[str] = []
    for key in parts:
        obj = deployed.s3.get_object(Bucket=deployed.bucket, Key=key)
        assert obj["ServerSideEncryption"] == "aws:kms"
        assert obj["SSEKMSKeyId"] == deployed.kms_key_arn
        lines += obj["Body"].read().decode().splitlines()
    # Parts in name order are the input in its order: nothing lost, nothing moved.
    assert [json.loads(line)["id"] for line in lines] == list(range(10))
    marker = deployed.s3.head_object(Bucket=deployed.bucket, Key="datasets/q1/_SUCCESS")
    assert marker["ContentLength"] == 0
    assert marker["SSEKMSKeyId"] == deployed.kms_key_arn
    # The marker is written after every part, so the job never starts on a partial dataset.
    part_times = [
        deployed.s3.head_object(Bucket=deployed.bucket, Key=key)["LastModified"] for key in parts
    ]
    assert marker["LastModified"] >= max(part_times)
    expected = _trigger_job_names().transform_job_name(
        prefix=JOB_NAME_PREFIX,
        bucket=deployed.bucket,
        key="datasets/q1/_SUCCESS",
        version=marker["VersionId"],
    )
    assert _printed_job_name(out) == expected


def test_split_by_size_keeps_every_part_under_the_limit(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _records(40)
    source = _write(tmp_path / "sized.jsonl", records)
    limit_mb = 0.001  # about 1 KB: several parts from a 40-line file
    code = main(["batch", "submit", str(source), "--split-mb", str(limit_mb), *deployed.cli_args()])
    assert code == 0
    parts = sorted(key for key in _keys(deployed) if key.endswith(".jsonl"))
    assert len(parts) > 2
    joined = b""
    for key in parts:
        body = deployed.s3.get_object(Bucket=deployed.bucket, Key=key)["Body"].read()
        assert len(body) <= limit_mb * 1024 * 1024
        joined += body
    assert joined == source.read_bytes()


def test_reusing_a_dataset_name_is_refused_so_old_parts_never_join_a_job(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "twice.jsonl", _records(4))
    args = ["batch", "submit", str(source), "--parts", "2", *deployed.cli_args()]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    assert "datasets/twice/ already holds objects" in capsys.readouterr().err


def test_missing_stack_is_named_in_a_one_line_error(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "x.jsonl", _records(1))
    code = main(["batch", "submit", str(source), "--stack-prefix", "Nope", "--region", "eu-west-1"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == (
        "zstc: error: stack 'Nope-Data' is not deployed in this account/region "
        "(deploy it with `make deploy`, or pass --stack-prefix / --region)"
    )


def test_dry_run_validates_and_uploads_nothing(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "plan.jsonl", _records(3))
    assert main(["batch", "submit", str(source), "--dry-run", *deployed.cli_args()]) == 0
    assert "3 valid lines would be uploaded as plan.jsonl" in capsys.readouterr().out
    assert _keys(deployed) == []


def test_a_file_the_trigger_would_ignore_is_refused(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "data.txt", _records(1))
    assert main(["batch", "submit", str(source), *deployed.cli_args()]) == 2
    assert "FILE's name: 'data.txt' must end with .jsonl" in capsys.readouterr().err
    assert _keys(deployed) == []


def test_a_large_file_goes_up_in_parts_and_names_the_version_it_created(
    deployed: DeployedZstc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Above boto3's 8 MB multipart threshold (boto3.s3.transfer.TransferConfig), the managed
    transfer sends parts and returns no VersionId; the job name must still be the one the
    trigger gives the version this upload created, not an older or newer one."""
    long_text = "a long resolution " * 512  # about 9 KB per line
    records = [
        {"id": i, "inputs": long_text, "parameters": {"candidate_labels": LABELS}}
        for i in range(1000)
    ]
    source = _write(tmp_path / "large.jsonl", records)
    assert source.stat().st_size > 8 * 1024 * 1024
    key = "input/large.jsonl"
    deployed.s3.put_object(Bucket=deployed.bucket, Key=key, Body=b"an older version\n")

    assert main(["batch", "submit", str(source), *deployed.cli_args()]) == 0
    out = capsys.readouterr().out

    versions = deployed.s3.list_object_versions(Bucket=deployed.bucket, Prefix=key)["Versions"]
    newest = next(version for version in versions if version["IsLatest"])
    head = deployed.s3.head_object(Bucket=deployed.bucket, Key=key)
    assert "-" in head["ETag"]  # a multipart upload's ETag: "<md5 of part md5s>-<parts>"
    assert head["SSEKMSKeyId"] == deployed.kms_key_arn
    assert deployed.s3.get_object(Bucket=deployed.bucket, Key=key)["Body"].read() == (
        source.read_bytes()
    )
    expected = _trigger_job_names().transform_job_name(
        prefix=JOB_NAME_PREFIX, bucket=deployed.bucket, key=key, version=newest["VersionId"]
    )
    assert _printed_job_name(out) == expected


def test_upload_progress_reports_every_byte(deployed: DeployedZstc) -> None:
    from zstc.batch.submit import put_encrypted

    body = b"x" * (9 * 1024 * 1024)
    sent: list[int] = []
    put_encrypted(
        s3=deployed.s3,
        bucket=deployed.bucket,
        key="input/progress.jsonl",
        body=body,
        kms_key_arn=deployed.kms_key_arn,
        on_bytes=sent.append,
    )
    assert sum(sent) == len(body) and len(sent) > 1

"""After deploy: `zstc batch results` joins the dataset job's parts back in input order.

This runs the real command-line client, as a user does, on the machine that runs `make integ`
and with its credentials: it finds the bucket through the stacks' CloudFormation outputs, checks
the job's state and downloads every part. An assertion Lambda would run a copy of that code in
another environment, which is not what users run.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from integ.flow_data import Dataset
from zstc.cli import main as zstc_main


def check_dataset_results(
    *, session: Any, region: str, stack_prefix: str, dataset: Dataset
) -> list[str]:
    """Problems found; empty when the joined file holds every record in input order."""
    jobs = session.client("sagemaker", region_name=region).list_transform_jobs(
        NameContains=dataset.job_name_filter
    )["TransformJobSummaries"]
    if len(jobs) != 1:
        names = [job["TransformJobName"] for job in jobs]
        return [f"dataset {dataset.prefix}: expected exactly one transform job, found {names}"]
    job_name = jobs[0]["TransformJobName"]
    with tempfile.TemporaryDirectory(prefix="zstc-integ-") as workdir:
        output = Path(workdir) / "dataset-results.jsonl"
        exit_code = zstc_main(
            [
                "--region",
                region,
                "--stack-prefix",
                stack_prefix,
                "batch",
                "results",
                job_name,
                "--output-file",
                str(output),
                "--fail-on-errors",
            ]
        )
        if exit_code != 0:
            return [f"zstc batch results {job_name} exited {exit_code}"]
        ids = [json.loads(line).get("id") for line in output.read_text("utf-8").splitlines()]
    if ids != list(dataset.ids_in_input_order):
        return [
            f"zstc batch results {job_name}: ids {ids}, expected {list(dataset.ids_in_input_order)}"
        ]
    return []

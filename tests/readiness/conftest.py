"""Fixtures for the readiness check tests: clients whose every call botocore's Stubber checks
against the service model, with fake credentials so nothing can reach a real account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from readiness_events import REGION


@pytest.fixture
def stubbed_clients() -> Iterator[tuple[Any, Stubber, Any, Stubber]]:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    sagemaker = session.client("sagemaker")
    runtime = session.client("sagemaker-runtime")
    with Stubber(sagemaker) as sagemaker_stub, Stubber(runtime) as runtime_stub:
        yield sagemaker, sagemaker_stub, runtime, runtime_stub
        # Every queued answer was asked for: no call was skipped.
        sagemaker_stub.assert_no_pending_responses()
        runtime_stub.assert_no_pending_responses()

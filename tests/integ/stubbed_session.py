"""A session whose clients are real botocore clients with a Stubber in front of the network.

The code under test calls session.client(name, region_name=...) exactly as with boto3; every
request is checked against the service model by the Stubber, and no request leaves the process.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

REGION = "eu-west-1"
ACCOUNT = "111122223333"


class StubbedSession:
    def __init__(self, *, region_name: str | None = REGION) -> None:
        self.region_name = region_name
        self._session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=region_name or REGION,
        )
        self._clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}

    def stub(self, service: str) -> Stubber:
        if service not in self.stubbers:
            client = self._session.client(service)
            self._clients[service] = client
            self.stubbers[service] = Stubber(client)
            self.stubbers[service].activate()
        return self.stubbers[service]

    def client(self, service: str, region_name: str | None = None) -> Any:
        self.stub(service)
        return self._clients[service]

    def assert_no_pending_responses(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()

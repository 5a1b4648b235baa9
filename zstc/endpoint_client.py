"""Sends classification requests to the SageMaker endpoint or to a local endpoint over HTTP.

Both speak the same contract (DESIGN.md): a JSON request with "inputs" and "parameters", or
application/jsonlines with one record per line. Errors come back as CliError with the server's
own message, never a stack trace.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from zstc.cli_errors import CliError

JSON = "application/json"
JSON_LINES = "application/jsonlines"
DEFAULT_TEMPLATE = "This example is {}."


def parse_labels(text: str) -> list[str]:
    """ "a, b,c" -> ["a", "b", "c"]; empty entries are an error, not silently dropped."""
    labels = [label.strip() for label in text.split(",")]
    if not text.strip() or any(not label for label in labels):
        raise CliError(
            f"--labels: {text!r} has an empty label; expected comma-separated names such as "
            "'Health,Career,Finance'",
            exit_code=2,
        )
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise CliError(f"--labels: {', '.join(duplicates)} given more than once", exit_code=2)
    return labels


def build_request(
    *, text: str, labels: list[str], multi_label: bool, template: str | None
) -> dict[str, Any]:
    """The JSON request; its parameters pass the endpoint's own rules or raise (exit 2).

    The template rule is the endpoint's (request_contract.parse_parameters, the one copy that
    also goes into model.tar.gz), so the CLI accepts exactly the templates the server accepts.
    """
    from zstc.bundled_code import request_contract

    parameters: dict[str, Any] = {"candidate_labels": labels, "multi_label": multi_label}
    if template is not None:
        parameters["hypothesis_template"] = template
    contract = request_contract()
    try:
        # The label limit is the deployed endpoint's to enforce; here only the rules matter.
        contract.parse_parameters(parameters, max_candidate_labels=len(labels))
    except contract.RequestError as error:
        flag = "--template" if "hypothesis_template" in str(error) else "--labels"
        raise CliError(f"{flag}: {error}", exit_code=2) from error
    except Exception as error:  # a template the endpoint's check cannot format
        raise CliError(
            f"--template: {template!r} cannot be filled with a label ({type(error).__name__}); "
            "expected e.g. 'This example is {}.'",
            exit_code=2,
        ) from error
    return {"inputs": text, "parameters": parameters}


def invocations_url(url: str) -> str:
    """Accepts a server root (http://localhost:8080, or localhost:8080) or the /invocations URL."""
    base = url.strip().rstrip("/")
    if "://" not in base:
        base = "http://" + base
    if not base.startswith(("http://", "https://")) or base.split("://", 1)[1] == "":
        raise CliError(f"--local: {url!r} is not an http(s) URL such as http://localhost:8080")
    return base if base.endswith("/invocations") else base + "/invocations"


def _server_message(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return text
    if isinstance(document, dict) and isinstance(document.get("message"), str):
        return str(document["message"])
    return text


def post_local(*, url: str, body: bytes, content_type: str, timeout_s: float = 300.0) -> bytes:
    """POSTs to a local endpoint's /invocations and returns the raw response body."""
    target = invocations_url(url)
    request = urllib.request.Request(
        target,
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "Accept": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as error:
        message = _server_message(error.read())
        raise CliError(f"{target} answered HTTP {error.code}: {message}") from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CliError(
            f"cannot reach the local endpoint at {target}: {reason} "
            "(start one with `zstc local serve`)"
        ) from error


def invoke_sagemaker(*, runtime: Any, endpoint_name: str, body: bytes, content_type: str) -> bytes:
    """Calls sagemaker-runtime InvokeEndpoint and returns the raw response body."""
    try:
        response = runtime.invoke_endpoint(
            EndpointName=endpoint_name, ContentType=content_type, Accept=content_type, Body=body
        )
    except ClientError as error:
        details = error.response.get("Error", {})
        # ModelError carries the container's own answer (e.g. a 400 naming the bad field).
        message = error.response.get("OriginalMessage") or details.get("Message", str(error))
        code = details.get("Code", "error")
        raise CliError(f"endpoint {endpoint_name!r} answered {code}: {message}") from error
    except BotoCoreError as error:
        raise CliError(f"cannot call endpoint {endpoint_name!r}: {error}") from error
    return bytes(response["Body"].read())


def classify(
    *,
    request: dict[str, Any],
    local_url: str | None = None,
    runtime: Any = None,
    endpoint_name: str | None = None,
) -> Any:
    """Sends one JSON request to the local URL when given, otherwise to the SageMaker endpoint."""
    body = json.dumps(request).encode("utf-8")
    if local_url is not None:
        raw = post_local(url=local_url, body=body, content_type=JSON)
        where = invocations_url(local_url)
    else:
        if runtime is None or endpoint_name is None:
            raise ValueError("classify needs local_url, or runtime and endpoint_name")
        raw = invoke_sagemaker(
            runtime=runtime, endpoint_name=endpoint_name, body=body, content_type=JSON
        )
        where = f"endpoint {endpoint_name!r}"
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise CliError(f"{where} returned a response that is not JSON: {raw[:200]!r}") from error

"""Sends classification requests to the SageMaker endpoint or to a local endpoint over HTTP.

Both speak the same contract (DESIGN.md): a JSON request with "inputs" and "parameters", or
application/jsonlines with one record per line. Errors come back as CliError with the server's
own message, never a stack trace.
"""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from zstc.cli_errors import CliError

if TYPE_CHECKING:
    from zstc.stack_outputs import EndpointTarget

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


# How long `zstc classify` waits for an async answer by default: an endpoint at zero instances
# first scales out (the HasBacklogWithoutCapacity alarm needs two minutes, then an instance
# starts and loads the model), which takes several minutes.
DEFAULT_ASYNC_TIMEOUT_S = 900.0
# Polls of the answer object start fast (a warm endpoint answers in about a second) and slow
# down to this interval.
ASYNC_POLL_INTERVAL_S = (0.5, 10.0)
# How long SageMaker may work on one async request before marking it failed: the API's maximum
# (InvokeEndpointAsync InvocationTimeoutSeconds, 1 to 3600 in botocore's sagemaker-runtime
# model; 900 when left out), the same hour the async model server waits
# (stacks/async_endpoint.py), so a large JSON Lines request is not cut at 15 minutes.
ASYNC_INVOCATION_TIMEOUT_S = 3600
# S3 answers these for an object that is not there (yet).
_MISSING_OBJECT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def _split_s3_url(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


class AsyncEndpointRuntime:
    """sagemaker-runtime's invoke_endpoint for an asynchronous endpoint.

    Each call uploads the body under the stack's async input prefix, calls InvokeEndpointAsync
    with its location, then waits for the answer object (OutputLocation) or the failure object
    (FailureLocation) that SageMaker writes
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpointAsync.html),
    and returns the answer as InvokeEndpoint would. So every caller of invoke_sagemaker (classify,
    eval) works against any endpoint mode with the same request contract.
    """

    def __init__(
        self,
        *,
        runtime: Any,
        s3: Any,
        bucket: str,
        input_prefix: str,
        timeout_s: float = DEFAULT_ASYNC_TIMEOUT_S,
        on_wait: Callable[[str], None] | None = None,
        on_done: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.runtime = runtime
        self.s3 = s3
        self.bucket = bucket
        self.input_prefix = input_prefix
        self.timeout_s = timeout_s
        self.on_wait = on_wait
        self.on_done = on_done
        self.clock = clock
        self.sleep = sleep

    def _object(self, url: str) -> bytes | None:
        bucket, key = _split_s3_url(url)
        try:
            return bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) in _MISSING_OBJECT_CODES:
                return None
            raise

    def invoke_endpoint(
        self, *, EndpointName: str, ContentType: str, Accept: str, Body: bytes
    ) -> dict[str, Any]:
        extension = "jsonl" if ContentType == JSON_LINES else "json"
        key = f"{self.input_prefix}{uuid.uuid4().hex}.{extension}"
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=Body, ContentType=ContentType)
        except (ClientError, BotoCoreError) as error:
            raise CliError(
                f"cannot upload the async request to s3://{self.bucket}/{key}: {error}"
            ) from error
        response = self.runtime.invoke_endpoint_async(
            EndpointName=EndpointName,
            InputLocation=f"s3://{self.bucket}/{key}",
            ContentType=ContentType,
            Accept=Accept,
            InvocationTimeoutSeconds=ASYNC_INVOCATION_TIMEOUT_S,
        )
        try:
            return self._wait(response, endpoint_name=EndpointName, accept=Accept)
        finally:
            if self.on_done is not None:
                self.on_done()

    def _wait(self, response: dict[str, Any], *, endpoint_name: str, accept: str) -> dict[str, Any]:
        output_url = response["OutputLocation"]
        failure_url = response.get("FailureLocation")
        started = self.clock()
        interval = ASYNC_POLL_INTERVAL_S[0]
        while True:
            answer = self._object(output_url)
            if answer is not None:
                return {"Body": io.BytesIO(answer), "ContentType": accept}
            if failure_url:
                failure = self._object(failure_url)
                if failure is not None:
                    message = failure.decode("utf-8", errors="replace").strip()
                    raise CliError(
                        f"endpoint {endpoint_name!r} failed the async request "
                        f"{response.get('InferenceId', '')}: {_server_message(failure) or message}"
                    )
            elapsed = self.clock() - started
            if elapsed >= self.timeout_s:
                raise CliError(
                    f"endpoint {endpoint_name!r} gave no async answer within "
                    f"{self.timeout_s:g} s; the request stays queued and its answer will appear at "
                    f"{output_url} (raise --async-timeout to wait longer)"
                )
            if self.on_wait is not None:
                self.on_wait(
                    f"waiting for the async answer ({elapsed:.0f} s of {self.timeout_s:g} s; "
                    "an endpoint at zero instances first scales out)"
                )
            self.sleep(interval)
            interval = min(interval * 2, ASYNC_POLL_INTERVAL_S[1])


def endpoint_runtime(
    *,
    target: EndpointTarget,
    client: Callable[[str], Any],
    timeout_s: float = DEFAULT_ASYNC_TIMEOUT_S,
    on_wait: Callable[[str], None] | None = None,
    on_done: Callable[[], None] | None = None,
) -> Any:
    """What invoke_sagemaker calls for this endpoint: sagemaker-runtime itself for realtime and
    serverless endpoints (both answer InvokeEndpoint), AsyncEndpointRuntime for async ones."""
    runtime = client("sagemaker-runtime")
    if target.mode != "async":
        return runtime
    if target.bucket_name is None or target.async_input_prefix is None:
        raise CliError(f"endpoint {target.name!r} is async, but its stack names no input prefix")
    return AsyncEndpointRuntime(
        runtime=runtime,
        s3=client("s3"),
        bucket=target.bucket_name,
        input_prefix=target.async_input_prefix,
        timeout_s=timeout_s,
        on_wait=on_wait,
        on_done=on_done,
    )

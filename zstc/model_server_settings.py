"""The model server settings of the serving container: one definition for the stacks and local runs.

The Hugging Face container starts multi-model-server (MMS) 1.1.11 through the SageMaker inference
toolkit, which turns these environment variables into MMS properties
(aws/sagemaker-inference-toolkit, src/sagemaker_inference/environment.py and
model_server.py::_generate_mms_config_properties):
- SAGEMAKER_MODEL_SERVER_TIMEOUT -> default_response_timeout, which MMS 1.1.11 reads as MINUTES
  (awslabs/multi-model-server v1.1.11, frontend/server/src/main/java/com/amazonaws/ml/mms/util/
  ConfigManager.java::getDefaultResponseTimeoutSeconds multiplies it by 60, a bug it keeps for
  compatibility);
- SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS -> default_response_timeout_seconds, in seconds, which
  takes precedence over the minutes property when set (same method; toolkit >= 1.9.3);
- SAGEMAKER_MODEL_SERVER_WORKERS -> default_workers_per_model.

The timeout bounds how long the one worker may take to answer a request AND to load the model:
MMS waits for the worker's reply to its LOAD command with the same timeout
(wlm/WorkerThread.java::runWorker). When it runs out, MMS answers HTTP 500 "Worker died.",
kills the worker and starts a new one, which loads the model again.

Real-time: SageMaker gives a container 60 seconds to answer an invocation
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html),
so a longer model server timeout would only let an abandoned request hold the worker while
every other request queues behind it.

Batch: the transform job's ModelClientConfig.InvocationsTimeoutInSeconds is at most 3600
(botocore/data/sagemaker/2017-07-24/service-2.json, shape InvocationsTimeoutInSeconds), and the
model server gives up at the same moment as the job, so both use one number.

Batch responses: MMS refuses a worker's response larger than max_response_size, 6,553,500 bytes
by default (ConfigManager.getMaxResponseSize: `getIntProperty(MMS_MAX_RESPONSE_SIZE, 6553500)`;
WorkerThread decodes the worker's reply with ModelResponseDecoder(maxResponseSize), which fails
with "Message size exceed limit"), and the client gets HTTP 500 "Worker died.". The toolkit sets
the request limit from the payload size but never the response limit. The batch model
therefore sets MMS_MAX_RESPONSE_SIZE: MMS reads MMS_* variables over its properties because
the toolkit's default-mms.properties enables enable_envvars_config (ConfigManager.setSystemVars).
The worker refuses, with a 400 naming the limit, any answer that would still exceed it
(inference_code/response_encoding.py), so no answer kills the worker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from zstc.bundled_code import request_contract

# One source of truth for how much an error line may grow: the request contract's.
MAX_ERROR_LINE_EXPANSION: int = request_contract().MAX_ERROR_LINE_EXPANSION

# SageMaker cuts a real-time invocation at 60 s (InvokeEndpoint API reference).
REAL_TIME_INVOCATION_LIMIT_SECONDS = 60
# The CreateTransformJob API's maximum for ModelClientConfig.InvocationsTimeoutInSeconds.
MAX_TRANSFORM_INVOCATION_TIMEOUT_SECONDS = 3600

# The batch response limit, from the worst case: a payload of nothing but error lines. The
# request contract bounds an error line at MAX_ERROR_LINE_EXPANSION (33) times its input line,
# newlines included; a blank line sets that factor (1 byte in, {"id":null,"error":"blank
# line"} and a newline, 33 bytes, out). A successful line is smaller relative to its input:
# at most about 9 times, for one-character labels. MaxPayloadInMB's maximum is 100, so the
# worst answer is 33 x 100 MiB = 3,460,300,800 bytes. MMS parses the limit as a Java int
# (Integer.parseInt in ConfigManager.getIntProperty; a larger value stops MMS at start-up), so
# the limit is the int maximum, 2,147,483,647 bytes: every answer to a payload of up to 62 MiB
# fits, including the defaults (1 MB for NLI, 6 MB for embedding models: at most 33 MiB and
# 198 MiB of error lines). Above 62 MiB, a payload of mostly error lines gets the worker's 400
# naming the limit, which fails that file as any failed payload does; the worker lives on.
JAVA_INT_MAX = 2**31 - 1
MAX_TRANSFORM_PAYLOAD_MB = 100
WORST_CASE_BATCH_RESPONSE_BYTES = MAX_ERROR_LINE_EXPANSION * MAX_TRANSFORM_PAYLOAD_MB * 1024 * 1024
MAX_BATCH_RESPONSE_BYTES = min(JAVA_INT_MAX, WORST_CASE_BATCH_RESPONSE_BYTES)

TIMEOUT_SECONDS_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS"
TIMEOUT_MINUTES_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
MAX_RESPONSE_SIZE_ENV = "MMS_MAX_RESPONSE_SIZE"


@dataclass(frozen=True, kw_only=True)
class ModelServerSettings:
    """What the serving container's model server is told through its environment."""

    timeout_seconds: int
    # One worker per instance. On a GPU each extra worker would load another copy of the model
    # into the same memory; on a CPU each would run torch on every core and the workers would
    # fight over them. One worker batches each request's pairs itself.
    workers: int = 1
    # None leaves MMS's default of 6,553,500 bytes, as for the real-time endpoint, whose
    # responses SageMaker limits to 6 MB anyway.
    max_response_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.timeout_seconds < 1:
            raise ValueError(f"timeout_seconds: {self.timeout_seconds} must be at least 1")
        if self.workers < 1:
            raise ValueError(f"workers: {self.workers} must be at least 1")

    @property
    def timeout_minutes(self) -> int:
        """The minutes variable, rounded up, for any reader that only knows that one."""
        return math.ceil(self.timeout_seconds / 60)

    def environment(self) -> dict[str, str]:
        """The container environment variables that carry these settings."""
        environment = {
            TIMEOUT_SECONDS_ENV: str(self.timeout_seconds),
            TIMEOUT_MINUTES_ENV: str(self.timeout_minutes),
            WORKERS_ENV: str(self.workers),
        }
        if self.max_response_bytes is not None:
            environment[MAX_RESPONSE_SIZE_ENV] = str(self.max_response_bytes)
        return environment


# The real-time endpoint: the whole of SageMaker's invocation limit, and no more. Loading the
# model (and downloading it, in hub mode) must also fit in it; see the module docstring.
REAL_TIME_MODEL_SERVER = ModelServerSettings(timeout_seconds=REAL_TIME_INVOCATION_LIMIT_SECONDS)
# Batch transform: the API's maximum, shared with the job's InvocationsTimeoutInSeconds. The
# payload size defaults are chosen so that one payload finishes well inside it.
BATCH_MODEL_SERVER = ModelServerSettings(
    timeout_seconds=MAX_TRANSFORM_INVOCATION_TIMEOUT_SECONDS,
    max_response_bytes=MAX_BATCH_RESPONSE_BYTES,
)


def transform_job_environment(*, max_payload_mb: int) -> dict[str, str]:
    """What SageMaker adds to the container's environment in a batch transform job.

    "SAGEMAKER_MAX_PAYLOAD_IN_MB is set to the largest size payload that will be sent to the
    container via HTTP" (https://docs.aws.amazon.com/sagemaker/latest/dg/
    your-algorithms-batch-code.html); the toolkit turns it into MMS's max_request_size.
    """
    if max_payload_mb < 1:
        raise ValueError(f"max_payload_mb: {max_payload_mb} must be at least 1")
    return {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(max_payload_mb)}

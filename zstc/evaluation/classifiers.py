"""Where `zstc eval` classifies: every place answers the same application/jsonlines request.

- InProcessInference: the model directory's own code/inference.py, called in this process the
  way the Hugging Face toolkit calls it in the container (model_fn once, then input_fn ->
  predict_fn -> output_fn per request; HuggingFaceHandlerService.transform_fn in
  aws/sagemaker-huggingface-inference-toolkit,
  src/sagemaker_huggingface_inference_toolkit/handler_service.py);
- LocalEndpointClassifier: a running `zstc local serve` (the container's model server);
- SageMakerEndpointClassifier: the deployed endpoint, through sagemaker-runtime InvokeEndpoint.

All three take one JSON Lines body and return the JSON Lines answer, one line per request line.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from zstc.cli_errors import CliError
from zstc.endpoint_client import JSON_LINES, invocations_url, invoke_sagemaker, post_local


class JsonLinesClassifier(Protocol):
    description: str

    def classify_json_lines(self, body: bytes) -> bytes:
        """The JSON Lines answer to one JSON Lines request."""


class LocalEndpointClassifier:
    def __init__(self, url: str, *, timeout_s: float = 600.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.description = f"local endpoint {invocations_url(url)}"

    def classify_json_lines(self, body: bytes) -> bytes:
        return post_local(
            url=self.url, body=body, content_type=JSON_LINES, timeout_s=self.timeout_s
        )


class SageMakerEndpointClassifier:
    def __init__(self, *, runtime: Any, endpoint_name: str) -> None:
        self.runtime = runtime
        self.endpoint_name = endpoint_name
        self.description = f"endpoint {endpoint_name}"

    def classify_json_lines(self, body: bytes) -> bytes:
        return invoke_sagemaker(
            runtime=self.runtime,
            endpoint_name=self.endpoint_name,
            body=body,
            content_type=JSON_LINES,
        )


class InProcessInference:
    """A model directory laid out like the unpacked model.tar.gz, served by its own code/.

    The inference modules import each other as top-level modules (the toolkit puts code/ on
    sys.path), so each instance imports them under its own code/ and keeps its module objects:
    two models, or a model and the tests' own imports, never share a module by accident.
    """

    def __init__(self, model_dir: Path, *, description: str | None = None) -> None:
        self.model_dir = Path(model_dir).resolve()
        self.code_dir = self.model_dir / "code"
        if not (self.code_dir / "inference.py").is_file():
            raise CliError(f"--model: {self.model_dir} has no code/inference.py", exit_code=2)
        self.description = description or str(self.model_dir)
        self._names = tuple(path.stem for path in self.code_dir.glob("*.py"))
        self._modules: dict[str, ModuleType] = {}
        with self._own_modules():
            try:
                inference = importlib.import_module("inference")
            except ImportError as error:
                from zstc.install_hints import install_command

                raise CliError(
                    f"in-process eval needs the [local] extra ({error.name} is not installed): "
                    f"{install_command('local')}; or classify elsewhere with --local, --endpoint "
                    "or --results",
                    exit_code=2,
                ) from error
            self._modules = {name: sys.modules[name] for name in self._names if name in sys.modules}
            # The toolkit calls model_fn(model_dir) once per worker (handler_service.initialize).
            self._model = inference.model_fn(str(self.model_dir))
        self._inference = inference

    @contextmanager
    def _own_modules(self) -> Iterator[None]:
        saved = {name: sys.modules.pop(name) for name in self._names if name in sys.modules}
        sys.modules.update(self._modules)
        sys.path.insert(0, str(self.code_dir))
        try:
            yield
        finally:
            sys.path.remove(str(self.code_dir))
            for name in self._names:
                sys.modules.pop(name, None)
            sys.modules.update(saved)

    def classify_json_lines(self, body: bytes) -> bytes:
        with self._own_modules():
            try:
                request = self._inference.input_fn(body, JSON_LINES)
                prediction = self._inference.predict_fn(request, self._model)
                answer = self._inference.output_fn(prediction, JSON_LINES)
            except ValueError as error:
                # What the toolkit would have answered as HTTP 400.
                raise CliError(
                    f"{self.description}: the inference code refused the request: {error}"
                ) from error
        return answer.encode("utf-8") if isinstance(answer, str) else bytes(answer)

"""Validates every CreateTransformJob request against botocore's SageMaker service model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import regex
from botocore.model import Shape
from botocore.validate import validate_parameters


def _shape_problems(value: Any, shape: Shape, path: str) -> list[str]:
    """What botocore's own validator leaves out: patterns, enums, maximum lengths and values."""
    problems: list[str] = []
    metadata = shape.metadata
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value:
                problems += _shape_problems(value[name], member, f"{path}.{name}")
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            problems += _shape_problems(item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "map":
        for map_key, item in value.items():
            problems += _shape_problems(item, shape.value, f"{path}[{map_key}]")
    elif shape.type_name == "string":
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.enum}")
        if "max" in metadata and len(value) > metadata["max"]:
            problems.append(f"{path}: {value!r} is longer than {metadata['max']}")
        # The service matches the whole value; the patterns use Java syntax such as \p{L},
        # which the `regex` package understands.
        if "pattern" in metadata and not regex.fullmatch(metadata["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {metadata['pattern']}")
    elif shape.type_name in ("integer", "long"):
        if "max" in metadata and value > metadata["max"]:
            problems.append(f"{path}: {value} is above {metadata['max']}")
        if "min" in metadata and value < metadata["min"]:
            problems.append(f"{path}: {value} is below {metadata['min']}")
    return problems


@dataclass
class RequestValidator:
    """Checks each CreateTransformJob request a client sends, and remembers it."""

    requests: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        # Raises ParamValidationError on a missing required member or a wrong type.
        validate_parameters(params, model.input_shape)
        problems = _shape_problems(params, model.input_shape, "CreateTransformJob")
        assert not problems, "\n".join(problems)
        self.requests.append(json.loads(json.dumps(params)))

    def attach(self, client: Any) -> Any:
        client.meta.events.register(
            "before-parameter-build.sagemaker.CreateTransformJob", self, unique_id=f"v{id(self)}"
        )
        return client

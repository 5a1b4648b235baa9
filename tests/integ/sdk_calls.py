"""Reads the assertion stack's SDK calls and checks each against botocore's service model.

The assertion provider runs in Node.js with the AWS SDK for JavaScript v3. It turns the service
name into a v3 client package with the adapter's own tables (aws-cdk
packages/@aws-cdk/aws-custom-resource-sdk-adapter: sdk-info.ts normalizeServiceName and
normalizeActionName, sdk-v2-to-v3.json, sdk-v3-metadata.json), which ship inside the
integ-tests-alpha package's provider bundle; they are read from there, not copied. Each v3
package is named after the service's serviceId (lowercase, spaces as dashes), which is how the
botocore model is found. Parameters are decoded as the provider decodes them
(providers/lambda-handler/utils.ts decodeParameters), except that a value that is not JSON is an
error here rather than passed on as a string.
"""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
from botocore.model import OperationNotFoundError
from botocore.validate import ParamValidator

SDK_CALL_TYPE_PREFIX = "Custom::DeployAssert@SdkCall"
BUNDLE_MEMBER = "package/lib/assertions/providers/lambda-handler.bundle/index.js"
# What a reference to another resource stands for: any string the service would accept.
PLACEHOLDER = "TOKEN"
_TABLE_LINE = re.compile(r'^\s*"?([a-z0-9-]+)"?: "([a-z0-9-]+)",?$')
_METADATA_ENTRY = re.compile(r'^\s*"?([a-z0-9-]+)"?: \{\s*\n\s*iamPrefix: "([a-z0-9-]+)"', re.M)


@dataclass(frozen=True)
class SdkCall:
    logical_id: str
    service: str
    api: str
    parameters: dict[str, Any]


def _bundle_text() -> str:
    import aws_cdk.integ_tests_alpha._jsii as jsii_package

    package_dir = Path(jsii_package.__file__).parent
    (tarball,) = package_dir.glob("*.jsii.tgz")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(BUNDLE_MEMBER)
        assert member is not None, f"{BUNDLE_MEMBER} missing from {tarball}"
        return member.read().decode("utf-8")


def _json_module_block(bundle: str, module_path: str) -> str:
    start = bundle.index(f'"{module_path}"(exports2, module2) {{')
    end = bundle.index("\n    };\n", start)
    return bundle[start:end]


@cache
def adapter_tables() -> tuple[dict[str, str], dict[str, str]]:
    """(v2 name -> v3 package name, v3 package name -> IAM prefix), from the provider bundle."""
    bundle = _bundle_text()
    v2_block = _json_module_block(
        bundle, "../aws-custom-resource-sdk-adapter/lib/sdk-v2-to-v3.json"
    )
    v2_to_v3 = {
        match.group(1): match.group(2)
        for line in v2_block.splitlines()
        if (match := _TABLE_LINE.match(line))
    }
    metadata_block = _json_module_block(
        bundle, "../aws-custom-resource-sdk-adapter/lib/sdk-v3-metadata.json"
    )
    iam_prefixes = dict(_METADATA_ENTRY.findall(metadata_block))
    return v2_to_v3, iam_prefixes


def v3_package_name(service: str) -> str:
    """normalizeServiceName: lowercase, no @aws-sdk/client- prefix, then the v2 -> v3 table."""
    name = service.lower().removeprefix("@aws-sdk/client-")
    v2_to_v3, _ = adapter_tables()
    return v2_to_v3.get(name, name)


def operation_name(api: str) -> str:
    """normalizeActionName for the camelCase names the calls use: InvokeEndpoint."""
    return api[0].upper() + api[1:]


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


def _service_id_slug(botocore_name: str) -> str:
    loader = _session().get_component("data_loader")
    service_id: str = loader.load_service_model(botocore_name, "service-2")["metadata"]["serviceId"]
    return service_id.lower().replace(" ", "-")


def botocore_service_name(service: str) -> str:
    """The botocore service whose serviceId names the v3 package the provider would load."""
    package = v3_package_name(service)
    _, iam_prefixes = adapter_tables()
    available = set(_session().get_available_services())
    candidates = [package, iam_prefixes.get(package, ""), package.replace("-", "")]
    for candidate in candidates:
        if candidate in available and _service_id_slug(candidate) == package:
            return candidate
    raise LookupError(
        f"{service!r}: no botocore service has the serviceId of @aws-sdk/client-{package}"
    )


def _resolve_text(value: Any) -> str:
    """A CloudFormation value as text, with every reference replaced by the placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, arguments),) = value.items()
        if function == "Fn::Join":
            separator, parts = arguments
            return str(separator).join(_resolve_text(part) for part in parts)
        if function in ("Ref", "Fn::GetAtt", "Fn::ImportValue", "Fn::Select", "Fn::Sub"):
            return PLACEHOLDER
    raise ValueError(f"cannot resolve {value!r}")


def decode_parameters(encoded: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for name, value in encoded.items():
        if isinstance(value, dict) and value.get("$type") == "ArrayBufferView":
            decoded[name] = str(value["string"]).encode("utf-8")
            continue
        text = _resolve_text(value)
        try:
            decoded[name] = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"parameter {name}: {text!r} is not JSON-encoded") from error
    return decoded


def sdk_calls(template: dict[str, Any]) -> list[SdkCall]:
    calls = []
    for logical_id, resource in template.get("Resources", {}).items():
        if not resource["Type"].startswith(SDK_CALL_TYPE_PREFIX):
            continue
        properties = resource["Properties"]
        calls.append(
            SdkCall(
                logical_id=logical_id,
                service=properties["service"],
                api=properties["api"],
                parameters=decode_parameters(properties.get("parameters") or {}),
            )
        )
    return calls


def validation_errors(call: SdkCall) -> list[str]:
    """What botocore's service model says is wrong with the call; empty when it is valid."""
    try:
        service_name = botocore_service_name(call.service)
    except LookupError as error:
        return [str(error)]
    model = _session().get_service_model(service_name)
    name = operation_name(call.api)
    try:
        operation = model.operation_model(name)
    except OperationNotFoundError:
        return [f"{service_name} has no operation {name}"]
    report = ParamValidator().validate(call.parameters, operation.input_shape)
    return [report.generate_report()] if report.has_errors() else []

"""The zstc project the client works for: its cdk.json, found the same way for every install.

One rule, whatever installed zstc (the checkout's editable venv, `pip install <checkout>`, pipx):
the project is the nearest directory, from the working directory upward, that holds a cdk.json,
as the CDK CLI itself reads ./cdk.json. Its "context" is validated by the app's own
configuration code (stacks/config.py, installed with the client: zstc/bundled_code.py), so the
client's defaults (batch payload limit, pair cap) are the values `cdk deploy` would use.
Without a cdk.json the app's defaults apply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zstc.cli_errors import CliError

CDK_JSON = "cdk.json"
# The configuration keys the client reads. Only these are validated here: other keys (a local
# model_weights directory, for one) are checked relative to the project when it deploys.
CLIENT_KEYS = (
    "stack_prefix",
    "model_kind",
    "max_pairs_per_request",
    "max_candidate_labels",
    "batch_max_payload_mb",
    "batch_max_concurrent_transforms",
)


def find_cdk_json(start: Path | None = None) -> Path | None:
    """The nearest cdk.json from `start` (default: the working directory) upward, or None."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / CDK_JSON
        if candidate.is_file():
            return candidate
    return None


def read_context(cdk_json: Path) -> dict[str, Any]:
    """The "context" object of a cdk.json ({} when it has none)."""
    try:
        document = json.loads(cdk_json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CliError(f"{cdk_json}: cannot read the CDK context ({error})") from error
    context = document.get("context", {}) if isinstance(document, dict) else {}
    return context if isinstance(context, dict) else {}


@dataclass(frozen=True, kw_only=True)
class ProjectConfig:
    """What the client needs from the project's configuration, and where it came from."""

    # The app's validated ZstcConfig (stacks/config.py) for the client's keys.
    config: Any
    # The cdk.json read, or None when the app's defaults apply.
    cdk_json: Path | None

    @property
    def origin(self) -> str:
        return str(self.cdk_json) if self.cdk_json else "the defaults (no cdk.json found)"


def project_config(*, start: Path | None = None) -> ProjectConfig:
    """The project's configuration (the app's defaults where no cdk.json is found)."""
    from zstc.bundled_code import app_config

    config_module = app_config()
    cdk_json = find_cdk_json(start)
    context = read_context(cdk_json) if cdk_json is not None else {}
    wanted = {key: value for key, value in context.items() if key in CLIENT_KEYS}
    try:
        config = config_module.load_config(wanted)
    except config_module.ConfigError as error:
        raise CliError(f"{cdk_json}: {error}", exit_code=2) from error
    return ProjectConfig(config=config, cdk_json=cdk_json)

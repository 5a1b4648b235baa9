#!/usr/bin/env python3
"""Regenerates stacks/image_uri_mapping.json from the sagemaker SDK's image registry.

The registry account of the Hugging Face inference image differs by region, and so does the
DNS suffix outside the commercial partition; hand-typing them goes stale and wrong. Run this after
upgrading sagemaker-core or changing the image versions in stacks/container_image.py, and commit
the result: `make synth` reads the committed JSON and never needs the SDK.

    .venv/bin/python scripts/generate_image_uri_mapping.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from stacks.container_image import (  # noqa: E402
    IMAGE_URI_MAPPING_PATH,
    PY_VERSION,
    PYTORCH_VERSION,
    TRANSFORMERS_VERSION,
)

# Any instance type of the right processor: only GPU vs CPU matters for the image tag.
SAMPLE_INSTANCE_TYPES = {"gpu": "ml.g4dn.xlarge", "cpu": "ml.c7i.xlarge"}


def retrieve_image_uri(*, region: str, instance_type: str) -> str:
    """The image URI the sagemaker SDK gives for zstc's image versions."""
    from sagemaker.core import image_uris

    uri: str = image_uris.retrieve(
        "huggingface",
        region=region,
        version=TRANSFORMERS_VERSION,
        base_framework_version=f"pytorch{PYTORCH_VERSION}",
        py_version=PY_VERSION,
        instance_type=instance_type,
        image_scope="inference",
    )
    return uri


def listed_regions() -> list[str]:
    """Every region the SDK's registry lists for zstc's image versions."""
    from sagemaker.core import image_uris

    config = image_uris.config_for_framework("huggingface")["inference"]
    versions = config["versions"][TRANSFORMERS_VERSION][f"pytorch{PYTORCH_VERSION}"]
    return sorted(versions["registries"])


def _split_uri(uri: str, *, region: str) -> tuple[str, str, str, str]:
    """'<account>.dkr.ecr.<region>.<suffix>/<repository>:<tag>' -> its four parts."""
    host, _, repository_and_tag = uri.partition("/")
    account, _, rest = host.partition(".dkr.ecr.")
    region_prefix = f"{region}."
    if not rest.startswith(region_prefix):
        raise ValueError(f"image URI {uri!r} does not name region {region!r} in its host")
    repository, _, tag = repository_and_tag.partition(":")
    return account, rest[len(region_prefix) :], repository, tag


def build_mapping() -> dict[str, Any]:
    regions: dict[str, dict[str, str]] = {}
    repositories: set[str] = set()
    tags: dict[str, set[str]] = {processor: set() for processor in SAMPLE_INSTANCE_TYPES}
    for region in listed_regions():
        entries = set()
        for processor, instance_type in SAMPLE_INSTANCE_TYPES.items():
            uri = retrieve_image_uri(region=region, instance_type=instance_type)
            account, suffix, repository, tag = _split_uri(uri, region=region)
            entries.add((account, suffix))
            repositories.add(repository)
            tags[processor].add(tag)
        if len(entries) != 1:
            raise ValueError(f"{region}: GPU and CPU images come from different registries")
        ((account, suffix),) = entries
        regions[region] = {"account": account, "domain_suffix": suffix}
    # The template builds every URI from one repository and one tag per processor.
    if len(repositories) != 1 or any(len(found) != 1 for found in tags.values()):
        raise ValueError(f"regions disagree on repository {repositories} or tags {tags}")
    return {
        "_generated_by": (
            "scripts/generate_image_uri_mapping.py from sagemaker-core "
            f"{metadata.version('sagemaker-core')}; do not edit by hand"
        ),
        "repository": repositories.pop(),
        "image_tags": {processor: found.pop() for processor, found in tags.items()},
        "regions": regions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="fail if the committed JSON is out of date"
    )
    args = parser.parse_args(argv)
    text = json.dumps(build_mapping(), indent=2, sort_keys=True) + "\n"
    if args.check:
        current = IMAGE_URI_MAPPING_PATH.read_text(encoding="utf-8")
        if current != text:
            print(f"{IMAGE_URI_MAPPING_PATH} is out of date; rerun {__file__}", file=sys.stderr)
            return 1
        return 0
    IMAGE_URI_MAPPING_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {IMAGE_URI_MAPPING_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Which SageMaker instance types accept a KMS key for their storage volume."""

from __future__ import annotations

import re

from stacks.config import ConfigError

# Families with local NVMe instance storage whose name does not say so with a "d". SageMaker
# rejects a KMS key for the storage volume on these; their storage is hardware-encrypted.
_INSTANCE_STORAGE_FAMILIES = frozenset({"g5", "g6", "g6e", "p5", "p5e", "p5en"})
# "d" after the generation number marks instance storage: m5d, c6id, r5dn, g4dn, p4d, p4de, p3dn.
_D_VARIANT = re.compile(r"^[a-z]+\d+[a-z]*d[a-z]*$")


def instance_family(instance_type: str) -> str:
    """The family part of an instance type: "ml.g4dn.xlarge" -> "g4dn"."""
    parts = instance_type.split(".")
    if len(parts) != 3 or parts[0] != "ml" or not parts[1]:
        raise ConfigError(
            f"instance type: {instance_type!r} is not valid; expected ml.<family>.<size>, "
            "such as ml.g4dn.xlarge"
        )
    return parts[1]


def supports_volume_kms_key(instance_type: str) -> bool:
    """Whether SageMaker accepts a KMS key for this instance type's storage volume.

    Used for EndpointConfig KmsKeyId and transform job VolumeKmsKeyId: both are rejected for
    instance types with local NVMe instance storage (ml.g4dn, ml.g5, ml.p4d, ml.*d.* ...).
    """
    family = instance_family(instance_type)
    return family not in _INSTANCE_STORAGE_FAMILIES and not _D_VARIANT.fullmatch(family)

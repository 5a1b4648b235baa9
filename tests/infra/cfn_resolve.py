"""Evaluates the few intrinsic functions zstc's templates build strings with, for one region."""

from __future__ import annotations

from typing import Any

# Region prefix -> (partition, URL suffix); longest prefixes first.
_PARTITIONS = (
    ("us-isob-", "aws-iso-b", "sc2s.sgov.gov"),
    ("us-iso-", "aws-iso", "c2s.ic.gov"),
    ("us-gov-", "aws-us-gov", "amazonaws.com"),
    ("cn-", "aws-cn", "amazonaws.com.cn"),
)


def partition_of(region: str) -> tuple[str, str]:
    """(partition, URL suffix) of a region."""
    for prefix, partition, suffix in _PARTITIONS:
        if region.startswith(prefix):
            return partition, suffix
    return "aws", "amazonaws.com"


def resolve(
    value: Any, *, template: dict[str, Any], region: str, account: str | None = None
) -> Any:
    """Pseudo parameters, Fn::FindInMap and Fn::Join, as CloudFormation would.

    AWS::AccountId resolves only when an account is given.
    """
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list):
        return [resolve(item, template=template, region=region, account=account) for item in value]
    if "Ref" in value:
        partition, url_suffix = partition_of(region)
        pseudo = {
            "AWS::Region": region,
            "AWS::Partition": partition,
            "AWS::URLSuffix": url_suffix,
        }
        if account is not None:
            pseudo["AWS::AccountId"] = account
        if value["Ref"] not in pseudo:
            raise ValueError(f"cannot resolve Ref {value['Ref']!r} offline")
        return pseudo[value["Ref"]]
    if "Fn::FindInMap" in value:
        name, top, second = (
            resolve(part, template=template, region=region, account=account)
            for part in value["Fn::FindInMap"]
        )
        return template["Mappings"][name][top][second]
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(
            str(resolve(p, template=template, region=region, account=account)) for p in parts
        )
    raise ValueError(f"cannot resolve {value!r} offline")

"""CloudWatch Logs retention from config's number of days."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

from stacks.config import LOG_RETENTION_DAYS

# The CDK enum in the order of config.LOG_RETENTION_DAYS (1, 3, 5, 7, 14, 30, ... 3653 days).
_RETENTION_BY_DAYS = dict(
    zip(
        LOG_RETENTION_DAYS,
        (
            logs.RetentionDays.ONE_DAY,
            logs.RetentionDays.THREE_DAYS,
            logs.RetentionDays.FIVE_DAYS,
            logs.RetentionDays.ONE_WEEK,
            logs.RetentionDays.TWO_WEEKS,
            logs.RetentionDays.ONE_MONTH,
            logs.RetentionDays.TWO_MONTHS,
            logs.RetentionDays.THREE_MONTHS,
            logs.RetentionDays.FOUR_MONTHS,
            logs.RetentionDays.FIVE_MONTHS,
            logs.RetentionDays.SIX_MONTHS,
            logs.RetentionDays.ONE_YEAR,
            logs.RetentionDays.THIRTEEN_MONTHS,
            logs.RetentionDays.EIGHTEEN_MONTHS,
            logs.RetentionDays.TWO_YEARS,
            logs.RetentionDays.FIVE_YEARS,
            logs.RetentionDays.TEN_YEARS,
        ),
        strict=True,
    )
)


def retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for log_retention_days (already validated by config)."""
    try:
        return _RETENTION_BY_DAYS[days]
    except KeyError:
        allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
        raise ValueError(
            f"log_retention_days: {days} is not allowed; expected one of {allowed}"
        ) from None

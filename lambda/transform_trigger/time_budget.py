"""When the trigger stops taking new records, so that an invocation never times out.

A Lambda that times out returns its whole SQS batch: every message comes back, the same large
record times out again, and after the queue's receive limit all of them (good uploads
included) land in the dead-letter queue
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html). So before each
record the trigger reads the time left (`context.get_remaining_time_in_millis()`, the Lambda
context object: https://docs.aws.amazon.com/lambda/latest/dg/python-context.html) and starts
the record only if at least `record_ms` are left: the most that one record may need, that is
the largest accepted input (input_limits.py), with margin. The records it does not start are
returned as SQS batchItemFailures and come back after the queue's visibility timeout.

The rule uses one worst case for every record, not an estimate per record: a dataset's size is
known only after listing it, and a rule that cannot underestimate needs no estimate to be right.
The stack sizes the function timeout above `record_ms` (stacks/trigger_budget.py), so the first
record of every invocation always starts and every invocation makes progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class RemainingTime(Protocol):
    """The part of the Lambda context object the budget reads."""

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True, kw_only=True)
class TimeBudget:
    # The most that handling one record may take, in milliseconds.
    record_ms: int

    def allows_a_record(self, context: RemainingTime | None) -> bool:
        """Whether another record may start now. Without a context (a local call) it may."""
        if context is None:
            return True
        return context.get_remaining_time_in_millis() >= self.record_ms

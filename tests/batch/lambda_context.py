"""A Lambda context whose clock runs down as the trigger works, stricter than the real one.

The real context's get_remaining_time_in_millis() counts down the invocation's timeout
(https://docs.aws.amazon.com/lambda/latest/dg/python-context.html). Here time passes only
through what the code does: every AWS API call made by the clients it watches costs
`call_ms`, and every look at the clock costs 1 ms, so the time left never rises and never
stands still. A call made after the time has run out raises InvocationTimedOut, which, like
Lambda stopping the runtime, no `except Exception` in the trigger can swallow: a test that
sees it has found a batch that would have timed out as a whole.
"""

from __future__ import annotations

from typing import Any


class InvocationTimedOut(BaseException):
    """The invocation ran past its timeout: Lambda would have returned the whole batch."""


class RunningDownContext:
    def __init__(self, *, timeout_ms: int, call_ms: int, clients: tuple[Any, ...]) -> None:
        self._left_ms = timeout_ms
        self.call_ms = call_ms
        self.calls: list[str] = []
        self.readings: list[int] = []
        self._hooks: list[tuple[Any, str]] = []
        for client in clients:
            event = f"before-call.{client.meta.service_model.service_name}"
            client.meta.events.register(event, self._spend_on_call, unique_id=f"clock-{id(self)}")
            self._hooks.append((client, event))

    def end(self) -> None:
        """The invocation is over: its clock stops watching the clients (reused by the next)."""
        for client, event in self._hooks:
            client.meta.events.unregister(event, unique_id=f"clock-{id(self)}")
        self._hooks = []

    def _spend_on_call(self, model: Any, **_: Any) -> None:
        if self._left_ms <= 0:
            raise InvocationTimedOut(f"{model.name} called {-self._left_ms} ms past the timeout")
        self._left_ms -= self.call_ms
        self.calls.append(model.name)

    def get_remaining_time_in_millis(self) -> int:
        self._left_ms -= 1
        self.readings.append(self._left_ms)
        return max(self._left_ms, 0)

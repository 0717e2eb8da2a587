"""The one way tests wait for something to happen: poll a predicate until it is truthy, or fail saying what.

    page = wait_until(lambda: slack_page_for("UDRI1"), timeout=5, message="the page to UDRI1")

A predicate that raises stops the wait at once with its exception (e.g. a child process that died).
Waiting for something *not* to happen is not a wait: that stays a sleep of the time it is given to happen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
Item = TypeVar("Item")


class WaitTimeout(AssertionError):
    """What `wait_until` raises when time runs out: a test failure naming what was awaited."""


def wait_until(predicate: Callable[[], T], timeout: float = 5.0, *, interval: float = 0.05,
               message: str | Callable[[], str] = "") -> T:
    """Call `predicate` every `interval` seconds until it returns something truthy, and return that.

    After `timeout` seconds (the predicate is asked once more at the deadline) raise WaitTimeout saying what
    was awaited: `message`, or the text a callable `message` returns then (for details known only at the end,
    such as what was seen instead or a log tail).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval, remaining))
    what = message() if callable(message) else message
    seen = repr(value)
    seen = seen if len(seen) <= 300 else seen[:300] + "…"
    raise WaitTimeout(f"waited {timeout:g}s for {what or getattr(predicate, '__name__', 'a condition')}; "
                      f"last saw {seen}")


def at_least(count: int, items: list[Item]) -> list[Item]:
    """`items` when there are `count` or more, else [] (falsy): for waiting until enough of something arrived."""
    return items if len(items) >= count else []

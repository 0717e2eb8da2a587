"""Races on purpose: calls from several threads at the same instant."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def all_at_once(call: Callable[[], T], threads: int) -> list[T]:
    """Run `call` in `threads` threads released together by a barrier; their results once all have finished.

    An exception in any thread is raised here after all have finished, so a race that crashes fails the test.
    """
    return together(*[call] * threads)


def together(*calls: Callable[[], T]) -> list[T]:
    """Run each of `calls` on its own thread, released together by a barrier; their results in order, once all
    have finished (an exception in any is raised then)."""
    barrier = threading.Barrier(len(calls))
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as error:
            errors.append(error)

    started = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]  # every slot was filled: no thread failed

"""Races on purpose: the same call from several threads at the same instant."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def all_at_once(call: Callable[[], T], threads: int) -> list[T]:
    """Run `call` in `threads` threads released together by a barrier; their results once all have finished.

    An exception in any thread is raised here after all have finished, so a race that crashes fails the test.
    """
    barrier = threading.Barrier(threads)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(call())
        except BaseException as error:
            errors.append(error)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    if errors:
        raise errors[0]
    return results

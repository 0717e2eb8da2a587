"""Bots made by a test are closed with it: their database connections too (PostgreSQL warns otherwise)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.inprocess import make_bot


@pytest.fixture
def new_bot() -> Iterator[Callable[..., tuple[Any, Any]]]:
    """`make_bot` with the same arguments; every engine it opened is disposed when the test ends."""
    made: list[Any] = []

    def make(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        services, app = make_bot(*args, **kwargs)
        made.append(services)
        return services, app

    yield make
    for services in made:
        services.engine.dispose()

"""Shared by the integration tests: the database each storage test runs on, and bots closed with their test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.inprocess import make_bot


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.db'}"
    return request.getfixturevalue("pg_url")


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

"""Fixtures shared by every test: real servers and loopback stand-ins (nothing bot-specific)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixture_http import FixtureServer
from tests.support.servers import FakeDcgmExporter, MotoServer, PostgresServer
from tests.support.slack_recorder import SlackRecorder

MARKERS = {
    "postgres": "needs a real PostgreSQL server",
    "prometheus": "needs real Prometheus/Alertmanager",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the whole session."""
    with PostgresServer(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database for this test (dropped afterwards)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield postgres.create_database(name)
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto_server for the session; use `moto_clean` for a reset state."""
    with MotoServer(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def moto_clean(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The session moto_server, reset, with AWS_* env vars pointing boto3 at it for this test."""
    moto.reset()
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in moto.aws_env().items():
        monkeypatch.setenv(name, value)
    return moto


@pytest.fixture
def slack() -> Iterator[SlackRecorder]:
    """A Slack Web API recorder; pass `slack.base_url` to WebClient(base_url=...)."""
    with SlackRecorder() as recorder:
        yield recorder


@pytest.fixture
def fake_dcgm() -> Iterator[FakeDcgmExporter]:
    """An empty fake DCGM exporter; fill it with `set_lines(...)`."""
    with FakeDcgmExporter() as exporter:
        yield exporter


@pytest.fixture
def http_fixtures() -> Iterator[FixtureServer]:
    """An empty JSON fixture server; add routes with `add(method, path_regex, handler)`."""
    with FixtureServer() as server:
        yield server


@pytest.fixture
def tmp_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh temporary directory that is also the current directory for this test."""
    monkeypatch.chdir(tmp_path)
    return tmp_path

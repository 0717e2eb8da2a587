"""Fixtures shared by every test: real servers and loopback stand-ins (nothing bot-specific)."""

from __future__ import annotations

import itertools
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import astuple, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.orm import Session, sessionmaker

from tests.support import payload_safety
from tests.support.aws_proxy import AwsProxy
from tests.support.fixture_http import FixtureServer
from tests.support.secrets_scan import Leak, LineRecorder, scan_logs
from tests.support.servers import FakeDcgmExporter, MotoServer, PostgresServer
from tests.support.slack_recorder import SlackRecorder

MARKERS = {
    "postgres": "needs a real PostgreSQL server",
    "prometheus": "needs real Prometheus/Alertmanager",
}


# Everything logged in-process during the session, scanned for secrets at the end (see pytest_sessionfinish).
IN_PROCESS_LOG = LineRecorder()
# Libraries as quiet as bot.log.configure_logging makes them in production.
_NOISY_LOGGERS = ("urllib3", "botocore", "kubernetes", "waitress.queue", "apscheduler.executors")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--deep", action="store_true", default=False,
                     help="fuzz tests (tests/fuzz): ten times the generated cases of the CI profile, not derandomized")


def _fuzz_profiles(deep: bool) -> None:
    """The hypothesis profile tests/fuzz runs with ("fuzz"): deterministic in CI, 10x the cases with --deep.
    Only tests/fuzz asks for it; every other hypothesis test keeps hypothesis' defaults."""
    ci = settings(max_examples=10_000, derandomize=True, deadline=None, database=None, print_blob=False,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.large_base_example, HealthCheck.filter_too_much])
    settings.register_profile("fuzz-ci", ci)
    settings.register_profile("fuzz-deep", ci, max_examples=100_000, derandomize=False, print_blob=True)
    settings.register_profile("fuzz", settings.get_profile("fuzz-deep" if deep else "fuzz-ci"))


def pytest_configure(config: pytest.Config) -> None:
    _fuzz_profiles(config.getoption("--deep", default=False))  # a conftest may import this hook alone
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    root = logging.getLogger()
    IN_PROCESS_LOG.attach()
    if root.level > logging.DEBUG or root.level == logging.NOTSET:
        root.setLevel(logging.DEBUG)  # the e2e bot runs with LOG_LEVEL=DEBUG too
        for name in _NOISY_LOGGERS:
            if logging.getLogger(name).level == logging.NOTSET:
                logging.getLogger(name).setLevel(logging.INFO)


# Run order under xdist's --dist loadfile, which hands out whole modules in collection order: the longest module
# first (~2 minutes of replicas and leases), then the e2e modules, which mostly wait on processes and clocks,
# alternating with the modules that keep a core busy (the kill -9 lives, ~2 minutes each, then the fuzz targets);
# then the rest as collected. So two cores are neither
# idle while the e2e tests wait nor shared by every fuzz target at once, and no long module starts last.
_LONGEST = "tests/e2e/test_replicas.py"
_WAITING, _BUSY = "tests/e2e/", ("tests/faults/test_kill_", "tests/fuzz/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):  # serial, or the xdist controller (which collects nothing)
        return
    modules = list(dict.fromkeys(item.nodeid.split("::")[0] for item in items))
    waiting = sorted((m for m in modules if m.startswith(_WAITING)), key=lambda m: m != _LONGEST)
    busy = sorted((m for m in modules if m.startswith(_BUSY)), key=lambda m: not m.startswith(_BUSY[0]))
    paired = [m for pair in itertools.zip_longest(waiting, busy) for m in pair if m is not None]
    rank = {module: index for index, module in enumerate([*paired, *(m for m in modules if m not in paired)])}
    items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])


def pytest_runtest_setup(item: pytest.Item) -> None:
    IN_PROCESS_LOG.attach()  # a test that ran bot.log.configure_logging replaced the root handlers
    payload_safety.set_current_test(item.nodeid)  # before any fixture: a bot it starts may post at once


@pytest.fixture(autouse=True)
def _slack_payloads_are_safe(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test whose Slack calls broadcast or carry a mention the bot did not write."""
    yield
    found = payload_safety.violations(request.node.nodeid)
    if found:
        pytest.fail(payload_safety.report(found), pytrace=False)


@dataclass
class _WorkerFindings:
    leaks: list[Leak] = field(default_factory=list)
    unsafe: list[payload_safety.Violation] = field(default_factory=list)


FROM_WORKERS = _WorkerFindings()  # on the xdist controller: what every finished worker found
_LEAKS, _UNSAFE, _TALLIES = "secret_leaks", "unsafe_payloads", "fuzz_tallies"  # keys of a worker's workeroutput


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session if a secret appears in any bot log or any Slack payload was unsafe (payload_safety).
    Each xdist worker has its own memory, logs and record: it hands its findings and fuzz tallies to the controller
    (pytest_testnodedown), which reports them with its own and sets the exit status."""
    from tests.support.bot_process import LOG_FILES, SECRET_VALUES  # late: only e2e tests start bots

    leaks = scan_logs(LOG_FILES, IN_PROCESS_LOG.lines, SECRET_VALUES)
    unsafe = payload_safety.violations()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is None:
        _fail_session(session, leaks + FROM_WORKERS.leaks, unsafe + FROM_WORKERS.unsafe)
        return
    harness = _fuzz_harness()
    workeroutput[_LEAKS] = [astuple(leak) for leak in leaks]
    workeroutput[_UNSAFE] = [astuple(violation) for violation in unsafe]
    workeroutput[_TALLIES] = harness.sent() if harness else {}


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent with -p no:xdist
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller: keep what a worker found at its session end (its `workeroutput`)."""
    output = getattr(node, "workeroutput", None) or {}
    FROM_WORKERS.leaks += [Leak(*row) for row in output.get(_LEAKS, ())]
    FROM_WORKERS.unsafe += [payload_safety.Violation(*row) for row in output.get(_UNSAFE, ())]
    if output.get(_TALLIES):
        from tests.fuzz.harness import add_sent

        add_sent(output[_TALLIES])


def _fail_session(session: pytest.Session, leaks: list[Leak], unsafe: list[payload_safety.Violation]) -> None:
    lines = [f"SECRET LEAK: {len(leaks)} log line(s) contain a secret value:",
             *(f"  {leak.describe()}" for leak in leaks)] if leaks else []
    lines += payload_safety.report(unsafe).splitlines() if unsafe else []
    if not lines:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write("\n")  # the progress line may still be open
        for line in lines:
            reporter.write_line(line, red=True)
    else:
        print("\n".join(lines), file=sys.stderr)
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _fuzz_harness() -> ModuleType | None:
    """tests/fuzz/harness.py if this process imported it (a run without fuzz tests need not pay its imports)."""
    return sys.modules.get("tests.fuzz.harness")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fuzz targets' case counts (tests/fuzz/harness.py TALLIES), summed over the xdist workers."""
    harness = _fuzz_harness()
    if harness is None or not harness.TALLIES:
        return
    terminalreporter.section("fuzz cases")
    for target, found in sorted(harness.TALLIES.items()):
        terminalreporter.write_line(f"{target:48} {found.cases:>8,} cases  {found.seconds:7.1f} s")


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
def aws(moto_clean: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsProxy]:
    """The session moto_server, reset, behind a fresh AwsProxy (tests/support/aws_proxy.py) that counts, answers
    (GetCostForecast, Recycle Bin) and breaks requests; AWS_ENDPOINT_URL points every boto3 client at the proxy.
    `aws.ec2` is a boto3 EC2 client straight to moto, for seeding (tests/support/aws_seed.py)."""
    with AwsProxy(moto_clean) as proxy:
        for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")]:
            monkeypatch.delenv(name)
        for name, value in proxy.aws_env().items():
            monkeypatch.setenv(name, value)
        yield proxy


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


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A session factory on a fresh, migrated SQLite database."""
    from bot.store.db import make_engine, migrate, session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def github_api() -> Iterator[FixtureServer]:  # a GitHubFixture
    """A GitHub GraphQL API on loopback (tests/support/github_graphql.py: GitHubFixture, its docstring lists the
    data builders and failures), token "ghp_fixture_token_0000000000000000"; use `github_api.url` as
    GITHUB_API_URL. Without GitHub's schema (fetched once with npm) the test skips, or fails when CI=true."""
    from tests.support.github_graphql import GitHubFixture
    from tests.support.github_schema import SchemaUnavailable
    from tests.support.servers import missing_dependency

    fixture = GitHubFixture(token="ghp_fixture_token_0000000000000000")
    try:
        fixture.start()
    except SchemaUnavailable as exc:
        missing_dependency(str(exc))
    try:
        yield fixture
    finally:
        fixture.stop()

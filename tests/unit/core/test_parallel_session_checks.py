"""Under pytest-xdist the session-end checks still fail the run: what each worker found (a secret in its logs, an
unsafe Slack payload) and its fuzz case counts reach the controller, which reports them summed and fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bot_process import BOT_TOKEN
from tests.support.secrets_scan import IN_PROCESS, mask

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[3]

CONFTEST = """
from tests.conftest import (pytest_configure, pytest_runtest_setup, pytest_sessionfinish, pytest_terminal_summary,
                            pytest_testnodedown)
"""

# No test fails by itself: only the session-end checks can fail this suite (its conftest leaves out the fixture that
# fails the test that sent an unsafe payload).
INNER_TESTS = {
    "test_logs_a_secret": """
        import logging
        from tests.support.bot_process import BOT_TOKEN

        def test_a_secret_reaches_the_log():
            logging.getLogger("bot.inner").warning("authorised with %s", BOT_TOKEN)
    """,
    "test_sends_a_broadcast": """
        from tests.support import payload_safety

        def test_a_broadcast_reaches_slack():
            payload_safety.check_call("chat.postMessage", {"text": "db down <!channel>"})
    """,
    "test_fuzzes": """
        from tests.fuzz.harness import tally

        def test_three_cases():
            for _ in range(3):
                tally("inner target")
    """,
}


@pytest.fixture
def inner_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    for name in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(**INNER_TESTS)
    return pytester


def test_every_workers_findings_fail_the_run_on_the_controller(inner_suite: pytest.Pytester) -> None:
    # --dist each: both workers run every test, so the controller must add up what two workers found.
    run = inner_suite.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--dist", "each", timeout=60)
    output = run.stdout.str()

    assert run.ret == pytest.ExitCode.TESTS_FAILED, output
    assert "6 passed" in output
    assert "SECRET LEAK: 2 log line(s) contain a secret value:" in output
    run.stdout.fnmatch_lines([f"*{IN_PROCESS}:*: secret {mask(BOT_TOKEN)} appears in the log"] * 2)
    assert BOT_TOKEN not in output
    assert "UNSAFE SLACK PAYLOAD: 2 broadcast(s) or mention(s)" in output
    assert "test_sends_a_broadcast.py::test_a_broadcast_reaches_slack: chat.postMessage: text: broadcast" in output
    run.stdout.fnmatch_lines(["*fuzz cases*", "inner target * 6 cases *"])


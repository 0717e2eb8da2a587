"""The end-of-session secret scan really catches a secret that reached a log."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests import conftest
from tests.support import bot_process, payload_safety
from tests.support.secrets_scan import IN_PROCESS, LineRecorder, scan_lines, scan_logs

PLANTED = "xoxb-planted-0000-1111-deadbeefcafe"


def test_a_secret_planted_in_a_bot_log_file_is_found_with_its_file_and_line(tmp_path: Path) -> None:
    log = tmp_path / "bot-1.log"
    log.write_text('{"message": "started"}\n{"message": "auth with ' + PLANTED + '"}\n{"message": "ok"}\n')

    (leak,) = scan_logs([log], [], [PLANTED, "other-secret-value"])

    assert (leak.source, leak.line, leak.secret) == (str(log), 2, PLANTED)
    assert f"{log}:2" in leak.describe()


def test_the_leak_report_does_not_repeat_the_secret() -> None:
    (leak,) = scan_lines([f"x {PLANTED}"], [PLANTED], "somewhere")

    assert PLANTED not in leak.describe()
    assert "xoxb" in leak.describe()  # but says which one it was


def test_a_secret_in_in_process_log_lines_is_found() -> None:
    leaks = scan_logs([], ["fine", f"token={PLANTED}"], [PLANTED])

    assert [(leak.source, leak.line) for leak in leaks] == [(IN_PROCESS, 2)]


def test_clean_logs_missing_files_and_empty_secrets_pass(tmp_path: Path) -> None:
    log = tmp_path / "bot-1.log"
    log.write_text('{"message": "token [redacted]"}\n')

    assert scan_logs([log, tmp_path / "never-written.log"], ["all good"], [PLANTED, ""]) == []


def test_the_recorder_keeps_messages_extras_and_tracebacks_for_the_scan() -> None:
    recorder = LineRecorder()
    logger = logging.getLogger("tests.secrets_scan.recorder")
    logger.addHandler(recorder)
    logger.propagate = False
    try:
        logger.warning("plain")
        logger.warning("with extra", extra={"header": f"Bearer {PLANTED}"})
        try:
            raise RuntimeError(PLANTED)
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(recorder)
        logger.propagate = True

    assert [leak.line for leak in scan_lines(recorder.lines, [PLANTED], IN_PROCESS)] == [2, 3]


def test_in_process_logging_is_recorded_during_tests() -> None:
    assert conftest.IN_PROCESS_LOG in logging.getLogger().handlers
    before = len(conftest.IN_PROCESS_LOG.lines)

    logging.getLogger("bot.test_secrets_scan").debug("marker-line-for-the-recorder")

    assert any("marker-line-for-the-recorder" in line for line in conftest.IN_PROCESS_LOG.lines[before:])


def fake_session() -> SimpleNamespace:
    no_plugins = SimpleNamespace(get_plugin=lambda name: None)
    return SimpleNamespace(exitstatus=pytest.ExitCode.OK, config=SimpleNamespace(pluginmanager=no_plugins))


def test_the_session_fails_when_a_bot_log_contains_a_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "bot-1.log"
    log.write_text(f"ok\nleaked {bot_process.BOT_TOKEN}\n")
    monkeypatch.setattr(bot_process, "LOG_FILES", [log])
    monkeypatch.setattr(conftest, "IN_PROCESS_LOG", LineRecorder())
    session = fake_session()

    conftest.pytest_sessionfinish(session, 0)  # type: ignore[arg-type]

    assert session.exitstatus == 1
    report = capsys.readouterr().err
    assert f"{log}:2" in report
    assert bot_process.BOT_TOKEN not in report


def test_the_session_fails_when_in_process_logging_contained_a_secret(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    recorder = LineRecorder()
    recorder.lines.append(f"signing with {bot_process.SIGNING_SECRET}")
    monkeypatch.setattr(bot_process, "LOG_FILES", [])
    monkeypatch.setattr(conftest, "IN_PROCESS_LOG", recorder)
    session = fake_session()

    conftest.pytest_sessionfinish(session, 0)  # type: ignore[arg-type]

    assert session.exitstatus == 1
    assert f"{IN_PROCESS}:1" in capsys.readouterr().err


def test_a_clean_session_keeps_its_exit_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "bot-1.log"
    log.write_text("nothing secret here\n")
    monkeypatch.setattr(bot_process, "LOG_FILES", [log])
    monkeypatch.setattr(conftest, "IN_PROCESS_LOG", LineRecorder())
    session = fake_session()

    with payload_safety.fresh_record():  # an unsafe payload earlier in the session must not count here
        conftest.pytest_sessionfinish(session, 0)  # type: ignore[arg-type]

    assert session.exitstatus == pytest.ExitCode.OK

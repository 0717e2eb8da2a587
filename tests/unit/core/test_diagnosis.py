"""Diagnoses and replies that need no server: database failures, backend names, the "working on it…" notice."""

from __future__ import annotations

import sqlite3
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import exc as sa

import handlers.common as common
from bot.retry import BackendError, backend_error_text, backend_name, diagnose
from bot.settings import Config
from handlers.common import answering_failures, working_notice
from tests.support.config import bot_config
from tests.support.slack_text import slack_text
from tests.support.waiting import wait_until


def database_error(kind: type[sa.DBAPIError], message: str) -> sa.DBAPIError:
    return kind("INSERT INTO incidents ...", {}, sqlite3.OperationalError(message))


def test_old_style_backend_errors_keep_their_reason() -> None:
    error = BackendError("slack", "name_taken", True)

    assert (error.reason, error.transient, error.code, str(error)) == ("name_taken", True, None, "slack: name_taken")
    assert error.explain("zh-CN") == "name_taken"


@pytest.mark.parametrize("language, expected", [("en", "the database"), ("zh-CN", "数据库")])
def test_the_database_is_named_in_the_readers_language(language: str, expected: str) -> None:
    assert backend_name("database", language) == expected


@pytest.mark.parametrize("backend, name", [("aws", "AWS"), ("github", "GitHub"), ("pagerduty", "PagerDuty"),
                                           ("prometheus", "Prometheus"), ("kubernetes", "Kubernetes")])
def test_backend_names_are_capitalised_in_replies(backend: str, name: str) -> None:
    text = backend_error_text(BackendError(backend, "boom"), "en")

    assert f"from {name}: boom" in text


@pytest.mark.parametrize("message, code", [
    ("attempt to write a readonly database", "db_read_only"),
    ("cannot execute INSERT in a read-only transaction", "db_read_only"),
    ("unable to open database file", "db_unreachable"),
    ("database is locked", "db_busy"),
])
def test_database_failures_are_diagnosed(message: str, code: str) -> None:
    error = diagnose("database", database_error(sa.OperationalError, message), where="database")

    assert error.backend == "database" and error.code == code
    assert "DATABASE_URL" in error.reason


def test_a_database_failure_in_a_handler_is_answered_naming_the_database() -> None:
    said: list[Any] = []

    with answering_failures(said.append, "zh-CN", "command", "/oncall"):
        raise database_error(sa.OperationalError, "connection refused")

    [reply] = said
    text = slack_text(reply)
    assert "数据库" in text and "DATABASE_URL" in text and "错误编号" not in text


def test_a_programming_error_in_a_query_still_gets_an_error_id() -> None:
    said: list[Any] = []

    with answering_failures(said.append, "en", "command", "/oncall"):
        raise database_error(sa.IntegrityError, "UNIQUE constraint failed")

    [reply] = said
    assert "error id" in slack_text(reply)


def test_a_slow_answer_is_preceded_by_one_working_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "WORKING_AFTER", 0.05)
    said: list[Any] = []

    with working_notice(said.append, "en", ("prometheus", "kubernetes")) as answer:
        wait_until(lambda: said, timeout=2, message="the working notice of a slow answer")
        answer([{"type": "section", "text": {"type": "mrkdwn", "text": "the answer"}}])

    assert [slack_text(reply) for reply in said] == [
        ":hourglass_flowing_sand: Working on it… (asking Prometheus and Kubernetes)", "the answer"]


def test_a_fast_answer_comes_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "WORKING_AFTER", 0.2)
    said: list[Any] = []

    with working_notice(said.append, "zh-CN") as answer:
        answer([{"type": "section", "text": {"type": "mrkdwn", "text": "答案"}}])
    time.sleep(0.4)  # twice WORKING_AFTER: a notice, had one been scheduled, would have come by now

    assert [slack_text(reply) for reply in said] == ["答案"]


def test_an_answer_arriving_while_the_notice_is_posted_waits_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "WORKING_AFTER", 0.01)
    said: list[str] = []
    posting = threading.Event()

    def slow_reply(blocks: list[Any]) -> None:
        if blocks[0]["type"] == "context":
            posting.set()
            time.sleep(0.2)  # the notice is still on its way to Slack
        said.append(blocks[0]["type"])

    with working_notice(slow_reply, "en") as answer:
        posting.wait(2)
        answer([{"type": "section", "text": {"type": "mrkdwn", "text": "done"}}])

    assert said == ["context", "section"]


def test_a_command_whose_preparation_fails_is_answered_with_an_error_id_in_the_organisations_language() -> None:
    """Who typed it and in which language are read before the command's own failure handling starts; a failure
    there (a Slack answer nobody expected, a bug) still gets an answer."""
    def language(user: str | None, team: Any) -> str:
        raise KeyError("locale")

    config = Config.model_validate(bot_config(defaults={"language": "zh-CN"}))
    services = SimpleNamespace(config=config, language=language)
    said: list[Any] = []
    command = common.Command(usage="oncall", run=lambda services, inv: [])
    common.run_command(services, command, {"command": "/oncall", "user_id": "U1", "channel_id": "CTEAM"},  # type: ignore[arg-type]
                       said.append)

    [reply] = said
    assert "错误编号" in slack_text(reply)

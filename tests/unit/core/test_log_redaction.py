"""Secrets never reach the bot's logs, whatever part of a log record they hide in."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from bot.log import REDACTED, configure_logging

CONFIGURED = "sig-secret-9f8e7d6c5b4a"
SLACK_BOT = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp"
SLACK_APP = "xapp-1-A012BCDEF-123456789-abcdef0123"
GITHUB = "ghp_" + "A1b2C3d4E5" * 4
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_TEMP_KEY_ID = "ASIAIOSFODNN7EXAMPLE"
ALL_SECRETS = (CONFIGURED, SLACK_BOT, SLACK_APP, GITHUB, AWS_KEY_ID, AWS_TEMP_KEY_ID)


ReadLog = Callable[[], list[dict]]


@pytest.fixture
def bot_log() -> Iterator[ReadLog]:
    """Logging configured as the bot does it, into memory; returns a reader of the JSON lines."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", [CONFIGURED, "short"], stream=stream)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.handlers[:], level = saved
    root.setLevel(level)


@pytest.fixture
def raw_output(bot_log: ReadLog) -> Callable[[], str]:
    return lambda: "\n".join(json.dumps(line) for line in bot_log())


def assert_no_secret(text: str) -> None:
    leaked = [secret for secret in ALL_SECRETS if secret in text]
    assert leaked == [], f"leaked into the log: {leaked}"


def test_every_line_is_one_json_object_with_level_logger_and_message(bot_log: ReadLog) -> None:
    logging.getLogger("bot.test").info("hello %s", "world")
    logging.getLogger("bot.other").warning("second line")

    first, second = bot_log()
    assert (first["levelname"], first["name"], first["message"]) == ("INFO", "bot.test", "hello world")
    assert (second["levelname"], second["name"]) == ("WARNING", "bot.other")
    assert "asctime" in first


def test_a_configured_secret_in_the_message_is_redacted(bot_log: ReadLog) -> None:
    logging.getLogger("bot.test").info(f"signing with {CONFIGURED} now")

    assert bot_log()[0]["message"] == f"signing with {REDACTED} now"


@pytest.mark.parametrize("token", [SLACK_BOT, SLACK_APP, GITHUB, AWS_KEY_ID, AWS_TEMP_KEY_ID,
                                   "xoxp-2222222222-3333333333-abcdef", "github_pat_" + "x1Y2z3" * 5],
                         ids=["xoxb", "xapp", "ghp", "AKIA", "ASIA", "xoxp", "github_pat"])
def test_token_shaped_strings_are_redacted_even_if_never_configured(
        bot_log: ReadLog, token: str) -> None:
    logging.getLogger("bot.test").info("user pasted %s into chat", token)

    message = bot_log()[0]["message"]
    assert token not in message
    assert message == f"user pasted {REDACTED} into chat"


def test_secrets_passed_as_format_arguments_are_redacted(bot_log: ReadLog) -> None:
    logging.getLogger("bot.test").info("token=%s secret=%r", SLACK_BOT, CONFIGURED)

    assert bot_log()[0]["message"] == f"token={REDACTED} secret='{REDACTED}'"


def test_secrets_in_extra_fields_are_redacted(raw_output: Callable[[], str]) -> None:
    logging.getLogger("bot.test").info("calling github", extra={
        "token": GITHUB, "headers": {"Authorization": f"Bearer {SLACK_BOT}", "X-Count": 3},
        "keys": [AWS_KEY_ID, ("nested", CONFIGURED)], "attempt": 2,
    })

    text = raw_output()
    assert_no_secret(text)
    line = json.loads(text)
    assert line["token"] == REDACTED
    assert line["headers"] == {"Authorization": f"Bearer {REDACTED}", "X-Count": 3}
    assert line["attempt"] == 2


def test_secrets_in_exception_tracebacks_are_redacted(raw_output: Callable[[], str]) -> None:
    try:
        raise RuntimeError(f"auth failed for {SLACK_BOT} using {CONFIGURED}")
    except RuntimeError:
        logging.getLogger("bot.test").exception("slack call failed")

    text = raw_output()
    assert_no_secret(text)
    line = json.loads(text)
    assert "RuntimeError: auth failed for [redacted] using [redacted]" in line["exc_info"]
    assert "Traceback" in line["exc_info"]


def test_secrets_in_chained_exceptions_are_redacted(raw_output: Callable[[], str]) -> None:
    try:
        try:
            raise KeyError(GITHUB)
        except KeyError as inner:
            raise ValueError("wrapped") from inner
    except ValueError:
        logging.getLogger("bot.test").error("failed", exc_info=True)

    assert_no_secret(raw_output())


def test_very_short_configured_values_are_not_treated_as_secrets(bot_log: ReadLog) -> None:
    logging.getLogger("bot.test").info("a short message")

    assert bot_log()[0]["message"] == "a short message"


def test_a_broken_log_call_neither_crashes_the_caller_nor_leaks(bot_log: ReadLog) -> None:
    logging.getLogger("bot.test").info("two blanks %s %s but one value", SLACK_BOT)

    (line,) = bot_log()
    assert SLACK_BOT not in line["message"]
    assert "two blanks" in line["message"]


def test_debug_lines_follow_the_configured_level(bot_log: ReadLog) -> None:
    logging.getLogger("bot.test").debug("debug %s", SLACK_APP)

    assert bot_log()[0]["message"] == f"debug {REDACTED}"

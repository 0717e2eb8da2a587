"""The running bot's HTTP edges, over real HTTP: odd headers, hostile bodies, and /healthz telling the truth
about whether the database can still be written."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from tests.support.bot_process import SIGNING_SECRET, BotProcess
from tests.support.servers import PostgresServer, missing_dependency
from tests.support.signing import signed_headers, slash_command_body
from tests.support.waiting import wait_until

MIB = 1024 * 1024
NESTED = b"[" * 100_000 + b"]" * 100_000


def assert_json_error(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:300]
    body = response.json()
    assert body["error"]
    return body


def test_a_timestamp_that_is_not_a_number_is_unauthorized_not_a_crash(bot: BotProcess) -> None:
    response = bot.post(slash_command_body("/oncall", ""), ts="abc")

    assert_json_error(response, 401)
    assert bot.get("/healthz").status_code == 200


def test_deeply_nested_json_to_alertmanager_is_a_bad_request(bot: BotProcess) -> None:
    response = bot.post(NESTED, path="/alertmanager")

    body = assert_json_error(response, 400)
    assert "Alertmanager" in body["error"]


def test_deeply_nested_json_to_slack_events_is_a_bad_request(bot: BotProcess) -> None:
    response = bot.post(b'{"type": "event_callback", "event": ' + NESTED + b"}")

    assert_json_error(response, 400)


def test_a_body_over_one_mebibyte_is_refused_with_413(bot: BotProcess) -> None:
    body = b'{"version": "4", "padding": "' + b"x" * (2 * MIB) + b'"}'

    response = bot.post(body, path="/slack/events")

    assert assert_json_error(response, 413)["max_bytes"] == MIB


def test_an_alertmanager_body_over_one_mebibyte_is_a_bad_payload_saying_why(bot: BotProcess) -> None:
    body = b'{"version": "4", "padding": "' + b"x" * (2 * MIB) + b'"}'

    response = bot.post(body, path="/alertmanager")

    answer = assert_json_error(response, 400)  # Alertmanager logs the body of a 4xx and does not retry it
    assert answer["max_bytes"] == MIB and "larger than 1048576 bytes" in answer["error"]


def test_a_chunked_body_over_the_limit_is_refused_too(bot: BotProcess) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"version": "4", "padding": "'
        for _ in range(20):
            yield b"x" * 100_000
        yield b'"}'

    response = requests.post(bot.url + "/alertmanager", data=chunks(), timeout=10,
                             headers={"Content-Type": "application/json"})

    assert "larger than" in assert_json_error(response, 400)["error"]


def test_a_body_just_under_the_limit_is_still_read(bot: BotProcess) -> None:
    body = json.dumps({"version": "4", "status": "firing", "alerts": "nope", "x": "y" * (MIB - 200)}).encode()

    response = bot.post(body, path="/alertmanager")

    assert assert_json_error(response, 400)["error"].startswith("Not an Alertmanager webhook payload")


def test_unknown_routes_and_wrong_methods_answer_json(bot: BotProcess) -> None:
    assert_json_error(bot.get("/nope"), 404)
    wrong_method = bot.get("/alertmanager")
    assert_json_error(wrong_method, 405)
    assert "POST" in wrong_method.headers["Allow"]


def test_a_good_request_still_works_after_the_hostile_ones(bot: BotProcess) -> None:
    bot.post(NESTED, path="/alertmanager")
    bot.post(slash_command_body("/oncall", ""), ts="abc")
    body = slash_command_body("/oncall", "help")

    response = requests.post(bot.url + "/slack/events", data=body, timeout=10,
                             headers=signed_headers(SIGNING_SECRET, body))

    assert response.status_code == 200


def wait_for_status(bot: BotProcess, status: int, timeout: float = 10) -> requests.Response:
    def answered() -> tuple[requests.Response] | None:  # in a tuple: a Response is falsy unless its status is ok
        response = bot.get("/healthz")
        return (response,) if response.status_code == status else None

    [response] = wait_until(answered, timeout, interval=0.2, message=f"/healthz to answer {status}")
    return response


def test_healthz_is_503_when_the_sqlite_file_is_deleted_under_the_running_bot(bot: BotProcess) -> None:
    database = bot.workdir / "bot.db"
    assert bot.get("/healthz").json() == {"status": "ok", "database": "ok"}

    database.unlink()

    response = wait_for_status(bot, 503)
    assert response.status_code == 503
    assert response.json()["reason"].startswith("database unreachable: the file")
    assert str(database) in response.json()["reason"]
    assert not database.exists()  # the check did not create an empty database in its place
    assert "health check failed" in bot.logs()


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], None]]:
    """chattr +i (stops root too), undone afterwards so the test directory can be removed."""
    made: list[Path] = []

    def make(path: Path) -> None:
        result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if result.returncode != 0:
            missing_dependency(f"cannot make files immutable here: {result.stderr.strip()}")
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_healthz_is_503_read_only_when_the_sqlite_file_becomes_immutable(
    bot: BotProcess, immutable: Callable[[Path], None],
) -> None:
    assert bot.get("/healthz").status_code == 200

    immutable(bot.workdir / "bot.db")

    response = wait_for_status(bot, 503)
    assert response.status_code == 503
    assert response.json()["reason"].startswith("database is read-only: ")


@pytest.mark.postgres
def test_healthz_is_503_read_only_when_postgresql_refuses_writes(
    start_bot: Callable[..., BotProcess], postgres: PostgresServer, pg_url: str,
) -> None:
    bot = start_bot(database_url=pg_url)
    assert bot.get("/healthz").status_code == 200
    name = pg_url.rsplit("/", 1)[1]

    with psycopg.connect(postgres.conninfo(), autocommit=True) as connection:
        connection.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    try:
        response = wait_for_status(bot, 503)
    finally:
        with psycopg.connect(postgres.conninfo(), autocommit=True) as connection:
            connection.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')

    assert response.status_code == 503
    assert response.json()["reason"] == "database is read-only: cannot execute INSERT in a read-only transaction"

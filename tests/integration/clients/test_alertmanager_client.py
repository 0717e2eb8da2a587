"""AlertmanagerClient against a real Alertmanager 0.25 (silences, status), and against fixture servers for the
failures a real one cannot be made to show (a lost answer, a proxy's 503)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from bot.clients.alertmanager import AlertmanagerClient
from bot.retry import BackendError, Timeout, backend_error_text
from tests.integration.clients.test_backend_failures import SilentServer
from tests.support.fixture_http import FixtureServer, Response
from tests.support.servers import AlertmanagerServer, alertmanager_config_for, free_port
from tests.support.waiting import wait_until

MATCHERS = {"alertname": "KubePodCrashLooping", "namespace": "ml-train"}
FAST = Timeout(connect=0.5, read=0.5)


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertmanagerServer]:
    # Nothing listens on the webhook: these tests look at Alertmanager's own API, not at what it sends.
    config = alertmanager_config_for(f"http://127.0.0.1:{free_port()}/alerts")
    with AlertmanagerServer(tmp_path_factory.mktemp("alertmanager"), config) as server:
        yield server


def silences(server: AlertmanagerServer) -> dict[str, dict[str, Any]]:
    response = requests.get(f"{server.url}/api/v2/silences", timeout=10)
    response.raise_for_status()
    return {silence["id"]: silence for silence in response.json()}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.prometheus
def test_a_silence_is_created_active_with_equality_matchers_author_comment_and_end(
        alertmanager: AlertmanagerServer) -> None:
    ends_at = datetime.now(UTC) + timedelta(hours=2)

    silence_id = AlertmanagerClient(alertmanager.url).create_silence(MATCHERS, ends_at, "U0ALICE", "deploy in progress")

    silence = silences(alertmanager)[silence_id]
    assert silence["status"]["state"] == "active"
    assert sorted((m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in silence["matchers"]) == [
        ("alertname", "KubePodCrashLooping", False, True), ("namespace", "ml-train", False, True)]
    assert (silence["createdBy"], silence["comment"]) == ("U0ALICE", "deploy in progress")
    assert abs(parse_time(silence["endsAt"]) - ends_at) < timedelta(seconds=1)


@pytest.mark.prometheus
def test_a_silence_starting_later_is_pending(alertmanager: AlertmanagerServer) -> None:
    starts_at = datetime.now(UTC) + timedelta(hours=1)

    silence_id = AlertmanagerClient(alertmanager.url).create_silence(
        MATCHERS, starts_at + timedelta(hours=1), "U0ALICE", "tonight's window", starts_at=starts_at)

    silence = silences(alertmanager)[silence_id]
    assert silence["status"]["state"] == "pending"
    assert abs(parse_time(silence["startsAt"]) - starts_at) < timedelta(seconds=1)


@pytest.mark.prometheus
def test_a_matching_alert_is_suppressed_and_an_other_namespace_is_not(alertmanager: AlertmanagerServer) -> None:
    client = AlertmanagerClient(alertmanager.url)
    matchers = {"alertname": "GPUIdle", "namespace": "ml-infer"}
    silence_id = client.create_silence(matchers, datetime.now(UTC) + timedelta(hours=1), "U0BOB", "known idle")
    started = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    alertmanager.post_alerts([
        {"labels": {**matchers, "severity": "warning"}, "startsAt": started},
        {"labels": {"alertname": "GPUIdle", "namespace": "ml-train", "severity": "warning"}, "startsAt": started},
    ])

    def states() -> dict[str, tuple[str, list[str]]]:
        return {a["labels"]["namespace"]: (a["status"]["state"], a["status"]["silencedBy"])
                for a in alertmanager.alerts() if a["labels"]["alertname"] == "GPUIdle"}

    def suppressed() -> dict[str, tuple[str, list[str]]] | None:
        now = states()
        return now if now.get("ml-infer", ("", []))[0] == "suppressed" else None

    # Alertmanager marks alerts as it evaluates them, a moment after they arrive.
    found = wait_until(suppressed, 10, message=lambda: f"GPUIdle in ml-infer suppressed; saw {states()}")
    assert found["ml-infer"] == ("suppressed", [silence_id])
    assert found["ml-train"][0] == "active"


@pytest.mark.prometheus
def test_an_expired_silence_is_expired_and_expiring_it_again_is_harmless(alertmanager: AlertmanagerServer) -> None:
    client = AlertmanagerClient(alertmanager.url)
    silence_id = client.create_silence(MATCHERS, datetime.now(UTC) + timedelta(hours=1), "U0ALICE", "oops")

    client.expire_silence(silence_id)
    client.expire_silence(silence_id)  # a retry after a lost answer does the same

    assert silences(alertmanager)[silence_id]["status"]["state"] == "expired"


@pytest.mark.prometheus
def test_expiring_an_unknown_silence_says_so(alertmanager: AlertmanagerServer) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"

    with pytest.raises(BackendError) as raised:
        AlertmanagerClient(alertmanager.url).expire_silence(unknown)

    assert raised.value.code == "alertmanager_silence_not_found"
    assert not raised.value.transient
    assert unknown in raised.value.explain("en") and unknown in raised.value.explain("zh-CN")


@pytest.mark.prometheus
def test_empty_matchers_are_refused_with_alertmanagers_reason(alertmanager: AlertmanagerServer) -> None:
    with pytest.raises(BackendError) as raised:
        AlertmanagerClient(alertmanager.url).create_silence({}, datetime.now(UTC) + timedelta(hours=1), "U0A", "x")

    error = raised.value
    assert (error.code, error.transient) == ("alertmanager_rejected", False)
    # Alertmanager 0.25 answers an empty list with 422 from its API schema (400 for a matcher it cannot use).
    assert "matchers in body should have at least 1 items" in error.explain("en")
    assert "matchers in body should have at least 1 items" in error.explain("zh-CN")
    assert "Alertmanager" in backend_error_text(error, "en")


@pytest.mark.prometheus
def test_alertmanagers_reason_is_shown_escaped(alertmanager: AlertmanagerServer) -> None:
    with pytest.raises(BackendError) as raised:
        AlertmanagerClient(alertmanager.url).create_silence(
            {"<!channel>": "x"}, datetime.now(UTC) + timedelta(hours=1), "U0A", "x")

    for text in (str(raised.value), raised.value.explain("en"), raised.value.explain("zh-CN")):
        assert "invalid label name" in text
        assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "HTTP 400" in raised.value.explain("en")


@pytest.mark.prometheus
def test_an_end_before_the_start_is_refused(alertmanager: AlertmanagerServer) -> None:
    with pytest.raises(BackendError, match="start time must be before end time"):
        AlertmanagerClient(alertmanager.url).create_silence(MATCHERS, datetime.now(UTC) - timedelta(hours=1),
                                                            "U0A", "x")


@pytest.mark.prometheus
def test_probe_names_the_version_address_and_cluster(alertmanager: AlertmanagerServer) -> None:
    where = alertmanager.url.removeprefix("http://")

    assert AlertmanagerClient(alertmanager.url).probe() == f"Alertmanager 0.25.0 at {where}, cluster disabled"


def test_an_unreachable_alertmanager_says_to_check_alertmanager_url() -> None:
    client = AlertmanagerClient(f"http://127.0.0.1:{free_port()}", timeout=FAST)

    for call in (client.probe, lambda: client.create_silence(MATCHERS, datetime.now(UTC), "U0A", "x"),
                 lambda: client.expire_silence("00000000-0000-4000-8000-000000000000")):
        with pytest.raises(BackendError) as raised:
            call()
        assert raised.value.code == "refused"
        assert "ALERTMANAGER_URL" in raised.value.explain("en")
        assert "ALERTMANAGER_URL" in raised.value.explain("zh-CN")
        assert "请检查" in raised.value.explain("zh-CN")


def test_credentials_in_the_url_never_reach_the_message() -> None:
    client = AlertmanagerClient(f"http://admin:s3cret@127.0.0.1:{free_port()}/", timeout=FAST)

    with pytest.raises(BackendError) as raised:
        client.probe()

    assert "s3cret" not in str(raised.value) and "s3cret" not in raised.value.explain("zh-CN")


# A real Alertmanager cannot be made to lose an answer or stand behind a busy proxy: stand-ins can.


class HangUp(SilentServer):
    """Reads each request, then closes the connection without a word: the request may have been applied."""

    def _handle(self, connection: socket.socket) -> None:
        connection.recv(65536)
        self.connections.append(connection)  # counted before the client can see the hang-up
        connection.close()

    @property
    def requests(self) -> int:
        return len(self.connections)


@pytest.fixture
def hang_up() -> Iterator[HangUp]:
    server = HangUp()
    yield server
    server.close()


def test_a_create_whose_answer_is_lost_is_not_repeated(hang_up: HangUp) -> None:
    client = AlertmanagerClient(hang_up.url, timeout=Timeout(connect=0.5, read=5.0))

    with pytest.raises(BackendError) as raised:
        client.create_silence(MATCHERS, datetime.now(UTC) + timedelta(hours=1), "U0A", "x")

    assert raised.value.code == "unreachable"
    assert hang_up.requests == 1


def test_a_read_whose_answer_is_lost_is_repeated(hang_up: HangUp) -> None:
    client = AlertmanagerClient(hang_up.url, timeout=Timeout(connect=0.5, read=5.0))

    with pytest.raises(BackendError):
        client.probe()

    assert hang_up.requests == 3


def test_a_create_a_proxy_refused_with_503_is_repeated(http_fixtures: FixtureServer) -> None:
    answers = iter([Response(503, "upstream busy"), Response(200, {"silenceID": "abc-123"})])
    http_fixtures.add("POST", "/api/v2/silences", lambda _request: next(answers))

    silence_id = AlertmanagerClient(http_fixtures.url).create_silence(
        MATCHERS, datetime.now(UTC) + timedelta(hours=1), "U0A", "x")

    assert silence_id == "abc-123"
    assert len(http_fixtures.requests("POST", "/api/v2/silences")) == 2


def test_a_create_answered_500_is_not_repeated(http_fixtures: FixtureServer) -> None:
    http_fixtures.add("POST", "/api/v2/silences", Response(500, "internal error"))

    with pytest.raises(BackendError) as raised:
        AlertmanagerClient(http_fixtures.url).create_silence(
            MATCHERS, datetime.now(UTC) + timedelta(hours=1), "U0A", "x")

    assert raised.value.code == "server_error"
    assert len(http_fixtures.requests("POST", "/api/v2/silences")) == 1


def test_an_expire_answered_502_is_repeated(http_fixtures: FixtureServer) -> None:
    answers = iter([Response(502, "bad gateway"), Response(200, raw=b"")])
    http_fixtures.add("DELETE", "/api/v2/silence/.*", lambda _request: next(answers))

    AlertmanagerClient(http_fixtures.url).expire_silence("abc-123")

    assert len(http_fixtures.requests("DELETE")) == 2


def test_an_answer_without_a_silence_id_is_an_unexpected_answer(http_fixtures: FixtureServer) -> None:
    http_fixtures.add("POST", "/api/v2/silences", {"status": "ok"})

    with pytest.raises(BackendError) as raised:
        AlertmanagerClient(http_fixtures.url).create_silence(
            MATCHERS, datetime.now(UTC) + timedelta(hours=1), "U0A", "x")

    assert raised.value.code == "unexpected"


def test_a_wrong_path_says_to_check_alertmanager_url(http_fixtures: FixtureServer) -> None:
    with pytest.raises(BackendError) as raised:
        AlertmanagerClient(http_fixtures.url).probe()  # the fixture answers 404 for every path

    assert "HTTP 404" in raised.value.explain("en") and "ALERTMANAGER_URL" in raised.value.explain("en")


def test_naive_times_are_refused_before_anything_is_sent(http_fixtures: FixtureServer) -> None:
    with pytest.raises(ValueError, match="naive"):
        AlertmanagerClient(http_fixtures.url).create_silence(MATCHERS, datetime(2030, 1, 1), "U0A", "x")

    assert http_fixtures.requests() == []


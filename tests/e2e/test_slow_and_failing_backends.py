"""Every request gets an answer, fast, with the right diagnosis: a slow Prometheus, a stopped database,
and `python -m bot check` against backends that accept connections and never answer."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.check import PROBE_TIMEOUT
from tests.support.bot_process import ROOT, BotProcess
from tests.support.config import bot_config, team
from tests.support.fixture_http import FixtureServer, Request
from tests.support.servers import PostgresServer, free_port
from tests.support.signing import slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

EMPTY_VECTOR = {"status": "success", "data": {"resultType": "vector", "result": []}}


def listing(kind: str) -> dict[str, Any]:
    return {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []}


def kubeconfig(path: Path, server: str) -> str:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": server}}],
        "users": [{"name": "bot", "user": {"token": "kube-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "bot"}}],
    }))
    return str(path)


@pytest.fixture
def kube() -> Iterator[FixtureServer]:
    with FixtureServer({("GET", "/api/v1/nodes"): listing("NodeList"),
                        ("GET", "/api/v1/pods"): listing("PodList")}) as server:
        yield server


@pytest.fixture
def gpu_bot(start_bot: Callable[..., BotProcess], kube: FixtureServer,
            tmp_path: Path) -> Iterator[Callable[[float], BotProcess]]:
    """A bot whose Prometheus takes `delay` seconds to answer each query."""
    servers: list[FixtureServer] = []

    def start(delay: float) -> BotProcess:
        def slow_query(_request: Request) -> dict[str, Any]:
            time.sleep(delay)
            return EMPTY_VECTOR

        prometheus = FixtureServer({("GET", "/api/v1/query"): slow_query}).start()
        servers.append(prometheus)
        return start_bot(extra_env={"PROMETHEUS_URL": prometheus.url,
                                    "KUBECONFIG": kubeconfig(tmp_path / "kubeconfig", kube.url)})

    yield start
    for server in servers:
        server.stop()


def answer_texts(slack: SlackRecorder) -> list[str]:
    return [slack_text(call) for call in slack.calls("response_url")]


def test_a_slow_answer_is_preceded_by_working_on_it(gpu_bot: Callable[[float], BotProcess],
                                                    slack: SlackRecorder) -> None:
    bot = gpu_bot(3.0)

    bot.post(slash_command_body("/gpu", "", channel_id="CTEAM", response_url=slack.response_url("gpu")))

    first = slack.wait_for("response_url", timeout=2.8)[0]  # before Prometheus has answered
    assert "Working on it… (asking Prometheus and Kubernetes)" in slack_text(first)
    slack.wait_for("response_url", count=2, timeout=8)
    texts = answer_texts(slack)
    assert len(texts) == 2 and "Working on it" not in texts[1]


def test_a_fast_answer_is_the_only_reply(gpu_bot: Callable[[float], BotProcess], slack: SlackRecorder) -> None:
    bot = gpu_bot(0.0)

    bot.post(slash_command_body("/gpu", "", channel_id="CTEAM", response_url=slack.response_url("gpu")))

    slack.wait_for("response_url")
    time.sleep(3)  # the time a "working on it" notice would take, which must not come
    assert len(answer_texts(slack)) == 1 and "Working on it" not in answer_texts(slack)[0]


@pytest.fixture
def stoppable_postgres(tmp_path: Path) -> Iterator[PostgresServer]:
    database = PostgresServer(tmp_path / "pg")
    database.start()
    yield database
    database.stop()


@pytest.mark.postgres
def test_with_the_database_down_oncall_answers_naming_it_in_the_teams_language(
    start_bot: Callable[..., BotProcess], stoppable_postgres: PostgresServer, slack: SlackRecorder,
) -> None:
    bot = start_bot(bot_config(teams=[team(language="zh-CN")]), database_url=stoppable_postgres.url)
    slack.set_user("UNOLOCALE", locale=None)  # nothing to read the user's own language from
    stoppable_postgres.stop()

    bot.post(slash_command_body("/oncall", "", user_id="UNOLOCALE", channel_id="CTEAM",
                                response_url=slack.response_url("oncall")))

    answer = slack_text(slack.wait_for("response_url", timeout=10)[0])
    assert "无法从 数据库 获得答复" in answer and "DATABASE_URL" in answer
    assert "错误编号" not in answer  # a diagnosis, not an error id


def run_check(tmp_path: Path, slack: SlackRecorder, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    (tmp_path / "bot.yaml").write_text(yaml.safe_dump(bot_config()))
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
                   "DATABASE_URL": f"sqlite:///{tmp_path / 'check.db'}", "BOT_CONFIG": str(tmp_path / "bot.yaml"),
                   "SLACK_BOT_TOKEN": "xoxb-check", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": slack.base_url,
                   **env}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "bot", "check"], capture_output=True, text=True, cwd=tmp_path,
                            env=environment, timeout=90)
    return result, time.monotonic() - started


def rows(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        status, name, *detail = line.split(maxsplit=2)
        found[name] = f"{status} {' '.join(detail)}"
    return found


def test_check_probes_every_backend_at_once_and_says_how_each_failed(tmp_path: Path, slack: SlackRecorder) -> None:
    silent = [socket.create_server(("127.0.0.1", 0), backlog=16) for _ in range(3)]  # accept, never answer
    prometheus, kube, aws = (f"http://127.0.0.1:{s.getsockname()[1]}" for s in silent)
    refused = free_port()
    try:
        result, took = run_check(
            tmp_path, slack, PROMETHEUS_URL=prometheus, KUBECONFIG=kubeconfig(tmp_path / "kubeconfig", kube),
            AWS_ENDPOINT_URL=aws, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1", GITHUB_TOKEN="ghp_check", GITHUB_API_URL=f"http://127.0.0.1:{refused}")
    finally:
        for sock in silent:
            sock.close()

    assert result.returncode == 1, result.stdout + result.stderr
    # Under two probe timeouts back to back: the three silent backends were waited on at the same time. (Start-up and
    # the other rows take seconds more on a loaded machine, so one timeout plus a margin was too tight.)
    assert took < 2 * PROBE_TIMEOUT.total_seconds(), result.stdout
    found = rows(result.stdout)
    for name, url in (("Prometheus", prometheus), ("Kubernetes", kube), ("AWS", aws)):
        assert re.match(rf"FAIL connected to .*{url.removeprefix('http://')}\)? but got no answer within \d+s",
                        found[name]), found[name]
    assert found["GitHub"].startswith(f"FAIL connection refused by 127.0.0.1:{refused}; check GITHUB_API_URL")
    assert found["Slack"].startswith("ok ") and found["database"].startswith("ok ")

"""Every secret the bot can be configured with is known to the session's log scan (tests/conftest.py) and to the
bot's own redaction (`Env.secret_values`, bot/log.py), and none shows in what the bot says: `python -m bot check`
run with all of them against backends that refuse, /healthz and /metrics (test_signatures.py)."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Env
from tests.security.conftest import every_secret
from tests.support.bot_process import KUBE_TOKEN, LOG_FILES, SECRET_VALUES, SECRETS, URL_PASSWORD, BotProcess
from tests.support.config import bot_config
from tests.support.fixture_http import FixtureServer
from tests.support.slack_recorder import SlackRecorder

SECRET_WORDS = ("token", "secret", "password", "key")


def secret_settings() -> list[str]:
    """The environment variables of Env fields that hold a secret: typed SecretStr, or named like one."""
    return sorted(name.upper() for name, field in Env.model_fields.items()
                  if field.annotation is not None and ("SecretStr" in repr(field.annotation)
                                                       or any(word in name for word in SECRET_WORDS)))


def test_every_secret_setting_has_a_distinctive_value_in_the_scan_list() -> None:
    found = secret_settings()

    assert found, "no secret settings found: the introspection is broken"
    assert [name for name in found if name not in SECRETS] == [], \
        "add the new secret setting to SECRETS in tests/support/bot_process.py"
    assert set(SECRETS.values()) <= set(SECRET_VALUES)


def test_the_introspection_sees_each_kind_of_secret_setting() -> None:
    assert {"SLACK_SIGNING_SECRET", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "PAGERDUTY_ROUTING_KEY",
            "ALERTMANAGER_TOKEN"} <= set(secret_settings())
    assert "PORT" not in secret_settings() and "KUBECONFIG" not in secret_settings()


def test_the_bot_redacts_every_secret_it_is_configured_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    for name, value in every_secret(tmp_path, "http://127.0.0.1:9").items():
        monkeypatch.setenv(name, value)

    redacted = Env().secret_values()

    assert [s for s in SECRET_VALUES if s not in redacted] == []


def test_check_with_every_secret_against_refusing_backends_prints_none_of_them(tmp_path: Path,
                                                                               slack: SlackRecorder) -> None:
    with FixtureServer() as refusing:  # no routes: 404 to everything
        bot = BotProcess(tmp_path, slack.base_url, bot_config(), extra_env=every_secret(tmp_path, refusing.url))
        result = subprocess.run([sys.executable, "-m", "bot", "check"], cwd=tmp_path, env=bot.env,
                                capture_output=True, text=True, timeout=60)
        sent = [request.headers.get("authorization", "") for request in refusing.requests()]
    (tmp_path / "check.log").write_text(result.stdout + result.stderr)
    LOG_FILES.append(tmp_path / "check.log")  # the session's scan reads it too

    said = result.stdout + result.stderr
    assert "FAIL  database" in said and "127.0.0.1" in said  # it did try each backend, and says where
    [guards] = [line for line in result.stdout.splitlines() if line.split()[1:3] == ["cost", "guards"]]
    assert guards.startswith("skip") and "the database is unreachable" in guards  # not a traceback
    assert "prometheus" in said.lower() and "github" in said.lower() and "kubernetes" in said.lower()
    assert f"Bearer {KUBE_TOKEN}" in sent and any(SECRETS["GITHUB_TOKEN"] in header for header in sent)
    assert f"Basic {base64.b64encode(f'scan:{URL_PASSWORD}'.encode()).decode()}" in sent
    assert [s for s in SECRET_VALUES if s in said] == []

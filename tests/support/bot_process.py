"""Runs `python -m bot serve` as a real subprocess and talks to it over signed HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support.servers import free_port
from tests.support.signing import signed_headers
from tests.support.waiting import wait_until

SIGNING_SECRET = "e2e-signing-secret-3f9a1c"
BOT_TOKEN = "xoxb-e2e-1111-2222-abcdefabcdef"
APP_TOKEN = "xapp-1-A1-e2e-app-token-7d41c0"  # in every bot's environment; unused unless it runs Socket Mode
ROOT = Path(__file__).resolve().parents[2]
# A distinctive value for every secret setting (tests/security/test_secrets.py fails when bot/settings.py gains one
# that is missing here). Only the Slack ones are in every bot's environment: the others switch a backend on, so a
# test that wants them passes `SECRETS` (with the backends' URLs) as extra_env, as tests/security does.
SECRETS = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "SLACK_APP_TOKEN": APP_TOKEN,
    "AWS_ACCESS_KEY_ID": "AKIAE2E0SECRET0SCAN1",
    "AWS_SECRET_ACCESS_KEY": "e2e-aws-secret-key-0b1d7f0c9e2a",
    "GITHUB_TOKEN": "ghp_e2eGithubToken0000000000secretscan",
    "PAGERDUTY_ROUTING_KEY": "e2e-pagerduty-routing-key-8c3f",
    "ALERTMANAGER_TOKEN": "e2e-alertmanager-token-51a9d2",
}
DATABASE_PASSWORD = "e2e-database-password-66e0"  # in a postgresql:// DATABASE_URL
URL_PASSWORD = "e2e-url-password-2f84"  # in an http://user:password@host backend URL (Prometheus, Alertmanager)
KUBE_TOKEN = "e2e-kube-token-a3c7e5"  # users[].user.token in a kubeconfig
SECRET_VALUES = (*SECRETS.values(), DATABASE_PASSWORD, URL_PASSWORD, KUBE_TOKEN)
LOG_FILES: list[Path] = []  # every bot log of the session, scanned for secrets at the end


class BotProcess:
    def __init__(self, workdir: Path, slack_api_url: str, config: dict[str, Any] | None = None,
                 database_url: str | None = None, extra_env: dict[str, str] | None = None,
                 mode: str = "serve") -> None:
        self.mode = mode
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config_path = workdir / "bot.yaml"
        config_path.write_text(yaml.safe_dump(config or {}, allow_unicode=True))
        self.env = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "PYTHONPATH": str(ROOT),
            "SLACK_API_URL": slack_api_url, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "DATABASE_URL": database_url or f"sqlite:///{workdir / 'bot.db'}", "BOT_CONFIG": str(config_path),
            "PORT": str(self.port), "LOG_LEVEL": "DEBUG", **(extra_env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"bot-{self.starts}.log"

    def start(self, timeout: float = 20) -> float:
        """Start and wait for /healthz; returns the seconds from spawn to healthy."""
        self.starts += 1
        LOG_FILES.append(self.log_path)
        log = self.log_path.open("wb")
        started = time.perf_counter()
        args = ["serve", "--host", "127.0.0.1"] if self.mode == "serve" else [self.mode]
        self.process = subprocess.Popen([sys.executable, "-m", "bot", *args],
                                        cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._healthy, timeout, message=f"bot on {self.url} to answer /healthz")
        return time.perf_counter() - started

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"bot exited with {self.process.returncode}:\n{self.log_path.read_text()[-3000:]}")
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.workdir.glob("bot-*.log"))

    def post(self, body: bytes, headers: dict[str, str] | None = None, path: str = "/slack/events",
             secret: str = SIGNING_SECRET, ts: int | None = None) -> requests.Response:
        signed = signed_headers(secret, body, ts=ts)
        return requests.post(self.url + path, data=body, headers={**signed, **(headers or {})}, timeout=10)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=5)

    def metric(self, name: str) -> float:
        """Sum of a Prometheus metric's samples from /metrics."""
        total = 0.0
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                head = line.split(" ")[0]
                if head == name or head.startswith(name + "{"):
                    total += float(line.rsplit(" ", 1)[1])
        return total

"""A setting that would break the bot stops `python -m bot` at start: `configuration error: …`, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.bot_process import ROOT
from tests.support.servers import free_port

PG_PASSWORD = "pg-pa55-w0rd"


def run_bot(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot …` in an empty directory: no .env, no config/bot.yaml, a fresh SQLite database."""
    environment = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT),
                   "DATABASE_URL": f"sqlite:///{cwd / 'bot.db'}", **env}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=cwd,
                          env=environment, timeout=30)


def invalid_utf8_yaml(cwd: Path) -> dict[str, str]:
    path = cwd / "bot.yaml"
    path.write_bytes(b"teams:\n  - name: caf\xe9\n")
    return {"BOT_CONFIG": str(path)}


def unreachable_postgres(_cwd: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"postgresql://bot:{PG_PASSWORD}@127.0.0.1:{free_port()}/emoji"}


# (environment for the case, what stderr must name)
CASES: dict[str, tuple[Callable[[Path], dict[str, str]], list[str]]] = {
    "port-not-a-number": (lambda _: {"PORT": "abc"}, ["PORT = 'abc'", "1 to 65535"]),
    "port-out-of-range": (lambda _: {"PORT": "99999"}, ["PORT = '99999'", "1 to 65535"]),
    "log-level": (lambda _: {"LOG_LEVEL": "verbose"}, ["LOG_LEVEL = 'verbose'", "DEBUG, INFO, WARNING"]),
    "database-url": (lambda _: {"DATABASE_URL": "not a url"}, ["DATABASE_URL = 'not a url'", "sqlite:///"]),
    "bot-config-missing": (lambda cwd: {"BOT_CONFIG": str(cwd / "typo.yaml")}, ["BOT_CONFIG=", "no such file"]),
    "bot-config-directory": (lambda cwd: {"BOT_CONFIG": str(cwd)}, ["BOT_CONFIG=", "is a directory"]),
    "yaml-not-utf8": (invalid_utf8_yaml, ["bot.yaml", "not valid UTF-8 at byte 20"]),
    "postgres-unreachable": (unreachable_postgres, ["DATABASE_URL", "cannot connect", "connection refused",
                                                    "that the server is running"]),
}


@pytest.mark.parametrize("case", CASES)
def test_migrate_refuses_a_bad_setting_with_a_configuration_error(tmp_path: Path, case: str) -> None:
    make_env, named = CASES[case]

    result = run_bot(["migrate"], tmp_path, **make_env(tmp_path))

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("configuration error: ")
    for text in named:
        assert text in result.stderr
    assert "Traceback" not in result.stderr
    assert PG_PASSWORD not in result.stderr


@pytest.mark.parametrize("case", ["port-not-a-number", "bot-config-missing"])
def test_check_shows_a_failed_config_row_for_the_same_mistakes(tmp_path: Path, case: str) -> None:
    make_env, named = CASES[case]

    result = run_bot(["check"], tmp_path, **make_env(tmp_path))

    assert result.returncode == 1
    assert result.stdout.startswith("FAIL  config")
    for text in named:
        assert text in result.stdout
    assert "Traceback" not in result.stderr


def test_serve_refuses_to_start_when_postgres_is_unreachable(tmp_path: Path) -> None:
    result = run_bot(["serve"], tmp_path, SLACK_BOT_TOKEN="xoxb-x", SLACK_SIGNING_SECRET="s",
                     **unreachable_postgres(tmp_path))

    assert result.returncode == 2, result.stderr
    assert "configuration error: DATABASE_URL: cannot connect to the database at 127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr and PG_PASSWORD not in result.stderr


def test_check_names_an_unreachable_database_plainly(tmp_path: Path) -> None:
    result = run_bot(["check"], tmp_path, **unreachable_postgres(tmp_path))

    [row] = [line for line in result.stdout.splitlines() if " database " in line]
    assert row.startswith("FAIL") and "cannot connect to the database at 127.0.0.1:" in row
    assert "connection refused" in row and "OperationalError" not in row and PG_PASSWORD not in result.stdout

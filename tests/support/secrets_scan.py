"""Session-wide guarantee: no secret value ever shows up in a bot log (files or in-process logging)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

IN_PROCESS = "<in-process logging>"


@dataclass(frozen=True)
class Leak:
    source: str  # a log file's path, or IN_PROCESS
    line: int    # 1-based
    secret: str

    def describe(self) -> str:
        """Where the secret leaked, naming it only by a masked hint (the report must not leak it again)."""
        return f"{self.source}:{self.line}: secret {mask(self.secret)} appears in the log"


def mask(secret: str) -> str:
    return f"{secret[:4]}…({len(secret)} chars)" if len(secret) > 8 else f"…({len(secret)} chars)"


def scan_lines(lines: Iterable[str], secrets: Iterable[str], source: str) -> list[Leak]:
    wanted = [s for s in dict.fromkeys(secrets) if s]
    return [Leak(source, number, secret)
            for number, line in enumerate(lines, start=1) for secret in wanted if secret in line]


def scan_logs(files: Iterable[Path], in_process: Iterable[str], secrets: Iterable[str]) -> list[Leak]:
    """Every occurrence of a secret in the given log files (missing ones skipped) and in-process lines."""
    secrets = list(secrets)
    leaks: list[Leak] = []
    for path in dict.fromkeys(files):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            leaks += scan_lines(text.splitlines(), secrets, str(path))
    leaks += scan_lines(in_process, secrets, IN_PROCESS)
    return leaks


class LineRecorder(logging.Handler):
    """Keeps every formatted log line (message, extras and traceback) in memory for the final scan."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        from pythonjsonlogger.json import JsonFormatter

        self.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.handleError(record)

    def attach(self) -> None:
        """(Re)attach to the root logger; `bot.log.configure_logging` replaces the root's handlers."""
        root = logging.getLogger()
        if self not in root.handlers:
            root.addHandler(self)

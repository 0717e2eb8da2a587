"""How the fuzz targets are driven: the settings every target runs with, the bot they run against, the slash
command bodies and clicks they send, and the parse-only services the 10,000-case command target uses.

- `fuzz(share)`: the active hypothesis profile (tests/conftest.py: "fuzz" in CI, ten times the cases with
  --deep), with `share` of its cases for targets that go end to end through the real Bolt app;
- `FuzzBot`: one in-process bot (tests/support/inprocess.py) over its own Slack recorder and SQLite, with an
  English and a Chinese reader, an English and a Chinese team and one open incident;
- `ParsingOnly`: the bot's services as a command's parsing sees them. Config, clock, users and languages are
  real, and so are the reads a command needs to resolve what was typed (the incident in this channel, #12);
  any other domain call raises `Reached`, naming the call and its arguments, so the target checks what the
  parser handed the domain instead of paying for incidents opened and charts drawn;
- `crashes()`: error records logged meanwhile (answering_failures' "failed; error id", Bolt's "Failed to run
  an internal function"): an exception that a handler did not expect, even when the user saw a polite reply.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import ftfy
from hypothesis import settings

from bot.clients.chat import ChannelPacer
from bot.i18n import t
from bot.incidents.desk import OpenRequest
from bot.services import Services
from bot.settings import Config, Team
from handlers.common import Reply, responder
from tests.fuzz.invariants import Typed
from tests.support.config import bot_config, team
from tests.support.inprocess import dispatch, make_bot
from tests.support.signing import event_body, interactivity_body, slash_command_body
from tests.support.slack_recorder import SlackRecorder

EN_USER, ZH_USER = "UFUZZEN", "UFUZZZH"  # the English reader is an admin: permissions never stop the parsing
READERS = {EN_USER: "en", ZH_USER: "zh-CN"}
ZH_TEAM = "数据平台"
NAMES = f"ml-platform {ZH_TEAM} organisation"  # configured names a reply may show whatever the reader's language
CHANNELS = ("CTEAM", "CZH", "CNOTEAM")  # ml-platform's (English), 数据平台's (Chinese), no team's
MAX_INCIDENT = 2**31 - 1


def fuzz(share: float = 1.0) -> settings:
    """The active fuzz profile, with `share` of its cases."""
    profile = settings.get_profile("fuzz")
    return settings(profile, max_examples=max(1, int(profile.max_examples * share)))


def fuzz_config(**sections: Any) -> dict[str, Any]:
    """An English team in CTEAM, a Chinese one in CZH, EN_USER an admin; `sections` replace top-level ones."""
    return bot_config(teams=[team(), team(ZH_TEAM, channel="CZH", language="zh-CN", timezone="Europe/Berlin",
                                          namespaces=["data"], cost_tag="data")],
                      admins=[EN_USER], alerts={"default_channel": "CALERTS"}, **sections)


class FuzzBot:
    """The in-process bot the fuzz targets share: services, the Bolt app and the Slack recorder it talks to."""

    def __init__(self, tmp: Path, database_url: str | None = None, **sections: Any) -> None:
        self.slack = SlackRecorder()
        self.slack.start()
        self.services, self.app = make_bot(database_url or f"sqlite:///{tmp / 'bot.db'}", self.slack,
                                           fuzz_config(**sections))
        # Thousands of cases page the same on-call person: Slack's pace per channel (a burst of three, then one post
        # a second) would make that hours. The pacer is tested on its own; here it never holds a post back.
        self.services.chat.pacer = ChannelPacer(burst=10**9)
        self._messages = itertools.count(1)
        self.slack.set_user(ZH_USER, locale="zh-CN", tz="Asia/Shanghai")
        opened, _ = self.services.incidents.open(OpenRequest(reporter=EN_USER, source="command", channel="CTEAM",
                                                             title="fuzz target"))
        self.incident = opened
        self.incident_channel = str(opened.channel_id)
        # Everything supplied so far: what people typed piles up in incidents and notes others are shown later.
        self.typed = Typed(NAMES, *(t("incident.placeholder_title", lang, channel=channel)
                                    for lang in ("en", "zh-CN") for channel in (*CHANNELS, self.incident_channel)))

    def close(self) -> None:
        self.services.engine.dispose()
        self.slack.stop()

    def supplied(self, text: str) -> None:
        """`text` came from outside: the bot may show it back, repaired as incident titles are (titles.py)."""
        self.typed.add(text)
        self.typed.add(ftfy.fix_text(text[:20000]))

    def command(self, name: str, text: str, user: str, channel: str) -> Any:
        """The slash command through the real Bolt app; its replies are the response_url calls."""
        self.supplied(text)
        self.slack.clear()
        return dispatch(self.app, slash_command_body(name, text, user_id=user, channel_id=channel,
                                                     response_url=self.slack.response_url("fuzz")))

    def message(self, text: str, user: str, channel: str) -> Any:
        """A message event (a new message each time: combos fire once per message, ever)."""
        self.supplied(text)
        self.slack.clear()
        ts = f"1800000000.{next(self._messages):06d}"
        return dispatch(self.app, event_body({"type": "message", "channel": channel, "user": user, "text": text,
                                              "ts": ts, "event_ts": ts, "channel_type": "channel"}))

    def interact(self, payload: dict[str, Any]) -> Any:
        """A block_actions or view_submission payload through Bolt; its response_url is the recorder's."""
        if "response_url" in payload:
            payload = {**payload, "response_url": self.slack.response_url("fuzz")}
        self.slack.clear()
        return dispatch(self.app, interactivity_body(payload))


def command_body(name: str, text: str, user: str, channel: str) -> dict[str, Any]:
    """A slash command as Bolt hands it to a listener."""
    return {"command": name, "text": text, "user_id": user, "channel_id": channel, "channel_name": channel.lower(),
            "response_url": "https://hooks.slack.com/commands/T1/1/fuzz", "trigger_id": "1.1.fuzz"}


class Sent(list[dict[str, Any]]):
    """What a response_url received: `reply` is the bot's own responder in front of it."""

    @property
    def reply(self) -> Reply:
        return responder(lambda **body: self.append(body))


# Parse-only services ------------------------------------------------------------------------------------------
class Reached(BaseException):
    """The command got past its parsing to the domain: `call` ("incidents.open") with `args`."""

    def __init__(self, call: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().__init__(call)
        self.call, self.args, self.kwargs = call, args, kwargs

    def values(self) -> list[Any]:
        """Every argument, and the fields of dataclass arguments (an OpenRequest's title, an override's user)."""
        found: list[Any] = []
        for value in [*self.args, *self.kwargs.values()]:
            found.append(value)
            if is_dataclass(value) and not isinstance(value, type):
                found += [getattr(value, f.name) for f in fields(value)]
        return found


READS = {"incidents": {"load", "in_channel", "team_zone", "next_page"}, "oncall": {"teams_with_rotations"},
         "alerts": {"team_zone"}}


class _Domain:
    def __init__(self, name: str, real: Callable[[], Any]) -> None:
        self._name, self._real = name, real

    def __getattr__(self, method: str) -> Any:
        if method in READS.get(self._name, ()):
            return getattr(self._real(), method)

        def reached(*args: Any, **kwargs: Any) -> Any:
            raise Reached(f"{self._name}.{method}", args, kwargs)
        return reached


class ParsingOnly:
    """See the module docstring."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self.config, self.clock, self.users = services.config, services.clock, services.users
        self.kube_configured = False

    def language(self, user_id: str | None, team: Team) -> str:
        return self._services.language(user_id, team)

    def __getattr__(self, name: str) -> _Domain:
        return _Domain(name, lambda: getattr(self._services, name))


_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")


def reached_problems(reached: Reached, config: Config) -> list[str]:
    """What a parser must never hand the domain, whatever was typed."""
    problems = [f"{reached.call} got the unconfigured team {value.name!r}" for value in reached.values()
                if isinstance(value, Team) and value.name != "organisation" and config.team_named(value.name) is None]
    check = _EXPECTED.get(reached.call)
    return problems + (check(reached, config) if check else [])


def _opened(reached: Reached, config: Config) -> list[str]:
    request: OpenRequest = reached.args[0]
    named = (request.title or "").strip() or request.text or request.message_ts  # the title, or where to read it
    problems = [] if named else ["incidents.open with no title, no text and no message"]
    if request.severity is not None and request.severity not in config.incidents.severities:
        problems.append(f"incidents.open with the unknown severity {request.severity!r}")
    return problems


def _severity(reached: Reached, config: Config) -> list[str]:
    name = reached.args[1]
    return [] if name in config.incidents.severities else [f"set_severity to the unknown {name!r}"]


def _stats(reached: Reached, config: Config) -> list[str]:
    days = reached.args[0]
    return [] if 1 <= days <= 365 else [f"incidents.stats over {days} days"]


def _quiet(reached: Reached, config: Config) -> list[str]:
    duration: timedelta = reached.args[1]
    return [] if timedelta(minutes=1) <= duration <= timedelta(days=7) else [f"alerts.quiet for {duration}"]


def _override(reached: Reached, config: Config) -> list[str]:
    user = reached.args[0].user
    return [] if _USER_ID.match(user) else [f"an override for {user!r}, not a user id"]


def _nudge(reached: Reached, config: Config) -> list[str]:
    request = reached.args[1]
    return [] if 1 <= request.number <= 999_999_999 and request.repo.count("/") == 1 else [f"a nudge for {request}"]


def _breakdown(reached: Reached, config: Config) -> list[str]:
    kind, days = reached.args[0], reached.args[1]
    return [] if kind in ("team", "service", "project") and 1 <= days <= 365 else [f"spend.breakdown({kind}, {days})"]


def _incident_id(reached: Reached, config: Config) -> list[str]:
    number = reached.args[0]
    return [] if isinstance(number, int) and 1 <= number <= MAX_INCIDENT else [f"{reached.call}({number!r})"]


_EXPECTED: dict[str, Callable[[Reached, Config], list[str]]] = {
    "incidents.open": _opened, "incidents.set_severity": _severity, "incidents.stats": _stats,
    "incidents.acknowledge": _incident_id, "incidents.resolve": _incident_id, "incidents.note": _incident_id,
    "alerts.quiet": _quiet, "oncall.save": _override, "nudges.nudge": _nudge, "spend.breakdown": _breakdown,
}


class _NeverFires:
    """A threading.Timer that never starts a thread."""

    daemon = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def start(self) -> None:
        pass

    def cancel(self) -> None:
        pass


@contextmanager
def without_working_notice() -> Iterator[None]:
    """handlers.common's "working on it…" notice, which needs a thread per command, never armed: parsing is
    answered in microseconds, and a thread per case would be most of the parse-only target's time."""
    with mock.patch("handlers.common.threading", SimpleNamespace(Lock=threading.Lock, Timer=_NeverFires)):
        yield


# Crashes ------------------------------------------------------------------------------------------------------
class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        detail = f" ({record.exc_info[0].__name__}: {record.exc_info[1]})" if record.exc_info and record.exc_info[0] \
            else ""
        self.lines.append(f"{record.name}: {record.getMessage()}{detail}")


@contextmanager
def crashes() -> Iterator[list[str]]:
    """Error records logged inside, as "logger: message (Exception: detail)" lines."""
    handler = _Errors()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)


def click_payload(action_id: str, value: Any, user: str, channel: str | None, message_ts: str | None = None,
                  **extra: Any) -> dict[str, Any]:
    """A block_actions payload as Slack sends it for a button in a message (or, channel None, in a modal or DM)."""
    payload: dict[str, Any] = {"type": "block_actions", "user": {"id": user}, "trigger_id": "1.1.fuzz",
                               "response_url": "https://hooks.slack.com/actions/T1/1/fuzz",
                               "actions": [{"action_id": action_id, "type": "button", "value": value}], **extra}
    if channel is not None:
        payload["channel"] = {"id": channel}
        payload["container"] = {"type": "message", "channel_id": channel, "message_ts": message_ts or "1.000100"}
        payload["message"] = {"ts": message_ts or "1.000100"}
    return payload


# Counting ----------------------------------------------------------------------------------------------------
@dataclass
class Tally:
    cases: int = 0
    seconds: float = 0.0  # from the target's first case to its last (summed over the xdist workers that ran it)


TALLIES: dict[str, Tally] = {}
_FIRST_CASE: dict[str, float] = {}  # perf_counter() at each target's first case in this process


def tally(target: str) -> None:
    """One generated case of `target` ran (tests/conftest.py prints the counts at the end)."""
    now = time.perf_counter()
    found = TALLIES.setdefault(target, Tally())
    found.cases += 1
    found.seconds = now - _FIRST_CASE.setdefault(target, now)


def sent() -> dict[str, list[float]]:
    """This process's tallies as an xdist worker sends them to the controller: target → [cases, seconds]."""
    return {target: [found.cases, found.seconds] for target, found in TALLIES.items()}


def add_sent(tallies: dict[str, list[float]]) -> None:
    """On the xdist controller: add a worker's tallies (see `sent`) to the counts printed at the end."""
    for target, (cases, seconds) in tallies.items():
        found = TALLIES.setdefault(target, Tally())
        found.cases += int(cases)
        found.seconds += seconds

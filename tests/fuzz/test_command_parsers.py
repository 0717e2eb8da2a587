"""Every command parser under hostile words (issue #13): 10,000 generated cases, each run through all seven slash
commands, each of its words through the parsers of times, durations and numbers on their own, and the whole
through the escaping every reply relies on (bot/escape.py `escape` and `defuse`).

Targets: `handlers.common.run_command` and `invocation` (the words of every command in each handler module's
COMMANDS table), the subcommand parsers of /incident (declare, ack, mitigated, resolve, escalate, note,
severity, status, stats, context; `incident_number`, `period_days`, `severity_named`), /oncall (override:
`bot.oncall.service.override_request`, `bot.oncall.when.parse_when` / `override_window`), /gpu, /spend
(`bot.spend.model.report_days`), /review (nudge: `bot.review.parse.parse_nudge` / `parse_time`, remind),
/alerts (noisy, quiet: `bot.durations.parse_duration`) and /digest (preview), team names (`resolve_team`).

The commands run on parse-only services (tests/fuzz/harness.py ParsingOnly): the reply, or the domain call the
words led to, is what is checked. Invariants: nothing raises, every reply is valid Block Kit within Slack's
limits, carries no broadcast or foreign mention, no traceback or error id, and is in the reader's language; the
domain only ever gets configured teams and severities, incident numbers the database holds, durations and
periods within their bounds, user ids where users are meant.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.durations import format_duration, parse_duration
from bot.escape import defuse, escape
from bot.oncall.service import OverrideRefused, override_request
from bot.oncall.when import WhenError, override_window
from bot.review.parse import BadPullRequest, BadTime, parse_nudge, parse_time
from bot.spend.model import ReportDaysError, report_days
from handlers import alerts, digest, gpu, incidents, oncall, review, spend
from handlers.common import UsageError, run_command
from handlers.incidents import NUMBER, PERIOD, incident_number, period_days
from tests.fuzz import invariants
from tests.fuzz.harness import (
    CHANNELS,
    NAMES,
    READERS,
    FuzzBot,
    ParsingOnly,
    Reached,
    Sent,
    command_body,
    crashes,
    fuzz,
    reached_problems,
    tally,
    without_working_notice,
)
from tests.fuzz.invariants import Typed
from tests.fuzz.strategies import SUBCOMMANDS, grammatical, hostile_text, words
from tests.support.payload_safety import unsafe_markup

COMMANDS = {name: command for module in (incidents, oncall, gpu, spend, review, alerts, digest)
            for name, command in module.COMMANDS.items()}
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def run_parsers(bot: FuzzBot, case: tuple[str, str, str], pick: int, user: str, channel: str) -> list[str]:
    """The words of `case` (command, subcommand, args) after the subcommand it names for that command, and after
    the `pick`th subcommand for every other command; every problem found."""
    focus, focus_subcommand, args = case
    parsing = ParsingOnly(bot.services)
    problems: list[str] = []
    with without_working_notice():
        for name, subcommands in SUBCOMMANDS.items():
            text = f"{focus_subcommand if name == focus else subcommands[pick % len(subcommands)]} {args}"
            problems += [f"{name} {text!r}: {p}" for p in parse(bot, parsing, name, text, user, channel)]
    return problems


def parse(bot: FuzzBot, parsing: ParsingOnly, name: str, text: str, user: str, channel: str) -> list[str]:
    """One command run on the parse-only services: what is wrong with its replies or the domain call reached."""
    sent = Sent()
    problems: list[str] = []
    with crashes() as errors:
        try:
            run_command(parsing, COMMANDS[name], command_body(name, text, user, channel), sent.reply)  # type: ignore[arg-type]
        except Reached as reached:
            problems += reached_problems(reached, bot.services.config)
        else:
            problems += [] if sent else ["no reply at all"]
    typed = Typed(text, NAMES)
    return problems + errors + [p for body in sent for p in invariants.problems(body, READERS[user], typed)]


@fuzz()
@given(case=grammatical | (words | hostile_text).map(lambda args: ("", "", args)), pick=st.integers(0, 11),
       user=st.sampled_from(sorted(READERS)), channel=st.sampled_from([*CHANNELS, "INCIDENT"]))
@example(case=("/spend", "²", ""), pick=0, user="UFUZZEN", channel="CTEAM")  # a digit int() can't read
@example(case=("", "", "99999999999w +99999999999w"), pick=0, user="UFUZZEN", channel="CTEAM")
@example(case=("/alerts", "quiet", "ml-platform 1.5h"), pick=0, user="UFUZZEN", channel="CTEAM")  # said as 1h30m
@example(case=("", "", "<!group> <!CHANNEL> <!channel|x>"), pick=0, user="UFUZZEN", channel="CTEAM")  # defuse
def test_every_command_parser(bot: FuzzBot, case: tuple[str, str, str], pick: int, user: str, channel: str) -> None:
    """The words through all seven commands, each word (and all of them) through the value parsers, and through
    the escaping every reply relies on (bot/escape.py: `escape` at `t()`, `defuse` before anything is sent)."""
    tally("command parsers (7 commands, 9 value parsers and escaping each)")
    channel = bot.incident_channel if channel == "INCIDENT" else channel
    problems = run_parsers(bot, case, pick, user, channel)
    zone = ZONES[pick % len(ZONES)]
    problems += [p for text in [case[2], *case[2].split()[:6]] for p in value_parser_problems(text, zone)]
    problems += [f"escape left {p}" for p in unsafe_markup(escape(case[2]))]
    problems += [f"defuse left {p}" for p in unsafe_markup(defuse(case[2])) if "canary" not in p]  # keeps <@U…>
    assert problems == [], '\n'.join(problems)


# The parsers of times, durations and numbers on their own --------------------------------------------------------
ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe")


def _refused_or(parse, *refusals: type[Exception]):  # type: ignore[no-untyped-def]
    """`parse`'s result, or None when it refused the text with one of `refusals`."""
    try:
        return parse()
    except refusals:
        return None


def value_parser_problems(text: str, zone: str) -> list[str]:
    """Each parser reads `text` into a value within its bounds, or refuses it with its own refusal."""
    found = []
    duration = _refused_or(lambda: parse_duration(text), ValueError)
    if duration is not None and parse_duration(format_duration(duration)) > duration:
        found.append(f"{text!r}: {duration} printed as {format_duration(duration)}, longer")
    window = _refused_or(lambda: override_window("now", text, zone, NOW), WhenError)
    if window is not None and not (NOW <= window[0] < window[1] and window[1] - window[0] <= parse_duration("90d")):
        found.append(f"{text!r}: the override window {window}")
    due = _refused_or(lambda: parse_time(text, NOW, ZoneInfo(zone), time(10)), BadTime)
    found += [f"{text!r}: a nudge due at {due}, not after now"] if due is not None and due <= NOW else []
    days = _refused_or(lambda: report_days(text), ReportDaysError)
    found += [f"{text!r}: {days} days of spend"] if days is not None and not 1 <= days <= 90 else []
    if NUMBER.match(text):  # as /incident reads a word: only one that looks like a number is one
        number = _refused_or(lambda: incident_number(text, "en"), UsageError)
        found += [f"{text!r}: incident {number}"] if number is not None and not 1 <= number <= 2**31 - 1 else []
    if PERIOD.match(text.lower()):
        period = _refused_or(lambda: period_days(text, "en"), UsageError)
        found += [f"{text!r}: a period of {period} days"] if period is not None and not 1 <= period <= 365 else []
    nudge = _refused_or(lambda: parse_nudge(text), BadPullRequest, BadTime)
    found += [f"{text!r}: pull request {nudge.number}"] if nudge is not None and nudge.number < 0 else []
    _refused_or(lambda: override_request(text.split()), OverrideRefused)
    return found


@pytest.mark.parametrize("text", ["²", "³⁰d", "2²d", "9" * 5000 + "d"])
def test_digits_int_cannot_read_are_no_number_of_days(text: str) -> None:
    with pytest.raises(ReportDaysError):
        report_days(text)

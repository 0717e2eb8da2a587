"""Hypothesis strategies for hostile input: corpus items (corpus.py), Slack markup with canary ids, random Unicode,
words that are almost what a parser wants (`sev１`, `#-1`, `30dd`, `+8h`, an ISO time in a DST gap), and the
shapes of what Slack and Alertmanager send (slash command words, button values, view states, webhook bodies).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.corpus import NASTIES, SHORT

nasty = st.sampled_from(sorted(NASTIES.values(), key=len))  # shrinks toward the short ones
short_nasty = st.sampled_from(sorted(SHORT.values(), key=len))

_MENTIONED = st.sampled_from(["UEVIL1", "WEVIL2", "UEVIL3|boss", "C0EVIL", "C0EVIL|general", "channel", "here",
                              "everyone", "group", "subteam^SEVIL1", "subteam^SEVIL1|@oncall", "here|here",
                              "date^1392734382^{date}|Feb 18th"])
markup = st.builds(lambda sigil, target: f"<{sigil}{target}>", st.sampled_from(["@", "#", "!"]), _MENTIONED) | \
    st.builds(lambda url, label: f"<{url}|{label}>", st.sampled_from(["https://evil.example", "mailto:a@b.c"]),
              st.text(max_size=12))

_ALMOST = ["sev1", "SEV2", "sev9", "sev", "1", "#1", "#0", "#-1", "-1", "0", "2147483647", "2147483648", "#12",
           "30d", "365d", "366d", "0d", "7d", "30dd", "d", "1h", "+8h", "+1.5h", "+0s", "+91d", "+99999999999w",
           "now", "NOW", "today", "tomorrow", "fri", "周五", "明天", "15:00", "24:00", "9:60", "2026-11-24",
           "2026-11-24T09:00", "2026-03-29T02:30", "2026-10-25T02:30", "2026-11-24T09:00+08:00", "2029-01-01",
           "9999-12-31T23:59", "0001-01-01", "by", "because", "在", "因为", "on", "off", "daily", "weekly", "每日",
           "ml-platform", "#ml-platform", "数据平台", "organisation", "team", "service", "project", "resolution:",
           "解决：", "acme/api#12", "https://github.com/acme/api/pull/12", "<https://github.com/acme/api/pull/7|#7>",
           "<@UFUZZEN>", "<@UDRI1>", "help", "-h", "--help", "1st line", "2nd", "ns/pod", "i-0123456789abcdef0"]
almost = st.sampled_from(_ALMOST)

token = st.one_of(almost, short_nasty, markup, st.text(max_size=16), st.integers().map(str),
                  st.builds(lambda a, b: a + b, almost, st.text(max_size=3)))
words = st.lists(token, max_size=6).map(lambda parts: " ".join(parts))

STORM = {"reporter": "UFUZZEN", "incident": 1, "channel": "CTEAM", "ts": "1.000100", "source": "reaction",
         "emoji": "🔥💥"}
NIGHT = {"team": "ml-platform", "night": "2026-11-24", "instance": "i-0123456789abcdef0"}
# What the bot puts in each button and menu option (bot/*/render.py), by action id.
BUTTON_VALUES: dict[str, Any] = {
    **dict.fromkeys(("incident_undo", "incident_ack", "incident_mitigated", "incident_resolve", "incident_escalate",
                     "alerts_silence", "alerts_incident", "alerts_noisy"), "1"),
    "incident_severity": "1:sev1", "incident_join": STORM, "incident_open_new": STORM,
    "gpu_notify": {"pod": "ml/train-0"}, "gpu_snooze": {"pod": "ml/train-0"},
    **{key: {"nudge": 1} for key in ("review_reviewing", "review_cant", "review_snooze")},
    **{key: NIGHT for key in ("spend_postpone", "spend_stop_now", "spend_keep")},
    "spend_snapshots_delete": "plan-1",
}

# Every subcommand of every slash command (handlers/*.py), "" for none.
SUBCOMMANDS = {
    "/incident": ("declare", "ack", "mitigated", "resolve", "escalate", "note", "severity", "status", "stats",
                  "context", "", "help"),
    "/oncall": ("", "override", "ml-platform"),
    "/gpu": ("", "node", "ns", "namespace", "team", "idle", "queue", "health"),
    "/spend": ("", "by", "team", "project", "burn", "snapshots", "shutdown", "30d"),
    "/review": ("", "team", "nudge", "remind"),
    "/alerts": ("", "noisy", "quiet"),
    "/digest": ("", "preview", "help"),
}

_TEAMS = ("ml-platform", "#ml-platform", "数据平台", "ML-PLATFORM", "organisation", "data")
_NUMBERS = ("1", "#1", "12", "#2147483647", "2147483648", "")
_TITLE = ("checkout", "down", "500s", "db", "")
_SEVERITIES = ("sev1", "SEV2", "sev3", "4", "sev9", "")
_TIMES = ("now", "+1h", "+8h", "+90d", "+91d", "2026-11-24T09:00", "2026-11-25T09:00+08:00", "2026-03-29T02:30",
          "2026-10-25T02:30", "2027-01-01")
_REVIEW_TIMES = ("tomorrow", "15:00", "fri", "明天", "2026-12-01", "10:00", "")
_PERIODS = ("7d", "30d", "365d", "90d", "")
_DURATIONS = ("30s", "1m", "10m", "2h", "7d", "8d", "1.5h")
# The words each subcommand takes, slot by slot (`override <@U…> <from> <to> [team] [tier]`); every slot may also
# be any hostile token, or left out.
GRAMMAR: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    ("/incident", "declare"): (_TITLE, _TITLE, _SEVERITIES),
    ("/incident", "ack"): (_NUMBERS,),
    ("/incident", "resolve"): (_NUMBERS,),
    ("/incident", "note"): (_NUMBERS, ("resolution:", "解决：", "Resolution :", "note"), _TITLE),
    ("/incident", "severity"): (_NUMBERS, _SEVERITIES),
    ("/incident", "status"): (_NUMBERS,),
    ("/incident", "stats"): (_PERIODS, _TEAMS),
    ("/oncall", ""): (_TEAMS,),
    ("/oncall", "override"): (("<@UFUZZEN>", "<@UDRI1|dri>", "@dri", "UDRI1"), _TIMES, _TIMES, _TEAMS,
                              ("1st line", "2nd line", "3rd", "")),
    ("/gpu", "node"): (("node-1", "gpu-node-a", ""),),
    ("/gpu", "ns"): (("ml", "kube-system", ""),),
    ("/gpu", "team"): (_TEAMS,),
    ("/spend", "by"): (("team", "service", "project", "Team", "region"), _PERIODS),
    ("/spend", "team"): (_TEAMS,),
    ("/spend", "project"): (("checkout", ""), _PERIODS),
    ("/spend", "burn"): (_TEAMS,),
    ("/spend", "shutdown"): (_TEAMS,),
    ("/spend", "30d"): ((),),
    ("/review", "team"): (_TEAMS,),
    ("/review", "nudge"): (("https://github.com/acme/api/pull/12", "acme/api#12", "<https://github.com/a/b/pull/7|#7>",
                            "https://github.com/acme/api/issues/3"), ("by", "在", ""), _REVIEW_TIMES, _REVIEW_TIMES,
                           ("because", "因为", ""), _TITLE),
    ("/review", "remind"): (("on", "off", "ON", "maybe"),),
    ("/alerts", "noisy"): (_TEAMS, ("7d", "30d", "")),
    ("/alerts", "quiet"): ((*_TEAMS, "payments"), _DURATIONS, _TITLE),
    ("/digest", ""): (_TEAMS,),
    ("/digest", "preview"): (_TEAMS, ("daily", "weekly", "每日", "每周", "hourly")),
}


def _slot(values: tuple[str, ...]) -> st.SearchStrategy[str]:
    known = st.sampled_from(values) if values else st.just("")
    return st.one_of(known, known, known, token, st.just(""))  # mostly what the slot takes


def _args(slots: tuple[tuple[str, ...], ...]) -> st.SearchStrategy[str]:
    return st.tuples(*map(_slot, slots)).map(lambda parts: " ".join(part for part in parts if part))


# (command, subcommand, the words after it): mostly words each subcommand takes, any slot hostile
grammatical = st.one_of([_args(slots).map(lambda args, key=key: (*key, args))  # type: ignore[misc]
                         for key, slots in sorted(GRAMMAR.items())])
hostile_text = st.one_of(nasty, words, st.text(max_size=60), st.builds(" ".join, st.lists(nasty, max_size=3)))


def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Any JSON value: what a forged or out-of-date button value or private_metadata may decode to."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | token
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(token, inner, max_size=3),
                        max_leaves=max_leaves)


def shaped_like(example: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with `example`'s keys, each kept, dropped, or given a hostile value of any type."""
    def field(value: Any) -> st.SearchStrategy[Any]:
        return st.just(value) | token | json_values(4)
    return st.fixed_dictionaries({}, optional={key: field(value) for key, value in example.items()})


def encoded(values: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    """As the bot stores a value in a button or view: JSON text, or any string at all."""
    return values.map(json.dumps) | hostile_text

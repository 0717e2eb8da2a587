"""On-call rotations: who is on call now and next, per escalation tier.

Pure domain logic: no Slack, no database, no clock. Every function takes the instant to
evaluate as an aware datetime, and every datetime it returns is in UTC.

A team's rotation is a list of tiers (1st line DRI, 2nd line, 3rd line); each tier is a
stack of layers, and a later layer overrides earlier ones while it is active (that is how
follow-the-sun is expressed). An `Override` covering an instant beats every layer of its tier.

Day- and week-based rotations hand off at the layer's local wall-clock `handoff` time, so a
daily shift spanning a DST change lasts 23 or 25 hours. Hour-based rotations count real
elapsed hours from the anchor, so their local handoff time drifts across DST.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from bot.config_types import TimeZone

__all__ = [
    "DEFAULT_HORIZON",
    "ActiveWindow",
    "Chain",
    "ChainStep",
    "Handoff",
    "Layer",
    "Override",
    "Shift",
    "TeamRotation",
    "Tier",
    "TierOnCall",
    "escalation_chain",
    "next_handoffs",
    "on_call",
    "shift_at",
]

DEFAULT_HORIZON = timedelta(days=60)
"""How far `on_call` looks back for the start of the current shift and ahead for the next one."""

_PERIOD = re.compile(r"^(\d+)([hdw])$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::00)?$")  # ':00' seconds: model_dump round-trips

Source = Literal["rotation", "override"]


# --- config models ---------------------------------------------------------------------------


def _parse_wall_time(value: object) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int):
        # YAML 1.1 (PyYAML) reads an unquoted 21:00 as the base-60 integer 1260.
        raise ValueError(
            f"got the number {value}, expected a time of day as a quoted 'HH:MM' string, "
            f'e.g. "21:00" (unquoted YAML times after 09:59 are read as numbers)'
        )
    if isinstance(value, str) and (match := _HHMM.match(value.strip())):
        return time(int(match[1]), int(match[2]))
    raise ValueError(f"{value!r} is not a time of day, expected 'HH:MM' (24-hour), e.g. '09:00'")


def _check_period(value: object) -> str:
    if isinstance(value, str) and (match := _PERIOD.match(value.strip())) and int(match[1]) > 0:
        return value.strip()
    raise ValueError(
        f"rotate_every {value!r} is not a rotation period, expected a positive count followed by "
        "h, d or w, e.g. '12h', '1d', '1w'"
    )


WallTime = Annotated[time, BeforeValidator(_parse_wall_time)]
Period = Annotated[str, BeforeValidator(_check_period)]
Member = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ActiveWindow(BaseModel):
    """Daily local-time window in which a layer is on call; `to <= from` crosses midnight."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: WallTime = Field(alias="from")
    to: WallTime

    @model_validator(mode="after")
    def _not_empty(self) -> "ActiveWindow":
        if self.from_ == self.to:
            raise ValueError(
                f"active window from {self.from_:%H:%M} to {self.to:%H:%M} is empty; "
                "omit `active` for an always-on layer"
            )
        return self


class Layer(BaseModel):
    """One rotation: members take turns every `rotate_every`, members[0] first at start+handoff."""

    model_config = ConfigDict(extra="forbid")

    members: list[Member] = Field(min_length=1)  # Slack user id, email or @name
    rotate_every: Period
    handoff: WallTime
    start: date
    timezone: TimeZone
    active: ActiveWindow | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def period(self) -> tuple[int, str]:
        """(count, unit) with unit one of 'h', 'd', 'w'."""
        match = _PERIOD.match(self.rotate_every)
        assert match is not None  # guaranteed by validation
        return int(match[1]), match[2]


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    layers: list[Layer] = Field(min_length=1)


class TeamRotation(BaseModel):
    """A team's escalation tiers, in order (1st line first)."""

    model_config = ConfigDict(extra="forbid")

    tiers: list[Tier] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_tier_names(self) -> "TeamRotation":
        names = [tier.name for tier in self.tiers]
        if duplicates := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"tier names must be unique, repeated: {', '.join(duplicates)}")
        return self


class Override(BaseModel):
    """`user` covers `tier` (index or name) from `start` until `end`, whatever the rotation says."""

    model_config = ConfigDict(extra="forbid")

    tier: int | str
    user: Member
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ends_after_start(self) -> "Override":
        if self.end <= self.start:
            raise ValueError(
                f"override end {self.end.isoformat()} must be after start {self.start.isoformat()}"
            )
        return self


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shift:
    user: str
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC, exclusive
    source: Source


@dataclass(frozen=True)
class TierOnCall:
    tier: str
    index: int
    now: Shift | None
    next: Shift | None
    gap: bool  # nobody is on call for this tier right now


@dataclass(frozen=True)
class ChainStep:
    tier: str
    index: int
    user: str
    shift: Shift


@dataclass(frozen=True)
class Chain:
    steps: list[ChainStep]
    gaps: list[str]  # names of tiers with nobody on call, skipped in `steps`


@dataclass(frozen=True)
class Handoff:
    tier: str
    index: int
    at: datetime  # UTC
    from_user: str | None  # None: the tier was in a gap
    to_user: str | None  # None: the tier goes into a gap


# --- single layer ----------------------------------------------------------------------------


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} is naive; on-call times must be timezone-aware")
    return at.astimezone(UTC)


def _local_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    # fold=0: a wall time skipped by spring-forward lands just after the jump (02:30 -> 03:30),
    # a repeated one during fall-back resolves to its first occurrence.
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def _period_days(layer: Layer) -> int | None:
    count, unit = layer.period
    return {"h": None, "d": count, "w": 7 * count}[unit]


def _slot_start(layer: Layer, k: int) -> datetime:
    """Start of rotation slot k (slot 0 is members[0] at start+handoff)."""
    days = _period_days(layer)
    if days is None:
        anchor = _local_instant(layer.start, layer.handoff, layer.tz)
        return anchor + k * timedelta(hours=layer.period[0])
    return _local_instant(layer.start + timedelta(days=k * days), layer.handoff, layer.tz)


def _slot_index(layer: Layer, at: datetime) -> int:
    """Index of the rotation slot containing `at`; negative before the anchor."""
    days = _period_days(layer)
    if days is None:
        return (at - _slot_start(layer, 0)) // timedelta(hours=layer.period[0])
    k = (at.astimezone(layer.tz).date() - layer.start).days // days
    # The local-date guess is off by one when `at` falls before that day's handoff.
    while _slot_start(layer, k) > at:
        k -= 1
    while _slot_start(layer, k + 1) <= at:
        k += 1
    return k


def _window_on(layer: Layer, day: date) -> tuple[datetime, datetime]:
    """The active window opening on local date `day`, as UTC instants."""
    window = layer.active
    assert window is not None
    close_day = day if window.to > window.from_ else day + timedelta(days=1)
    return _local_instant(day, window.from_, layer.tz), _local_instant(close_day, window.to, layer.tz)


def _window_at(layer: Layer, at: datetime) -> tuple[datetime, datetime] | None:
    today = at.astimezone(layer.tz).date()
    for day in (today - timedelta(days=1), today):  # yesterday's window may cross midnight
        opens, closes = _window_on(layer, day)
        if opens <= at < closes:
            return opens, closes
    return None


def shift_at(layer: Layer, at: datetime) -> Shift | None:
    """The layer's shift covering `at`, clipped to its active window; None if nobody is on."""
    at = _utc(at)
    k = _slot_index(layer, at)
    if k < 0:
        return None
    start, end = _slot_start(layer, k), _slot_start(layer, k + 1)
    if layer.active is not None:
        window = _window_at(layer, at)
        if window is None:
            return None
        start, end = max(start, window[0]), min(end, window[1])
    return Shift(layer.members[k % len(layer.members)], start, end, "rotation")


def _layer_edges(layer: Layer, lo: datetime, hi: datetime) -> set[datetime]:
    """Every instant in about [lo, hi) at which the layer's shift may change."""
    edges: set[datetime] = set()
    k = _slot_index(layer, lo)
    while (boundary := _slot_start(layer, k)) < hi:
        edges.add(boundary)
        k += 1
    if layer.active is not None:
        day = lo.astimezone(layer.tz).date() - timedelta(days=1)
        while (window := _window_on(layer, day))[0] < hi:
            edges.update(window)
            day += timedelta(days=1)
    return edges


# --- tiers -----------------------------------------------------------------------------------


def _targets(override: Override, tier: Tier, index: int) -> bool:
    return override.tier == (index if isinstance(override.tier, int) else tier.name)


def _check_override_tiers(rotation: TeamRotation, overrides: Sequence[Override]) -> None:
    names = [tier.name for tier in rotation.tiers]
    valid = {*names, *range(len(names))}
    for override in overrides:
        if override.tier not in valid:
            raise ValueError(
                f"override for {override.user!r} targets unknown tier {override.tier!r}; "
                f"tiers are {names} (or index 0..{len(names) - 1})"
            )


def _who(tier: Tier, overrides: Sequence[Override], at: datetime) -> tuple[str, Source] | None:
    """Who wins at `at`: the last override covering it, else the topmost active layer."""
    for override in reversed(overrides):
        if override.start <= at < override.end:
            return override.user, "override"
    for layer in reversed(tier.layers):
        if shift := shift_at(layer, at):
            return shift.user, "rotation"
    return None


def _timeline(
    tier: Tier, index: int, overrides: Sequence[Override], lo: datetime, hi: datetime
) -> list[Shift]:
    """Effective shifts of a tier within [lo, hi), in order; back-to-back stretches of the same
    user and source are merged, so consecutive entries are always different shifts."""
    mine = [override for override in overrides if _targets(override, tier, index)]
    edges = {lo, hi}
    for layer in tier.layers:
        edges |= _layer_edges(layer, lo, hi)
    for override in mine:
        edges |= {override.start.astimezone(UTC), override.end.astimezone(UTC)}
    shifts: list[Shift] = []
    for start, end in pairwise(sorted(edge for edge in edges if lo <= edge <= hi)):
        who = _who(tier, mine, start)  # constant on [start, end): every change point is an edge
        if who is None:
            continue
        if shifts and shifts[-1].end == start and (shifts[-1].user, shifts[-1].source) == who:
            shifts[-1] = replace(shifts[-1], end=end)
        else:
            shifts.append(Shift(who[0], start, end, who[1]))
    return shifts


def _tier_on_call(
    tier: Tier, index: int, at: datetime, overrides: Sequence[Override], horizon: timedelta
) -> TierOnCall:
    timeline = _timeline(tier, index, overrides, at - horizon, at + horizon)
    now = next((shift for shift in timeline if shift.start <= at < shift.end), None)
    upcoming = next((shift for shift in timeline if shift.start > at), None)
    return TierOnCall(tier.name, index, now, upcoming, gap=now is None)


def on_call(
    rotation: TeamRotation,
    at: datetime,
    overrides: Sequence[Override] = (),
    horizon: timedelta = DEFAULT_HORIZON,
) -> list[TierOnCall]:
    """Per tier, who is on call at `at` and whose shift comes next.

    `now.start`/`now.end` are when that person's stretch really begins/ends (another layer or
    an override can cut a rotation shift short), clipped to `at ± horizon`; `next` is None if
    nothing else starts within the horizon. Later overrides win over earlier overlapping ones.
    """
    at = _utc(at)
    _check_override_tiers(rotation, overrides)
    return [_tier_on_call(tier, index, at, overrides, horizon) for index, tier in enumerate(rotation.tiers)]


def escalation_chain(rotation: TeamRotation, at: datetime, overrides: Sequence[Override] = ()) -> Chain:
    """Who to page, tier by tier, at `at`; tiers with nobody on call are skipped and listed in gaps."""
    tiers = on_call(rotation, at, overrides)
    steps = [ChainStep(t.tier, t.index, t.now.user, t.now) for t in tiers if t.now is not None]
    return Chain(steps=steps, gaps=[t.tier for t in tiers if t.gap])


def next_handoffs(
    rotation: TeamRotation,
    at: datetime,
    overrides: Sequence[Override] = (),
    within: timedelta = timedelta(days=7),
) -> list[Handoff]:
    """Every change of who is on call, any tier, in (at, at + within], soonest first."""
    at = _utc(at)
    _check_override_tiers(rotation, overrides)
    handoffs = []
    for index, tier in enumerate(rotation.tiers):
        lookback = timedelta(days=1)  # enough to know who holds the tier at `at`
        timeline = _timeline(tier, index, overrides, at - lookback, at + within + lookback)
        for instant in sorted({edge for shift in timeline for edge in (shift.start, shift.end)}):
            before = _user_at(timeline, instant - timedelta(microseconds=1))
            after = _user_at(timeline, instant)
            if at < instant <= at + within and before != after:
                handoffs.append(Handoff(tier.name, index, instant, before, after))
    return sorted(handoffs, key=lambda handoff: (handoff.at, handoff.index))


def _user_at(timeline: Sequence[Shift], at: datetime) -> str | None:
    return next((shift.user for shift in timeline if shift.start <= at < shift.end), None)

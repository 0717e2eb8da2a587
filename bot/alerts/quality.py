"""Alert quality: who said an alert is noisy, and which alerts are noisiest (the "noisy alerts" report).

The facts are the firing streaks (`alert_firings`: notifications received, when it fired and resolved, whether
it led to an incident or a page) and the 👎 marks (`alert_feedback`, once per person per group). Each report
is two GROUP BY queries, whatever the number of streaks; the same SQL runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, func, literal, select, true, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import FunctionElement

from bot.store import repo
from bot.store.models import AlertFeedbackRow, AlertFiringRow, AlertGroupRow, UtcDateTime

REASONS_SHOWN = 3


@dataclass(frozen=True)
class NoisyAlert:
    """One alert name over the period: how much it said, how long it fired, and what came of it."""

    alertname: str
    notifications: int  # webhook notifications received during its firing streaks
    firing_time: timedelta  # the streaks' durations added up (a streak still firing counts until now)
    firings: int  # firing streaks that started in the period
    paged: int  # streaks whose incident paged someone
    without_incident: int  # streaks that never led to an incident
    thumbs_down: int  # people who marked one of its groups noisy in the period
    reasons: tuple[str, ...] = ()  # the most recent non-empty reasons, newest first

    @property
    def never_incident_share(self) -> float:
        """0–1: the share of its firing streaks that never became an incident."""
        return self.without_incident / self.firings if self.firings else 0.0


def record_noisy(factory: sessionmaker[Session], group_id: int, user: str, reason: str, now: datetime) -> bool:
    """`user` says alert group `group_id` is noisy; True the first time. Marking it again keeps one mark and
    replaces its reason (an empty reason, a bare 👎 after a reasoned one, keeps the reason given)."""
    with factory() as session:
        group = session.execute(select(AlertGroupRow.alertname, AlertGroupRow.team)
                                .where(AlertGroupRow.id == group_id)).one_or_none()
    if group is None:
        raise LookupError(f"no alert group {group_id}")
    mark = AlertFeedbackRow(group_id=group_id, alertname=group.alertname, team=group.team, user_id=user,
                            reason=reason, at=now)
    if repo.claim(factory, mark):  # the unique (group_id, user_id) decides, also between racing clicks
        return True
    values: dict[str, Any] = {"at": now, "reason": reason} if reason.strip() else {"at": now}
    with factory.begin() as session:
        session.execute(update(AlertFeedbackRow)
                        .where(AlertFeedbackRow.group_id == group_id, AlertFeedbackRow.user_id == user)
                        .values(**values))
    return False


def noisy_report(factory: sessionmaker[Session], team: str | None, since: datetime,
                 now: datetime) -> list[NoisyAlert]:
    """Alert names of `team` (every team: None) whose firing streaks started at or after `since`, noisiest
    first: by notifications, then firing time, then 👎 marks (then name, so the order is stable)."""
    with factory() as session:
        firings = _firings(session, team, since, now)
        marks = _marks(session, team, since, list(firings))
    report = [NoisyAlert(alertname=name, **facts, **marks.get(name, {"thumbs_down": 0, "reasons": ()}))
              for name, facts in firings.items()]
    report.sort(key=lambda a: (-a.notifications, -a.firing_time, -a.thumbs_down, a.alertname))
    return report


def _firings(session: Session, team: str | None, since: datetime, now: datetime) -> dict[str, dict[str, Any]]:
    streak = AlertFiringRow
    ended = func.coalesce(streak.resolved_at, literal(now, UtcDateTime()))
    query = (select(AlertGroupRow.alertname,
                    func.coalesce(func.sum(streak.notifications), 0),
                    func.coalesce(func.sum(_SecondsBetween(streak.started_at, ended)), 0.0),
                    func.count(streak.id),
                    func.sum(case((streak.paged, 1), else_=0)),
                    func.sum(case((streak.incident_id.is_(None), 1), else_=0)))
             .join(AlertGroupRow, AlertGroupRow.id == streak.group_id)
             .where(streak.started_at >= since, _team_is(AlertGroupRow.team, team))
             .group_by(AlertGroupRow.alertname))
    return {name: {"notifications": int(notifications), "firing_time": timedelta(seconds=round(float(seconds))),
                   "firings": int(count), "paged": int(paged), "without_incident": int(without)}
            for name, notifications, seconds, count, paged, without in session.execute(query)}


def _marks(session: Session, team: str | None, since: datetime, names: list[str]) -> dict[str, dict[str, Any]]:
    if not names:
        return {}
    mark = AlertFeedbackRow
    in_scope = and_(mark.at >= since, mark.alertname.in_(names), _team_is(mark.team, team))
    counts = session.execute(select(mark.alertname, func.count(mark.id)).where(in_scope)
                             .group_by(mark.alertname)).all()
    newest = (select(mark.alertname, mark.reason,
                     func.row_number().over(partition_by=mark.alertname,
                                            order_by=(mark.at.desc(), mark.id.desc())).label("rank"))
              .where(in_scope, func.length(func.trim(mark.reason)) > 0)
              .subquery())
    reasons: dict[str, list[str]] = {}
    for name, reason in session.execute(select(newest.c.alertname, newest.c.reason)
                                        .where(newest.c.rank <= REASONS_SHOWN)
                                        .order_by(newest.c.alertname, newest.c.rank)):
        reasons.setdefault(name, []).append(reason)
    return {name: {"thumbs_down": int(count), "reasons": tuple(reasons.get(name, ()))} for name, count in counts}


def _team_is(column: Any, team: str | None) -> ColumnElement[bool]:
    return column == team if team is not None else true()


class _SecondsBetween(FunctionElement[float]):
    """Seconds from one timestamp to another, in each database's own date arithmetic."""

    type = Float()
    inherit_cache = True


@compiles(_SecondsBetween, "postgresql")
def _seconds_between_postgresql(element: _SecondsBetween, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"


@compiles(_SecondsBetween)
def _seconds_between_sqlite(element: _SecondsBetween, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTC timestamps as ISO text; julianday() reads it (days, with a fraction).
    start, end = list(element.clauses)
    return f"((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)})) * 86400.0)"

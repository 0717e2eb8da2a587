"""EBS snapshot hygiene: old pipeline-made snapshots no AMI uses (disabled and deprecated AMIs included) and no
Data Lifecycle Manager policy manages, what they cost a month, and deleting them through the guard's one path
(the listed plan → confirmation → permission → one by one, each with its result and audit row)."""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.clients import ActionResult, Ec2Source, ImageUse, RecycleRule, Snapshot
from bot.clock import Clock
from bot.escape import Markup
from bot.guard import Guard
from bot.i18n import t
from bot.metrics import SNAPSHOTS_DELETED
from bot.notices import NoticeBoard
from bot.render.blocks import mention, section
from bot.settings import Config, Team
from bot.spend.model import Deleted, DeletionResult, PipelineGroup, RecycleBin, SnapshotReport, StaleSnapshot
from bot.spend.render import snapshot_blocks, usd
from bot.store import guards as store

KIND = "snapshots"
DLM_TAG = "aws:dlm:lifecycle-policy-id"
SCHEDULER = "scheduler"
IN_USE = "in_use"


class SnapshotRefused(Exception):
    """The clean-up cannot go ahead (gone, already done); the message says why."""


class SnapshotHygiene:
    def __init__(self, aws: Ec2Source, guard: Guard, board: NoticeBoard, sessions: sessionmaker[Session],
                 clock: Clock, config: Config) -> None:
        self._aws = aws
        self._guard = guard
        self._board = board
        self._sessions = sessions
        self._clock = clock
        self._config = config

    def report(self, team: Team | None = None, unowned: bool = False) -> SnapshotReport:
        """Stale pipeline snapshots of `team` (its team tag), of nobody's team (`unowned`), or of the account."""
        return self._report(self._aws.snapshots(), self._aws.images_using(), self._aws.recycle_rules(), team, unowned)

    def reports(self, teams: Iterable[Team]) -> dict[str, SnapshotReport]:
        """Each team's report from one read of the account (the digest asks for many teams at once)."""
        snapshots, used, rules = self._aws.snapshots(), self._aws.images_using(), self._aws.recycle_rules()
        return {team.name: self._report(snapshots, used, rules, team, False) for team in teams}

    def _report(self, snapshots: Sequence[Snapshot], used: Mapping[str, ImageUse], rules: list[RecycleRule] | None,
                team: Team | None, unowned: bool) -> SnapshotReport:
        conf = self._config.cost_guards.snapshots
        now = self._clock.now()
        old = [s for s in snapshots if now - s.started >= conf.older_than and self._pipeline_made(s)
               and self._belongs(s, team, unowned)]
        managed = {s.id for s in old if DLM_TAG in s.tags}
        in_use = {s.id for s in old if s.id in used and s.id not in managed}
        stale = sorted((self._stale(s, now) for s in old if s.id not in managed and s.id not in in_use),
                       key=lambda s: (s.started, s.id))
        return SnapshotReport(snapshots=tuple(stale), groups=_groups(stale), in_use=len(in_use), managed=len(managed),
                              older_than=conf.older_than, recycle_bin=_recycle_bin(old, rules),
                              as_of=now, demo=self._aws.demo,
                              team=team.name if team else None)

    def plan_deletion(self, report: SnapshotReport, by: str) -> str:
        """Record exactly the listed snapshots as a plan; the button and the confirmation act on it, not on a new
        look. Returns the plan's key."""
        key = f"p{uuid.uuid4().hex[:15]}"  # a letter first: a button value that reads as JSON (1e5) would change
        now = self._clock.now()
        plan = store.ensure_plan(self._sessions, KIND, key, by, now, team=report.team,
                                 detail={"recycle_bin": [report.recycle_bin.known, report.recycle_bin.days],
                                         "older_than_s": report.older_than.total_seconds(),
                                         "in_use": report.in_use, "managed": report.managed})
        store.add_items(self._sessions, plan.id, {s.id: _detail(s) for s in report.snapshots}, by, now)
        return key

    def planned(self, key: str, lang: str) -> SnapshotReport:
        """The snapshots a plan lists (for the confirmation), as they were listed."""
        plan = self._plan(key, lang)
        listed = tuple(_from_detail(i.item, i.detail) for i in store.items(self._sessions, plan.id))
        known, days = plan.detail.get("recycle_bin", [False, 0])
        conf = self._config.cost_guards.snapshots
        return SnapshotReport(snapshots=listed, groups=_groups(listed), in_use=int(plan.detail.get("in_use", 0)),
                              managed=int(plan.detail.get("managed", 0)), older_than=conf.older_than,
                              recycle_bin=RecycleBin(bool(known), int(days)), as_of=self._clock.now(),
                              demo=self._aws.demo, team=plan.team)

    def delete(self, key: str, by: str, lang: str, thread: tuple[str, str] | None = None) -> DeletionResult:
        """Permission, then each listed snapshot once: never one an AMI uses now (checked again just before).
        `thread` (channel, ts): the report's message, whose thread is told what went."""
        self._guard.require(by, "delete_snapshots", key, lang)
        plan = self._plan(key, lang)
        listed = {i.item: _from_detail(i.item, i.detail) for i in store.items(self._sessions, plan.id)}
        if plan.state != "planned" or not self._guard.start(plan, by):
            raise SnapshotRefused(t("spend.snapshots_already", lang))
        used = self._aws.images_using()

        def delete_one(ids: list[str]) -> list[ActionResult]:
            if ids[0] in used:
                return [ActionResult(ids[0], ok=False, error=IN_USE, message=used[ids[0]].image_id)]
            return [self._aws.delete_snapshot(ids[0])]

        results = self._guard.act(plan, list(listed), by, "deleting", "spend.delete_snapshot", delete_one)
        done = tuple(Deleted(listed[i], r.ok, r.error, r.message) for i, r in results.items())
        for deleted in done:
            SNAPSHOTS_DELETED.labels("deleted" if deleted.ok else "failed").inc()
        self._guard.finish(plan, deleted=sum(d.ok for d in done), failed=sum(not d.ok for d in done))
        result = DeletionResult(plan=key, results=done, by=by)
        if thread is not None:
            channel, ts = thread
            team_lang = self._config.team_for_channel(channel).language
            self._board.say(channel, [section(t("spend.deleted_in_thread", team_lang, user=Markup(mention(by)),
                                                count=sum(d.ok for d in done), usd=usd(result.saved_usd_month)))],
                            thread_ts=ts)
        return result

    def dlm_policy(self) -> str:
        """The Data Lifecycle Manager policy that would have kept these in check: let DLM take the pipelines'
        snapshots (their volumes carry the same tags) and retain them `older_than`."""
        conf = self._config.cost_guards.snapshots
        days = max(1, int(conf.older_than.total_seconds() // 86400))
        policy = {
            "Description": f"emoji-ops: pipeline snapshots kept for {days} days",
            "State": "ENABLED",
            "ExecutionRoleArn": "arn:aws:iam::<account>:role/AWSDataLifecycleManagerDefaultRole",
            "PolicyDetails": {
                "PolicyType": "EBS_SNAPSHOT_MANAGEMENT", "ResourceTypes": ["VOLUME"],
                "TargetTags": [{"Key": k, "Value": v} for k, v in conf.match_tags.items()],
                "Schedules": [{"Name": "pipeline", "CopyTags": True,
                               "CreateRule": {"Interval": 24, "IntervalUnit": "HOURS"},
                               "RetainRule": {"Interval": days, "IntervalUnit": "DAYS"}}],
            },
        }
        return json.dumps(policy, indent=1)

    def weekly(self) -> None:
        """The weekly report: each team's stale snapshots to its channel, nobody's to the platform channel, once
        per ISO week, each with its own Delete button (plan)."""
        year, number, _ = self._clock.now().isocalendar()
        week = f"{year}-W{number:02d}"
        targets: list[tuple[str, Team | None, str, str]] = [
            (team.name, team, team.channel, team.language) for team in self._config.teams
            if team.channel and team.cost_tag]
        platform = self._config.gpu.platform_channel or self._config.alerts.default_channel
        if platform:
            targets.append(("platform", None, platform, self._config.defaults.language))
        for subject, team, channel, lang in targets:
            if self._board.find(KIND, subject, week) is not None:
                continue
            report = self.report(team, unowned=team is None)
            if not report.snapshots:
                continue
            key = self.plan_deletion(report, SCHEDULER)
            tz = team.timezone if team else self._config.defaults.timezone
            self._board.open(KIND, subject, channel, snapshot_blocks(report, lang, tz, key, self.dlm_policy(),
                                                                     self._config.gpu.top), period=week)

    # Pieces -------------------------------------------------------------------------------------------------
    def _plan(self, key: str, lang: str) -> store.Plan:
        plan = store.plan(self._sessions, KIND, key)
        if plan is None:
            raise SnapshotRefused(t("spend.snapshots_plan_gone", lang))
        return plan

    def _pipeline_made(self, snapshot: Snapshot) -> bool:
        conf = self._config.cost_guards.snapshots
        return any(snapshot.tags.get(k) == v for k, v in conf.match_tags.items()) or \
            bool(conf.match_description and re.search(conf.match_description, snapshot.description or ""))

    def _belongs(self, snapshot: Snapshot, team: Team | None, unowned: bool) -> bool:
        tag = snapshot.tags.get(self._config.cost_guards.team_tag)
        if team is not None:
            return bool(team.cost_tag) and tag == team.cost_tag
        if unowned:
            return tag not in {t_.cost_tag for t_ in self._config.teams if t_.cost_tag}
        return True

    def _stale(self, snapshot: Snapshot, now: datetime) -> StaleSnapshot:
        conf = self._config.cost_guards
        team_tag = snapshot.tags.get(conf.team_tag)
        team = next((t_.name for t_ in self._config.teams if t_.cost_tag and t_.cost_tag == team_tag), team_tag)
        return StaleSnapshot(id=snapshot.id, gib=snapshot.gib, started=snapshot.started,
                             age_days=(now - snapshot.started).days,
                             usd_month=round(snapshot.gib * conf.snapshots.usd_per_gib_month, 2),
                             pipeline=snapshot.tags.get(conf.snapshots.pipeline_tag), team=team,
                             description=snapshot.description)


def _groups(stale: Iterable[StaleSnapshot]) -> tuple[PipelineGroup, ...]:
    by: dict[str | None, list[StaleSnapshot]] = defaultdict(list)
    for snapshot in stale:
        by[snapshot.pipeline].append(snapshot)
    groups = [PipelineGroup(name, len(s), sum(x.gib for x in s), round(sum(x.usd_month for x in s), 2))
              for name, s in by.items()]
    return tuple(sorted(groups, key=lambda g: (-g.usd_month, g.pipeline or "")))


def _recycle_bin(snapshots: list[Snapshot], rules: list[RecycleRule] | None) -> RecycleBin:
    """The days every one of these snapshots would stay recoverable (0: some delete is final); unknown if the
    rules could not be read."""
    if rules is None:
        return RecycleBin(known=False)
    covered = [max((r.days for r in rules if _applies(r, s.tags)), default=0) for s in snapshots]
    return RecycleBin(known=True, days=min(covered, default=max((r.days for r in rules if not r.tags), default=0)))


def _applies(rule: RecycleRule, tags: Mapping[str, str]) -> bool:
    return not rule.tags or any(tags.get(k) == v for k, v in rule.tags.items())


def _detail(s: StaleSnapshot) -> dict[str, object]:
    return {"gib": s.gib, "started": s.started.isoformat(), "age_days": s.age_days, "usd_month": s.usd_month,
            "pipeline": s.pipeline, "team": s.team, "description": s.description[:200]}


def _from_detail(snapshot_id: str, d: Mapping[str, object]) -> StaleSnapshot:
    return StaleSnapshot(id=snapshot_id, gib=int(str(d.get("gib", 0))),
                         started=datetime.fromisoformat(str(d.get("started"))), age_days=int(str(d.get("age_days", 0))),
                         usd_month=float(str(d.get("usd_month", 0))),
                         pipeline=str(d["pipeline"]) if d.get("pipeline") else None,
                         team=str(d["team"]) if d.get("team") else None, description=str(d.get("description", "")))

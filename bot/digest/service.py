"""`Digests`: compose a team's digest from the domain services (the same calls the commands make), and post each
scheduled slot once: a `notices` row claimed before the post, the details and charts in its thread."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar, cast

from sqlalchemy.orm import Session, sessionmaker

from bot.alerts.service import AlertService
from bot.clock import Clock
from bot.digest import render
from bot.digest.model import (
    NOISE_DAYS,
    Digest,
    GpuPart,
    GuardsPart,
    IncidentsPart,
    Kind,
    NoisePart,
    OnCallPart,
    ReviewPart,
    Slot,
    SpendPart,
    Unavailable,
)
from bot.digest.schedule import LATE_AFTER, due_slot
from bot.gpu.model import Scope, TeamGpus
from bot.gpu.service import GpuService
from bot.i18n import t
from bot.incidents.desk import IncidentDesk
from bot.metrics import DIGESTS
from bot.notices import NoticeBoard
from bot.notify import Notifier
from bot.oncall.service import OncallService
from bot.retry import BackendError
from bot.review.service import ReviewService
from bot.settings import Config, Team
from bot.spend.burn import BurnWatch
from bot.spend.model import BurnReport, MonthByTeam, SnapshotReport
from bot.spend.service import SpendService
from bot.spend.shutdown import Fleet, NightlyShutdown
from bot.spend.snapshots import SnapshotHygiene
from bot.store import notices as notice_store

log = logging.getLogger(__name__)
KIND = "digest"  # the notices kind: one row per team per slot
POSTERS = 16  # channels posted to at once
RETAKE_AFTER = timedelta(minutes=2)  # a slot claimed but never posted (the process died) is taken over after this
P = TypeVar("P")


@dataclass(frozen=True)
class Sources:
    """The domain services a digest reads; None where the backend is not configured (its section is left out)."""

    incidents: IncidentDesk
    oncall: OncallService
    alerts: AlertService
    spend: SpendService | None = None
    burn: BurnWatch | None = None
    snapshots: SnapshotHygiene | None = None
    shutdown: NightlyShutdown | None = None
    gpu: GpuService | None = None
    review: ReviewService | None = None


class Shared:
    """Whole-account reads made once per round of digests and shared by its teams: each is taken on first use, and
    a read that failed is not tried again for every team (each of their sections says why, from the one failure)."""

    def __init__(self, sources: Sources, teams: list[Team]) -> None:
        self.sources = sources
        self.teams = teams
        self._taken: dict[str, object] = {}

    def _once(self, name: str, read: Callable[[], P]) -> P:
        if name not in self._taken:
            try:
                self._taken[name] = read()
            except Exception as exc:  # remembered, and raised again to every team that asks
                self._taken[name] = exc
        taken = self._taken[name]
        if isinstance(taken, Exception):
            raise taken
        return cast(P, taken)

    @property
    def burn(self) -> BurnReport:
        burn = self.sources.burn
        assert burn is not None
        running = self.fleet.running if self.sources.shutdown else None  # one read of the instances for both
        return self._once("burn", lambda: burn.report(running=running() if running else None))

    @property
    def month(self) -> MonthByTeam:
        assert self.sources.spend is not None
        return self._once("month", self.sources.spend.month_by_team)

    @property
    def snapshots(self) -> dict[str, SnapshotReport]:
        snapshots = self.sources.snapshots
        assert snapshots is not None
        return self._once("snapshots", lambda: snapshots.reports(self.teams))

    @property
    def gpus(self) -> dict[Scope, TeamGpus]:
        gpu = self.sources.gpu
        assert gpu is not None
        return self._once("gpus", lambda: gpu.team_views(Scope("team", t.name) for t in self.teams if t.namespaces))

    @property
    def fleet(self) -> Fleet:
        assert self.sources.shutdown is not None
        return self._once("fleet", self.sources.shutdown.fleet)


class Digests:
    def __init__(self, sources: Sources, notices: NoticeBoard, notifier: Notifier, sessions: sessionmaker[Session],
                 clock: Clock, config: Config) -> None:
        self._sources = sources
        self._notices = notices
        self._notifier = notifier
        self._sessions = sessions
        self._clock = clock
        self._config = config

    # Scheduled ----------------------------------------------------------------------------------------------------
    def tick(self) -> int:
        """Post every team's due slot that nobody has posted; the number posted. Run every 30 s by the leader.

        All due digests are composed first (the shared reads taken once, close together), then posted with one
        worker per channel, so one channel's pacing never holds up another's digest."""
        now = self._clock.now()
        due = [(team, slot) for team in self._config.teams if team.channel
               and (slot := due_slot(team, self._config, now)) is not None and self._claimable(team, slot, now)]
        shared = Shared(self._sources, [team for team, _ in due])
        by_channel: dict[str, list[tuple[Team, Slot, Digest]]] = defaultdict(list)
        for team, slot in due:
            if (digest := self._composed(team, slot, shared)) is not None:
                by_channel[str(team.channel)].append((team, slot, digest))
        if not by_channel:
            return 0
        with ThreadPoolExecutor(max_workers=min(POSTERS, len(by_channel)), thread_name_prefix="digest") as pool:
            return sum(pool.map(lambda queue: sum(self._post(*each) for each in queue), by_channel.values()))

    def _claimable(self, team: Team, slot: Slot, now: datetime) -> bool:
        found = self._notices.find(KIND, team.name, slot.period)
        if found is None:
            return self._started(team, slot, now)
        # Claimed by a process that died before it posted: free it once (one conditional write decides), then claim.
        return found.ts is None and not found.detail and \
            notice_store.release_unposted(self._sessions, found.id, now - RETAKE_AFTER)

    def _started(self, team: Team, slot: Slot, now: datetime) -> bool:
        """A team's first digest ever is posted only on time: a new install doesn't open with a late one."""
        if now - slot.at <= LATE_AFTER or self._notices.latest(KIND, team.name) is not None:
            return True
        notice_store.claim_notice(self._sessions, KIND, team.name, slot.period, now, channel=team.channel,
                                  detail={"skipped": "first slot, missed before the bot started"})
        return False

    def _composed(self, team: Team, slot: Slot, shared: Shared) -> Digest | None:
        """The slot's digest; None when it has nothing to say (the slot is then remembered, not composed again)."""
        now = self._clock.now()
        digest = self.compose(team, slot.kind, due=slot.due, late=now - slot.at > LATE_AFTER, shared=shared)
        if not digest.empty:
            return digest
        notice_store.claim_notice(self._sessions, KIND, team.name, slot.period, now, channel=team.channel,
                                  detail={"skipped": "empty"})
        DIGESTS.labels("empty").inc()
        return None

    def _post(self, team: Team, slot: Slot, digest: Digest) -> bool:
        assert team.channel is not None
        blocks = render.digest_blocks(digest, self._config.digest.top)
        notice = self._notices.open(KIND, team.name, team.channel, blocks, period=slot.period)
        if notice is None or notice.ts is None:
            DIGESTS.labels("refused").inc()
            return False
        DIGESTS.labels("late" if digest.late else "posted").inc()
        self._thread(team.channel, notice.ts, digest)
        return True

    def _thread(self, channel: str, ts: str, digest: Digest) -> None:
        """Details and charts under the digest; best-effort once the digest itself is out."""
        try:
            for message in render.detail_messages(digest, self._config.gpu.top):  # the views as the commands show them
                self._notifier.post(channel, message, thread_ts=ts)
            for filename, png, title in render.chart_files(digest):
                self._notifier.upload(channel, filename, png, title, thread_ts=ts)
        except BackendError as exc:
            log.warning("digest details for %s not posted in full: %s", digest.team, exc)

    # Composing ----------------------------------------------------------------------------------------------------
    def compose(self, team: Team, kind: Kind = "daily", *, lang: str | None = None, tz: str | None = None,
                due: datetime | None = None, late: bool = False, shared: Shared | None = None) -> Digest:
        """The team's digest as of now, in `lang` and `tz` (default: the team's): one part per domain that applies
        to the team (see bot.digest.model)."""
        now = self._clock.now()
        shared = shared or Shared(self._sources, [team])
        lang = lang or team.language
        return Digest(
            team=team.name, language=lang, timezone=tz or team.timezone, kind=kind, due=due or now, made_at=now,
            late=late,
            incidents=_part(lang, lambda: self._incidents(team)),
            oncall=_part(lang, lambda: self._oncall(team)),
            spend=_part(lang, lambda: self._spend(team, kind, shared)),
            gpu=_part(lang, lambda: self._gpu(team, shared)),
            review=_part(lang, lambda: self._review(team)),
            noise=_part(lang, lambda: self._noise(team, now)),
            guards=_part(lang, lambda: self._guards(team, shared)),
        )

    def _incidents(self, team: Team) -> IncidentsPart:
        desk = self._sources.incidents
        return IncidentsPart(open=tuple(desk.open_incidents(team.name)), week=desk.stats(7, team.name),
                             previous=desk.stats(7, team.name, before=7))

    def _oncall(self, team: Team) -> OnCallPart | None:
        if team.name not in self._sources.oncall.teams_with_rotations():
            return None
        return OnCallPart(tuple(self._sources.oncall.on_call(team.name)))

    def _spend(self, team: Team, kind: Kind, shared: Shared) -> SpendPart | None:
        spend, burns = self._sources.spend, self._sources.burn
        if spend is None or not (team.cost_tag or team.instance_tags):
            return None
        month = shared.month if team.cost_tag else None
        usd = month.usd.get(team.name) if month else None
        burn = next((b for b in shared.burn.teams if b.team == team.name), None) if burns else None
        return SpendPart(month_to_date=usd, projected=month.projected(usd) if month and usd is not None else None,
                         budget=team.budget_usd_month, as_of=month.as_of if month else None,
                         burn=burn if burn and burn.instances else None,
                         coffee_usd=self._config.thresholds.coffee_usd,
                         overview=spend.overview(team) if kind == "weekly" and team.cost_tag else None)

    def _gpu(self, team: Team, shared: Shared) -> GpuPart | None:
        if self._sources.gpu is None or not team.namespaces:
            return None
        views = shared.gpus[Scope("team", team.name)]
        return GpuPart(idle=views.idle, queue=tuple(views.queue), health=views.health)

    def _review(self, team: Team) -> ReviewPart | None:
        if self._sources.review is None or not team.repos:
            return None
        return ReviewPart(self._sources.review.team_queue(team))

    def _noise(self, team: Team, now: datetime) -> NoisePart:
        return NoisePart(tuple(self._sources.alerts.noisy(team.name, now - timedelta(days=NOISE_DAYS))))

    def _guards(self, team: Team, shared: Shared) -> GuardsPart | None:
        snapshots, shutdown = self._sources.snapshots, self._sources.shutdown
        if not team.cost_tag or (snapshots is None and shutdown is None):
            return None
        return GuardsPart(snapshots=shared.snapshots.get(team.name) if snapshots else None,
                          shutdown=shutdown.plan(team, shared.fleet) if shutdown else None)


def _part(lang: str, read: Callable[[], P]) -> P | Unavailable:
    """One section's data, or why it is unavailable: a failing backend never stops the other sections."""
    try:
        return read()
    except BackendError as exc:
        log.warning("digest section unavailable: %s", exc)
        return Unavailable(exc.backend, exc.explain(lang))
    except Exception as exc:  # a bug in one section must not cost the team its whole digest
        log.exception("digest section failed")
        return Unavailable("emoji-ops", t("digest.section_failed", lang, error=type(exc).__name__))

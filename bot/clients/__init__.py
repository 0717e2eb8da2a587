"""Thin backend clients and the plain records they return.

Every source (real or demo) has a `demo` flag, a `probe() -> str` for `python -m bot check`,
and returns the frozen dataclasses below, so domain code never sees library types.
The Protocols are what domain code may call; each client module ends with a typed assignment
so that mypy proves the real client (and its demo twin) still satisfies its Protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from bot.render.blocks import Block

PagerAction = Literal["trigger", "acknowledge", "resolve"]


@dataclass(frozen=True)
class GpuSample:
    """One GPU as dcgm-exporter reports it; pod labels only while a pod holds the GPU."""

    hostname: str
    gpu: str
    uuid: str
    model: str
    util_pct: float | None
    fb_used_mib: float | None = None
    fb_free_mib: float | None = None
    namespace: str | None = None
    pod: str | None = None
    container: str | None = None
    node: str | None = None  # a `node`/`kubernetes_node` label, when the scrape config adds one


@dataclass(frozen=True)
class NodeGpus:
    name: str
    gpus: int
    model: str | None = None


@dataclass(frozen=True)
class PodGpus:
    namespace: str
    pod: str
    node: str | None
    phase: str
    gpus: int

    @property
    def holds_gpus(self) -> bool:
        return bool(self.node) and self.gpus > 0 and self.phase in {"Pending", "Running", "Unknown"}


@dataclass(frozen=True)
class CostRow:
    day: date
    team: str | None  # None: resources without the tag
    usd: float


@dataclass(frozen=True)
class PullRequest:
    repo: str
    number: int
    title: str
    url: str
    author: str
    created_at: datetime
    requested_reviewers: tuple[str, ...]
    requested_teams: tuple[str, ...] = ()
    draft: bool = False


@dataclass(frozen=True)
class Message:
    """One Slack message as the domain reads it back."""

    text: str
    user: str | None


class PrometheusSource(Protocol):
    demo: bool

    def gpu_samples(self) -> list[GpuSample]: ...

    def probe(self) -> str: ...


class KubeSource(Protocol):
    demo: bool

    def gpu_nodes(self) -> list[NodeGpus]: ...

    def gpu_pods(self, namespaces: list[str] | None = None) -> list[PodGpus]: ...

    def probe(self) -> str: ...


class CostSource(Protocol):
    demo: bool

    def cost_by_team(self, start: date, end: date, tag_key: str = "team") -> list[CostRow]: ...

    def probe(self) -> str: ...


class GitHubSource(Protocol):
    demo: bool

    def open_pull_requests(self, repo: str) -> list[PullRequest]: ...

    def probe(self) -> str: ...


class ChatSender(Protocol):
    """Slack side effects the domain needs (bot.clients.chat.Chat); each raises BackendError on failure."""

    def post(self, channel: str, blocks: list[Block], thread_ts: str | None = None,
             broadcast: bool = False, loud: bool = False, attempts: int = 3) -> str: ...

    def update(self, channel: str, ts: str, blocks: list[Block]) -> None: ...

    def ephemeral(self, channel: str, user: str, blocks: list[Block], thread_ts: str | None = None) -> None: ...

    def dm(self, user: str, blocks: list[Block], attempts: int = 3) -> tuple[str, str]: ...

    def create_channel(self, name: str) -> str: ...

    def invite(self, channel: str, users: list[str]) -> None: ...

    def pin(self, channel: str, ts: str) -> None: ...

    def permalink(self, channel: str, ts: str) -> str | None: ...

    def message(self, channel: str, ts: str) -> Message: ...

    def upload(self, channel: str, filename: str, content: bytes | str, title: str,
               thread_ts: str | None = None, comment: str | None = None) -> None: ...


class Pager(Protocol):
    """Pages people about an incident (bot.clients.pager.PagerDuty), keyed by the incident's id."""

    def send(self, action: PagerAction, incident_id: int, summary: str = "", severity: str = "sev2",
             source: str = "emoji-ops", link: str | None = None) -> None: ...


class SilenceSource(Protocol):
    """Alertmanager silences (bot.clients.alertmanager); each call raises BackendError on failure."""

    demo: bool

    def create_silence(self, matchers: Mapping[str, str], ends_at: datetime, created_by: str, comment: str,
                       starts_at: datetime | None = None) -> str: ...

    def expire_silence(self, silence_id: str) -> None: ...

    def probe(self) -> str: ...

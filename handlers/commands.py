"""Slash commands: ack at once, then answer from the domain layer in the user's language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.i18n import t
from bot.render.blocks import Block, section, usage_blocks
from bot.services import Services
from bot.settings import Team
from handlers.common import answering_failures, responder, working_notice


@dataclass(frozen=True)
class Invocation:
    """One slash command as the domain layer needs it."""

    command: str
    args: list[str]
    user: str
    channel: str
    team: Team
    language: str
    body: dict[str, Any]


class UsageError(Exception):
    """The user typed something the command doesn't take; the reply is the usage text."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


Command = Callable[[Services, Invocation], list[Block]]
COMMANDS: dict[str, tuple[str, Command]] = {}
ASKS: dict[str, tuple[str, ...]] = {}  # the backends a command asks, named in "working on it…"


def command(name: str, usage_key: str, asks: tuple[str, ...] = ()) -> Callable[[Command], Command]:
    def add(fn: Command) -> Command:
        COMMANDS[name] = (usage_key, fn)
        ASKS[name] = asks
        return fn
    return add


def resolve_team(services: Services, invocation_team: Team, name: str | None, language: str) -> Team:
    if name is None:
        return invocation_team
    team = services.config.team_named(name.lstrip("#"))
    if team is None:
        known = ", ".join(f"`{t_.name}`" for t_ in services.config.teams) or t("core.no_teams", language)
        raise UsageError(t("core.unknown_team", language, team=name, known=known))
    return team


def single_optional(args: list[str], language: str) -> str | None:
    if len(args) > 1:
        raise UsageError(t("core.unknown_argument", language, argument=" ".join(args[1:])))
    return args[0] if args else None


@command("/gpu", "gpu", asks=("prometheus", "kubernetes"))
def gpu(services: Services, inv: Invocation) -> list[Block]:
    from bot.gpu.render import gpu_blocks

    team = resolve_team(services, inv.team, single_optional(inv.args, inv.language), inv.language)
    return gpu_blocks(services.gpu.summary(team), inv.language)


@command("/spend", "spend", asks=("aws",))
def spend(services: Services, inv: Invocation) -> list[Block]:
    from bot.spend.model import ReportDaysError, report_days
    from bot.spend.render import spend_blocks

    arg = single_optional(inv.args, inv.language)
    try:
        days = report_days(arg)
    except ReportDaysError as exc:
        raise UsageError(t("core.unknown_argument", inv.language, argument=exc.text)) from None
    return spend_blocks(services.spend.by_team(days=days), inv.language, services.clock.now())


@command("/review", "review", asks=("github",))
def review(services: Services, inv: Invocation) -> list[Block]:
    from bot.review.render import review_blocks

    team = resolve_team(services, inv.team, single_optional(inv.args, inv.language), inv.language)
    return review_blocks(services.review.pending(team), inv.language)


def invocation(services: Services, body: dict[str, Any]) -> Invocation:
    team = services.config.team_for_channel(body.get("channel_id"), body.get("channel_name"))
    user = body.get("user_id", "")
    return Invocation(command=body["command"], args=(body.get("text") or "").split(), user=user,
                      channel=body.get("channel_id", ""), team=team,
                      language=services.language(user, team), body=body)


def run_command(services: Services, body: dict[str, Any], reply: Callable[[list[Block]], Any]) -> None:
    inv = invocation(services, body)
    usage_key, fn = COMMANDS[inv.command]
    with working_notice(reply, inv.language, ASKS.get(inv.command, ())) as answer, \
            answering_failures(answer, inv.language, "command", inv.command):
        if inv.args[:1] in (["help"], ["-h"], ["--help"]):
            answer(usage_blocks(inv.language, usage_key))
            return
        try:
            blocks = fn(services, inv)
            if blocks:
                answer(blocks)
        except UsageError as exc:
            prefix = [section(exc.message)] if exc.message else []
            answer(prefix + usage_blocks(inv.language, usage_key))


def register(app: App, services: Services) -> None:
    import handlers.incident_commands  # noqa: F401  (registers /incident and /oncall)

    def ack_now(ack: Ack) -> None:
        ack()

    def answer(body: dict[str, Any], respond: Respond) -> None:
        run_command(services, body, responder(respond))

    for name in COMMANDS:
        app.command(name)(ack=ack_now, lazy=[answer])

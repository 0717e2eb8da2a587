"""/spend and its views (by, team, project, Nd, burn, snapshots, shutdown), and the cost guards' buttons and modals:
Keep running tonight, Postpone, Stop now, Delete N snapshots."""

from __future__ import annotations

import difflib
from datetime import date
from typing import Any

from slack_bolt import App

from bot.i18n import t
from bot.permissions import Denied
from bot.render.blocks import Block, section
from bot.render.time import local
from bot.services import Services
from bot.settings import Team
from bot.spend import render
from bot.spend.model import ReportDaysError, report_days
from bot.spend.service import UnknownName, closest
from bot.spend.shutdown import ShutdownRefused
from bot.spend.snapshots import SnapshotRefused
from handlers.common import (
    Button,
    Click,
    Command,
    Invocation,
    Refusal,
    Submission,
    UsageError,
    echo,
    reader_tz,
    register_buttons,
    register_commands,
    register_modal,
)

BREAKDOWNS = ("team", "service", "project")
VIEWS = ("by", "team", "project", "burn", "snapshots", "shutdown")


def spend(services: Services, inv: Invocation) -> list[Block]:
    words = [w for w in inv.args if w]
    view = words[0].lower() if words else ""
    try:
        if not words:
            return overview(services, inv, _channel_team(services, inv))
        if view == "by":
            return by(services, inv, words[1:])
        if view == "team":
            team = _named_team(services, _one(words[1:2], inv, "team"))
            _no_more(words[2:], inv.language)
            return overview(services, inv, team)
        if view == "project":
            project = _one(words[1:2], inv, "project")
            days = _days(words[2:], inv.language)
            report = services.spend.breakdown("service", days, project=project)
            return render.spend_blocks(report, inv.language, reader_tz(services, inv))
        if view in ("burn", "snapshots", "shutdown"):
            return _guard_view(services, inv, view, words[1:])
        if _is_days(view):
            _no_more(words[1:], inv.language)
            return _period(services, inv, report_days(view))
    except UnknownName as exc:
        return [section(render.not_found_text(exc.kind, exc.name, exc.closest, inv.language))]
    except ReportDaysError as exc:
        raise UsageError(t("core.unknown_argument", inv.language, argument=echo(exc.text))) from None
    raise UsageError(_unknown(view, VIEWS, inv.language))


def overview(services: Services, inv: Invocation, team: Team | None) -> list[Block]:
    report = services.spend.overview(team)
    if any(usd for _, usd in report.daily):
        inv.later.append(lambda: _attach_chart(services, inv, report.daily, team))
    return render.overview_blocks(report, inv.language, reader_tz(services, inv))


def by(services: Services, inv: Invocation, args: list[str]) -> list[Block]:
    breakdown = _one(args[:1], inv, "breakdown").lower()
    if breakdown not in BREAKDOWNS:
        raise UnknownName("breakdown", breakdown, closest(breakdown, BREAKDOWNS))
    team = _channel_team(services, inv) if breakdown != "team" else None
    report = services.spend.breakdown(breakdown, _days(args[1:], inv.language), team=team)  # type: ignore[arg-type]
    return render.spend_blocks(report, inv.language, reader_tz(services, inv))


def _period(services: Services, inv: Invocation, days: int) -> list[Block]:
    """`/spend 30d`: by team for the account; by service in a team's channel."""
    team = _channel_team(services, inv)
    report = services.spend.breakdown("service" if team else "team", days, team=team)
    return render.spend_blocks(report, inv.language, reader_tz(services, inv))


def _guard_view(services: Services, inv: Invocation, view: str, args: list[str]) -> list[Block]:
    tz, top = reader_tz(services, inv), services.config.gpu.top
    if view == "burn":
        team = _named_team(services, args[0]) if args else _channel_team(services, inv)
        _no_more(args[1:], inv.language)
        return render.burn_blocks(services.burn.report(team), inv.language, tz, top)
    if view == "snapshots":
        _no_more(args, inv.language)
        report = services.snapshots.report(_channel_team(services, inv))
        key = services.snapshots.plan_deletion(report, inv.user) if report.snapshots else None
        return render.snapshot_blocks(report, inv.language, tz, key, services.snapshots.dlm_policy(), top)
    team = _named_team(services, args[0]) if args else _channel_team(services, inv)
    _no_more(args[1:], inv.language)
    if team is None:
        raise UsageError(t("spend.shutdown_needs_team", inv.language,
                           teams=", ".join(t_.name for t_ in services.config.teams) or "—"))
    plan = services.shutdown.plan(team)
    if plan is None:
        return [section(t("spend.no_shutdown_scheduled", inv.language, team=team.name))]
    return render.shutdown_plan_blocks(plan, inv.language, tz, services.clock.now(),
                                       can_stop=services.guard.allows(inv.user, inv.language), top=top)


def _attach_chart(services: Services, inv: Invocation, daily: tuple[tuple[date, float], ...],
                  team: Team | None) -> None:
    from bot.spend.chart import daily_png  # matplotlib takes ~0.3 s to import; only this needs it

    title = t("spend.chart_title", inv.language, scope=team.name if team else t("spend.whole_account", inv.language))
    services.notifier.upload(inv.channel, "spend-daily.png", daily_png(daily, title, inv.language),
                             title=title)


# Buttons and modals ------------------------------------------------------------------------------------------
def postpone(services: Services, click: Click) -> list[Block] | None:
    team, night = _night(services, click)
    until = services.shutdown.postpone(team, night, click.user, click.language)
    return [section(t("spend.postponed", click.language, team=team.name,
                      time=f"{local(until, _user_tz(services, click.user, team)):%H:%M}"))]


def stop_now(services: Services, click: Click) -> list[Block] | None:
    team, night = _night(services, click)
    result = services.shutdown.stop_now(team, night, click.user, click.language)
    return render.shutdown_result_blocks(result, click.language, _user_tz(services, click.user, team),
                                         services.config.gpu.top)


def refusing(act: Button) -> Button:
    """A guard button: refusals (no permission, too late, already done) are the answer, not an error."""
    def clicked(services: Services, click: Click) -> list[Block] | None:
        try:
            return act(services, click)
        except (Denied, ShutdownRefused, SnapshotRefused) as exc:
            return [section(str(exc))]
        except BadButton:
            return [section(t("spend.bad_button", click.language))]
    return clicked


def keep_view(services: Services, click: Click, metadata: str) -> dict[str, Any]:
    try:
        _night(services, click)
    except BadButton:
        raise Refusal(t("spend.bad_button", click.language)) from None
    return render.keep_modal(metadata, str(click.value.get("instance", "")), click.language)


def keep_submitted(services: Services, sub: Submission) -> list[Block] | None:
    value = sub.value if isinstance(sub.value, dict) else {}
    try:
        team, night = _team_night(services, value)
        instance = str(value.get("instance") or "")
        services.shutdown.keep(team, night, instance, sub.user, sub.inputs.get("why", "")[:200], sub.language)
    except (Denied, ShutdownRefused) as exc:
        return [section(str(exc))]
    except BadButton:
        return [section(t("spend.bad_button", sub.language))]
    return [section(t("spend.kept", sub.language, instance=instance))]


def delete_view(services: Services, click: Click, metadata: str) -> dict[str, Any]:
    key = str(click.value)
    try:
        return render.delete_modal(services.snapshots.planned(key, click.language), metadata, click.language)
    except SnapshotRefused as exc:
        raise Refusal(str(exc)) from None


def delete_submitted(services: Services, sub: Submission) -> list[Block] | None:
    thread = (sub.channel, sub.message_ts) if sub.channel and sub.message_ts else None
    try:
        result = services.snapshots.delete(str(sub.value), sub.user, sub.language, thread=thread)
    except (Denied, SnapshotRefused) as exc:
        return [section(str(exc))]
    return render.deletion_blocks(result, sub.language, services.config.gpu.top)


# Pieces ------------------------------------------------------------------------------------------------------
def _night(services: Services, click: Click) -> tuple[Team, date]:
    return _team_night(services, click.value if isinstance(click.value, dict) else {})


class BadButton(Exception):
    """A guard button's value names no team and night (a message from an older version, or a forged one)."""


def _team_night(services: Services, value: dict[str, Any]) -> tuple[Team, date]:
    """The team and night a guard button names."""
    team = services.config.team_named(str(value.get("team", "")))
    try:
        night = date.fromisoformat(str(value.get("night", "")))
    except ValueError:
        raise BadButton from None
    if team is None:
        raise BadButton
    return team, night


def _channel_team(services: Services, inv: Invocation) -> Team | None:
    """A team's channel means that team (when it has a cost_tag or instance tags); any other the whole account."""
    team = services.config.team_named(inv.team.name)
    return team if team and (team.cost_tag or team.instance_tags) else None


def _named_team(services: Services, name: str) -> Team:
    team = services.config.team_named(name.lstrip("#"))
    if team is None:
        raise UnknownName("team", name, closest(name, [t_.name for t_ in services.config.teams]))
    return team


def _one(args: list[str], inv: Invocation, kind: str) -> str:
    if not args:
        raise UsageError(t("spend.name_needed", inv.language, kind=t(f"spend.kind_{kind}", inv.language)))
    return args[0]


def _days(args: list[str], lang: str) -> int:
    _no_more(args[1:], lang)
    return report_days(args[0] if args else None)


def _is_days(word: str) -> bool:
    return word.rstrip("d").isdecimal()


def _no_more(args: list[str], lang: str) -> None:
    if args:
        raise UsageError(t("core.unknown_argument", lang, argument=echo(" ".join(args))))


def _unknown(word: str, known: tuple[str, ...], lang: str) -> str:
    near = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    text = t("core.unknown_argument", lang, argument=echo(word))
    return text + (" " + t("spend.did_you_mean", lang, name=near[0]) if near else "")


def _user_tz(services: Services, user: str, team: Team) -> str:
    return services.users.get(user).tz or team.timezone


COMMANDS = {"/spend": Command("spend", spend, asks=("aws",))}
BUTTONS: dict[str, Button] = {render.POSTPONE: refusing(postpone), render.STOP_NOW: refusing(stop_now)}


def register(app: App, services: Services) -> None:
    register_commands(app, services, COMMANDS)
    register_buttons(app, services, BUTTONS)
    register_modal(app, services, render.KEEP, render.KEEP_VIEW, keep_view, keep_submitted)
    register_modal(app, services, render.DELETE, render.DELETE_VIEW, delete_view, delete_submitted)

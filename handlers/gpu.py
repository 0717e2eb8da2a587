"""/gpu and its views (idle, node, ns, team, queue, health), and the Notify owner / Snooze buttons."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from slack_bolt import App

from bot.escape import Markup
from bot.gpu import render
from bot.gpu.model import Fleet, Gpu, Scope
from bot.gpu.owners import Nudge
from bot.gpu.service import NotFound
from bot.i18n import t
from bot.permissions import Denied
from bot.render.blocks import Block, mention, section
from bot.render.time import local
from bot.services import Services
from handlers.common import (
    Button,
    Click,
    Command,
    Invocation,
    UsageError,
    echo,
    reader_tz,
    register_buttons,
    register_commands,
    resolve_team,
)

FOCUS = {"node": "node", "ns": "namespace", "namespace": "namespace", "team": "team"}
VIEWS = ("idle", "queue", "health")


def gpu(services: Services, inv: Invocation) -> list[Block]:
    words = [w for w in inv.args if w]
    view = words[0].lower() if words else ""
    try:
        if view in FOCUS:
            return focus(services, inv, FOCUS[view], words[1:])
        if view in VIEWS:
            _no_more(words[1:], inv.language)
            return _view(services, inv, view, _channel_scope(services, inv))
        _no_more(words[1:], inv.language)
        scope = Scope("team", resolve_team(services, inv.team, words[0], inv.language).name) if words \
            else _channel_scope(services, inv)
        return summary(services, inv, scope)
    except NotFound as exc:
        return [section(render.not_found_text(exc.kind, exc.name, exc.closest, inv.language))]


def summary(services: Services, inv: Invocation, scope: Scope) -> list[Block]:
    report = services.gpu.summary(scope)
    if report.fleet.nodes:
        inv.later.append(lambda: _attach_chart(services, inv, report.fleet))
    return render.summary_blocks(report, inv.language, reader_tz(services, inv), services.config.gpu.top)


def focus(services: Services, inv: Invocation, kind: str, args: list[str]) -> list[Block]:
    if len(args) != 1:
        raise UsageError(t("gpu.name_needed", inv.language, kind=t(f"gpu.kind_{kind}", inv.language)))
    name = args[0].lstrip("#") if kind == "team" else args[0]
    if kind == "team" and services.config.team_named(name) is None:
        teams = [team.name for team in services.config.teams]
        raise NotFound("team", name, difflib.get_close_matches(name, teams, n=3, cutoff=0.5) or teams[:5])
    report = services.gpu.summary(Scope(kind, name))  # type: ignore[arg-type]  # FOCUS values are ScopeKinds
    top = services.config.gpu.top
    if len(report.fleet.gpus) > top * 4:
        _attach_csv(services, inv, f"gpus-{kind}-{name}.csv", report.fleet.gpus)
    return render.focus_blocks(report, inv.language, reader_tz(services, inv), top)


def _view(services: Services, inv: Invocation, view: str, scope: Scope) -> list[Block]:
    top, tz = services.config.gpu.top, reader_tz(services, inv)
    if view == "idle":
        report = services.gpu.idle(scope)
        if len({g.holder.key for g in report.gpus if g.holder}) > top:
            _attach_csv(services, inv, "idle-gpus.csv", report.gpus)
        return render.idle_blocks(report, inv.language, tz, top)
    if view == "queue":
        return render.queue_blocks(services.gpu.queue(scope), scope, services.clock.now(), inv.language, top)
    return render.health_blocks(services.gpu.health(scope), inv.language, tz, top)


def _attach_chart(services: Services, inv: Invocation, fleet: Fleet) -> None:
    from bot.gpu.chart import utilization_png  # matplotlib takes ~0.3 s to import; only this needs it

    services.notifier.upload(inv.channel, "gpu-utilization.png", utilization_png(fleet, inv.language),
                             title=t("gpu.chart_file", inv.language))


def _attach_csv(services: Services, inv: Invocation, filename: str, gpus: tuple[Gpu, ...] | list[Gpu]) -> None:
    """Every row of a list Slack only shows the top of, uploaded after the answer."""
    now = services.clock.now()
    inv.later.append(lambda: services.notifier.upload(inv.channel, filename, render.gpus_csv(gpus, now),
                                                      title=t("gpu.csv_file", inv.language)))


def _channel_scope(services: Services, inv: Invocation) -> Scope:
    """A team's channel shows that team's GPUs; any other channel the whole cluster."""
    if services.config.team_named(inv.team.name) and inv.team.namespaces:
        return Scope("team", inv.team.name)
    return Scope("cluster")


def _no_more(args: list[str], lang: str) -> None:
    if args:
        raise UsageError(t("core.unknown_argument", lang, argument=echo(" ".join(args))))


# Buttons ---------------------------------------------------------------------------------------------
def on_pod(act: Callable[[Services, Click, str], str]) -> Button:
    """A button whose value names a pod: the answer is one line, or who may do it instead."""
    def clicked(services: Services, click: Click) -> list[Block] | None:
        pod = _pod(click)
        if pod is None:
            return [section(t("gpu.bad_button", click.language))]
        try:
            return [section(act(services, click, pod))]
        except Denied as exc:
            return [section(str(exc))]
    return clicked


def notify_owner(services: Services, click: Click, pod: str) -> str:
    return _nudge_text(services, services.gpu_owners.notify(pod, click.user, click.language), click.language)


def snooze(services: Services, click: Click, pod: str) -> str:
    until = services.gpu_owners.snooze(pod, click.user, click.language)
    tz = services.users.get(click.user).tz or services.config.defaults.timezone
    return t("gpu.snoozed", click.language, pod=pod, until=f"{local(until, tz):%Y-%m-%d %H:%M}")


def _nudge_text(services: Services, nudge: Nudge, lang: str) -> str:
    if nudge.outcome == "sent":
        to = mention(nudge.user) if nudge.user else f"<#{nudge.channel}>"
        return t("gpu.notified", lang, pod=nudge.pod, to=Markup(to))
    if nudge.outcome == "already" and nudge.earlier is not None:
        tz = services.config.defaults.timezone
        return t("gpu.already_notified", lang, pod=nudge.pod, by=Markup(mention(nudge.earlier.by)),
                 time=f"{local(nudge.earlier.opened_at, tz):%H:%M} {tz}")
    if nudge.outcome == "no_owner":
        labels = ", ".join(services.config.gpu.owner_labels)
        return t("gpu.no_owner_to_notify", lang, pod=nudge.pod, owner=nudge.owner or "—", labels=labels)
    return t("gpu.not_idle_any_more", lang, pod=nudge.pod)


def _pod(click: Click) -> str | None:
    value = click.value if isinstance(click.value, dict) else {}
    pod = str(value.get("pod", ""))
    return pod if "/" in pod else None


COMMANDS = {"/gpu": Command("gpu", gpu, asks=("prometheus", "kubernetes"))}
BUTTONS: dict[str, Button] = {render.NOTIFY: on_pod(notify_owner), render.SNOOZE: on_pod(snooze)}


def register(app: App, services: Services) -> None:
    register_commands(app, services, COMMANDS)
    register_buttons(app, services, BUTTONS)

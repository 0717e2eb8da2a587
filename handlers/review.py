"""/review (mine), /review team [name], /review nudge <PR URL> [by <time>] [because <reason>], /review remind on|off,
and the nudge's buttons: Reviewing now, Can't this week, Snooze 1 day."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.i18n import t
from bot.permissions import Denied
from bot.render.blocks import Block, section
from bot.review import render
from bot.review.nudges import Answer, NoReviewers, NotOpen, NudgeRefused, UnknownRepo
from bot.review.parse import BadPullRequest, BadTime, parse_nudge
from bot.services import Services
from bot.settings import Team
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
    single_optional,
)


def review(services: Services, inv: Invocation) -> list[Block]:
    words = inv.args
    view = words[0].lower() if words else ""
    if not words:
        return render.my_queue_blocks(services.review.my_queue(inv.user), inv.language, reader_tz(services, inv))
    if view == "team":
        return _team(services, inv, resolve_team(services, inv.team, single_optional(words[1:], inv.language),
                                                 inv.language))
    if view == "nudge":
        return nudge(services, inv, " ".join(words[1:]))
    if view == "remind":
        return remind(services, inv, words[1:])
    if services.config.team_named(view.lstrip("#")):  # `/review ml-platform`, as before there was `team`
        return _team(services, inv, resolve_team(services, inv.team, single_optional(words, inv.language),
                                                 inv.language))
    raise UsageError(t("core.unknown_argument", inv.language, argument=echo(words[0])))


def _team(services: Services, inv: Invocation, team: Team) -> list[Block]:
    return render.team_queue_blocks(services.review.team_queue(team), inv.language, reader_tz(services, inv))


def nudge(services: Services, inv: Invocation, text: str) -> list[Block]:
    lang = inv.language
    try:
        request = parse_nudge(text)
        report = services.nudges.nudge(inv.user, request, lang)
    except BadPullRequest as exc:
        raise UsageError(t("review.bad_url", lang, text=echo(str(exc) or text))) from None
    except BadTime as exc:
        raise UsageError(t("review.bad_time", lang, text=echo(str(exc)))) from None
    except UnknownRepo as exc:
        teams = ", ".join(f"`{team.name}`" for team in services.config.teams) or t("core.no_teams", lang)
        return [section(t("review.unknown_repo", lang, repo=str(exc), teams=teams))]
    except NotOpen as exc:
        url = f"{request.repo}#{request.number}"
        if exc.state is None:
            return [section(t("review.no_pr", lang, url=url))]
        return [section(t("review.not_open", lang, url=url, state=t(f"review.state_{exc.state.lower()}", lang)))]
    except NoReviewers:
        return [section(t("review.no_reviewers", lang, url=f"{request.repo}#{request.number}"))]
    except Denied as exc:
        return [section(str(exc))]
    return render.nudge_report_blocks(report, lang)


def remind(services: Services, inv: Invocation, args: list[str]) -> list[Block]:
    choice = args[0].lower() if len(args) == 1 else ""
    if choice not in ("on", "off"):
        raise UsageError(t("review.remind_usage", inv.language))
    services.review_digests.remind(inv.user, inv.team, choice == "on", inv.language)
    calendar = services.review.person_calendar(inv.team, inv.user)
    return render.remind_blocks(choice == "on", inv.language, str(calendar.hours), calendar.tz.key)


def answering(choice: Answer) -> Button:
    def clicked(services: Services, click: Click) -> list[Block] | None:
        nudge_id = _nudge_id(click.value)
        if nudge_id is None:
            return [section(t("review.gone", click.language))]
        try:
            blocks = services.nudges.answer(nudge_id, choice, click.user, click.language)
        except (Denied, NudgeRefused) as exc:
            return [section(str(exc))]
        # The DM loses its buttons (the answer is given); if Slack won't edit it, the answer comes as a reply.
        if click.message_ts and click.channel and services.notifier.update(click.channel, click.message_ts, blocks):
            return None
        return blocks
    return clicked


def _nudge_id(value: Any) -> int | None:
    nudge_id = value.get("nudge") if isinstance(value, dict) else None
    return nudge_id if isinstance(nudge_id, int) and not isinstance(nudge_id, bool) else None


COMMANDS = {"/review": Command("review", review, asks=("github",))}
BUTTONS: dict[str, Button] = {render.REVIEWING: answering("reviewing"), render.CANT: answering("cant"),
                              render.SNOOZE: answering("snooze")}


def register(app: App, services: Services) -> None:
    register_commands(app, services, COMMANDS)
    register_buttons(app, services, BUTTONS)

"""What every handler shares: the parsed request (Invocation, Click), the repliers, the tables commands and
buttons are registered from, and turning failures into clear answers in the user's language."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from slack_bolt import Ack, App, Respond
from slack_sdk.errors import SlackApiError

from bot.clients import ChatSender
from bot.escape import Markup
from bot.i18n import t
from bot.metrics import ERRORS, HANDLER_SECONDS
from bot.render.blocks import Block, context, error_blocks, section, usage_blocks
from bot.render.text import notification_text, safe_blocks
from bot.retry import DATABASE_ERRORS, BackendError, backend_error_text, backend_name, diagnose
from bot.services import Services
from bot.settings import Team

log = logging.getLogger("handlers")
Reply = Callable[[list[Block]], Any]
T = TypeVar("T")
# Seconds without an answer before the user is told the bot is on it (Slack shows nothing meanwhile).
WORKING_AFTER = 2.0


@contextmanager
def answering_failures(reply: Reply, language: str, kind: str, name: str) -> Iterator[None]:
    """Run handler work; a failure becomes a short reply (backend named, or an error id), never silence."""
    started = time.perf_counter()
    try:
        yield
    except BackendError as exc:
        _backend_failed(reply, language, kind, name, exc)
    except DATABASE_ERRORS as exc:
        _backend_failed(reply, language, kind, name, diagnose("database", exc, where="database"))
    except Exception:
        error_id = uuid.uuid4().hex[:8]
        ERRORS.labels("bot").inc()
        log.exception("%s %s failed; error id %s", kind, name, error_id, extra={"error_id": error_id})
        _safely(reply, error_blocks(t("core.error_with_id", language, error_id=error_id)))
    finally:
        HANDLER_SECONDS.labels(kind, name).observe(time.perf_counter() - started)


def _backend_failed(reply: Reply, language: str, kind: str, name: str, exc: BackendError) -> None:
    if not exc.counted:  # call_with_retries counted the call that failed; one failure is one error
        ERRORS.labels(exc.backend).inc()
    log.warning("%s %s: backend %s failed: %s%s", kind, name, exc.backend, exc.reason,
                f" [{exc.detail}]" if exc.detail else "")
    _safely(reply, error_blocks(backend_error_text(exc, language)))


def _safely(reply: Reply, blocks: list[Block]) -> None:
    try:
        reply(blocks)
    except Exception:
        log.exception("could not tell the user about a failure")


@contextmanager
def working_notice(reply: Reply, language: str, backends: Sequence[str] = ()) -> Iterator[Reply]:
    """Yields the reply to answer with. If no answer went out within WORKING_AFTER seconds, one
    "Working on it… (asking Prometheus)" goes out first; the answer always comes after it."""
    lock = threading.Lock()
    answered = False

    def tell_working() -> None:
        with lock:  # held while posting, so an answer that arrives meanwhile waits and lands second
            if not answered:
                _safely(reply, [context(working_text(language, backends))])

    def answer(blocks: list[Block]) -> Any:
        nonlocal answered
        with lock:
            answered = True
        timer.cancel()
        return reply(blocks)

    timer = threading.Timer(WORKING_AFTER, tell_working)
    timer.daemon = True
    timer.start()
    try:
        yield answer
    finally:
        with lock:
            answered = True
        timer.cancel()


def working_text(language: str, backends: Sequence[str]) -> str:
    if not backends:
        return t("core.working", language)
    names = [backend_name(backend, language) for backend in backends]
    listed = names[0] if len(names) == 1 else t(
        "core.list_and", language, items=Markup(t("core.list_separator", language).join(names[:-1])),
        last=names[-1])
    return t("core.working_asking", language, backends=listed)


def responder(respond: Callable[..., Any], response_type: str = "ephemeral") -> Reply:
    def reply(blocks: list[Block]) -> Any:
        safe = safe_blocks(blocks)
        return respond(blocks=safe, text=notification_text(safe), response_type=response_type,
                       replace_original=False)
    return reply


def ephemeral(chat: ChatSender, channel: str, user: str, thread_ts: str | None = None) -> Reply:
    """Only `user` sees it; through the process's one Chat, so it is escaped and paced like every post."""
    def reply(blocks: list[Block]) -> Any:
        return chat.ephemeral(channel, user, blocks, thread_ts=thread_ts)
    return reply


def post(chat: ChatSender, channel: str, thread_ts: str | None = None) -> Reply:
    def reply(blocks: list[Block]) -> Any:
        return chat.post(channel, blocks, thread_ts=thread_ts)
    return reply


# Slash commands -------------------------------------------------------------------------------------
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
    later: list[Callable[[], Any]] = field(default_factory=list)  # run after the answer went out (file uploads)


class UsageError(Exception):
    """The user typed something the command doesn't take; the reply is the usage text."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Command:
    """A slash command: its usage text (`core.usage_<usage>`), the backends it asks, and what answers it."""

    usage: str
    run: Callable[[Services, Invocation], list[Block]]
    asks: tuple[str, ...] = ()  # named in "working on it… (asking Prometheus)"


def invocation(services: Services, body: dict[str, Any]) -> Invocation:
    team = services.config.team_for_channel(body.get("channel_id"), body.get("channel_name"))
    user = body.get("user_id", "")
    return Invocation(command=body["command"], args=storable(body.get("text") or "").split(), user=user,
                      channel=body.get("channel_id", ""), team=team,
                      language=services.language(user, team), body=body)


def storable(text: str) -> str:
    """What a person typed, without U+0000: PostgreSQL text can't hold it (a note, a reason, a title would fail)."""
    return text.replace("\x00", "")


def reader_tz(services: Services, inv: Invocation) -> str:
    """The time zone the person who typed the command reads times in: their Slack zone, else the channel team's."""
    return services.users.get(inv.user).tz or inv.team.timezone


def resolve_team(services: Services, invocation_team: Team, name: str | None, language: str) -> Team:
    """The team a command names (`/gpu ml-platform`), else the channel's."""
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


ECHO_CHARS = 40  # what a refusal quotes of the typed text, so a pasted novel still leaves room for the usage


def echo(typed: str) -> str:
    return typed if len(typed) <= ECHO_CHARS else typed[:ECHO_CHARS - 1] + "…"


def prepared(services: Services, reply: Reply, kind: str, name: str, make: Callable[[], T]) -> T | None:
    """What a handler reads before its work (who, where, in which language). When even that fails, the person
    still hears it, with an error id, in the organisation's language; None then."""
    with answering_failures(reply, services.config.defaults.language, kind, name):
        return make()
    return None


def run_command(services: Services, command: Command, body: dict[str, Any], reply: Reply) -> None:
    inv = prepared(services, reply, "command", str(body.get("command", "")), lambda: invocation(services, body))
    if inv is None:
        return
    with working_notice(reply, inv.language, command.asks) as answer, \
            answering_failures(answer, inv.language, "command", inv.command):
        if inv.args[:1] in (["help"], ["-h"], ["--help"]):
            answer(usage_blocks(inv.language, command.usage))
            return
        try:
            blocks = command.run(services, inv)
            if blocks:
                answer(blocks)
        except UsageError as exc:
            prefix = [section(exc.message)] if exc.message else []
            answer(prefix + usage_blocks(inv.language, command.usage))
        for then in inv.later:
            then()


def register_commands(app: App, services: Services, commands: Mapping[str, Command]) -> None:
    """Ack at once (Slack wants it within 3 s); answer from a lazy listener."""
    for name, command in commands.items():
        app.command(name)(ack=ack_now, lazy=[_answering(services, command)])


def _answering(services: Services, command: Command) -> Callable[[dict[str, Any], Respond], None]:
    # Bolt fills a listener's arguments by name (`command` would be the request), hence this closure.
    def answer(body: dict[str, Any], respond: Respond) -> None:
        run_command(services, command, body, responder(respond))
    return answer


# Buttons and menus ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Click:
    """One button press or menu choice; `value` is the element's value, decoded from JSON when it is JSON."""

    action_id: str
    value: Any
    user: str
    channel: str
    message_ts: str | None
    language: str
    body: dict[str, Any]


Button = Callable[[Services, Click], list[Block] | None]


def click_from(services: Services, body: dict[str, Any]) -> Click:
    action = body["actions"][0]
    raw = (action.get("selected_option") or {}).get("value") or action.get("value") or "null"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    container = body.get("container") or {}
    channel = (body.get("channel") or container).get("id") or container.get("channel_id", "")
    user = (body.get("user") or {}).get("id", "")
    team = services.config.team_for_channel(channel)
    return Click(action_id=action["action_id"], value=value, user=user, channel=channel,
                 message_ts=(body.get("message") or {}).get("ts") or container.get("message_ts"),
                 language=services.language(user, team), body=body)


def _action_id(body: dict[str, Any]) -> str:
    actions = body.get("actions")
    return str(actions[0].get("action_id", "")) if isinstance(actions, list) and actions else ""


def run_button(services: Services, buttons: Mapping[str, Button], body: dict[str, Any], reply: Reply) -> None:
    """One button press or menu choice: the button's answer, or what went wrong, goes to `reply`."""
    click = prepared(services, reply, "action", _action_id(body), lambda: click_from(services, body))
    if click is None:
        return
    with working_notice(reply, click.language) as answer, \
            answering_failures(answer, click.language, "action", click.action_id):
        blocks = buttons[click.action_id](services, click)
        if blocks:
            answer(blocks)


def register_buttons(app: App, services: Services, buttons: Mapping[str, Button]) -> None:
    """Ack at once; the button's work runs in a lazy listener and answers only the person who clicked."""
    def clicked(body: dict[str, Any], respond: Respond) -> None:
        run_button(services, buttons, body, responder(respond))

    for action_id in buttons:
        app.action(action_id)(ack=ack_now, lazy=[clicked])


# Modals ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Submission:
    """A modal submitted: who, from which channel and message, the clicked element's value, the inputs."""

    user: str
    channel: str
    message_ts: str | None
    value: Any  # the value of the button that opened the modal
    inputs: dict[str, str]  # block_id → the text typed or option chosen
    language: str


ModalView = Callable[[Services, Click, str], dict[str, Any]]  # (services, click, private_metadata) → the view
Submitted = Callable[[Services, Submission], list[Block] | None]


def register_modal(app: App, services: Services, action_id: str, view_id: str, view: ModalView,
                   submitted: Submitted) -> None:
    """A button that opens a modal at once (Slack's trigger_id expires after 3 s) and whose submission runs
    lazily, answering the person ephemerally in the channel the button was in."""
    def open_modal(ack: Ack, body: dict[str, Any], client: Any) -> None:
        ack()
        click = click_from(services, body)
        metadata = json.dumps({"channel": click.channel, "ts": click.message_ts, "value": click.value})
        reply = ephemeral(services.chat, click.channel, click.user)
        with answering_failures(reply, click.language, "action", action_id):
            try:
                built = view(services, click, metadata)
            except Refusal as exc:
                reply([section(str(exc))])
                return
            try:
                client.views_open(trigger_id=body["trigger_id"], view=built)
            except (SlackApiError, KeyError) as exc:  # Slack refused the view, or the 3 s passed: say so
                log.warning("could not open the %s modal: %s", view_id, exc)
                reply([section(t("core.modal_failed", click.language))])

    def on_submit(body: dict[str, Any]) -> None:
        run_submission(services, view_id, submitted, body)

    app.action(action_id)(open_modal)
    app.view(view_id)(ack=ack_now, lazy=[on_submit])


def run_submission(services: Services, view_id: str, submitted: Submitted, body: dict[str, Any]) -> None:
    """One modal submitted: the answer, or what went wrong, goes ephemerally to whoever submitted it."""
    sub = submission_from(services, body)
    reply = ephemeral(services.chat, sub.channel, sub.user)
    with answering_failures(reply, sub.language, "view", view_id):
        blocks = submitted(services, sub)
        if blocks:
            reply(blocks)


class Refusal(Exception):
    """Raised by a modal's view builder: the modal is not opened and the person is told why (the message)."""


def submission_from(services: Services, body: dict[str, Any]) -> Submission:
    view = body.get("view") or {}
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        metadata = {}
    if not isinstance(metadata, dict):  # the bot writes an object; anything else names nothing
        metadata = {}
    inputs = {}
    for block_id, elements in ((view.get("state") or {}).get("values") or {}).items():
        for element in elements.values():
            chosen = element.get("value") or (element.get("selected_option") or {}).get("value")
            inputs[block_id] = storable(str(chosen or ""))
    user = (body.get("user") or {}).get("id", "")
    channel = str(metadata.get("channel") or "")
    ts = metadata.get("ts")
    return Submission(user=user, channel=channel, message_ts=ts if isinstance(ts, str) else None,
                      value=metadata.get("value"),
                      inputs=inputs, language=services.language(user, services.config.team_for_channel(channel)))


def ack_now(ack: Ack) -> None:
    """Slack wants every request acknowledged within 3 s; the work runs in a lazy listener."""
    ack()

"""Slack's published Block Kit and message limits, checked on what the bot sends: `violations(payload)`.

    violations(call)                  # a recorded Call: chat.postMessage, chat.update, chat.postEphemeral,
                                      # views.open / views.update, a response_url body
    violations({"blocks": blocks})    # rendered blocks as a message
    violations(view)                  # a modal or Home tab view (its "type" says which)

Each problem is one line naming where it is (`blocks[3].text`) and the limit broken, so an empty list means
Slack would accept the payload as far as sizes go. Blocks, attachments and views that Slack form parameters
carry as JSON strings are decoded first. The numbers are Slack's (api.slack.com/reference/block-kit) and match
those the bot renders to (bot/render/blocks.py SECTION_LIMIT and header, bot/spend/render.py modal limits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.render.blocks import SECTION_LIMIT
from tests.support.slack_text import decoded

MESSAGE_TEXT = 40_000
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100  # a modal or the Home tab
HEADER_TEXT = 150
FIELDS, FIELD_TEXT = 10, 2000
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
BUTTON_TEXT, BUTTON_VALUE, URL = 75, 2000, 3000
ID = 255  # action_id, block_id, callback_id, external_id
OPTION_TEXT, OPTION_VALUE, OPTION_DESCRIPTION, OPTIONS = 75, 150, 75, 100
PLACEHOLDER = 150
CONFIRM_TITLE, CONFIRM_TEXT, CONFIRM_BUTTON = 100, 300, 30
VIEW_TITLE, VIEW_BUTTON = 24, 24
PRIVATE_METADATA = 3000
INPUT_LABEL, INPUT_HINT, INPUT_LENGTH = 2000, 2000, 3000
ALT_TEXT, IMAGE_TITLE = 2000, 2000

Problems = list[str]


def violations(payload: Any) -> Problems:
    """Every limit `payload` breaks (see the module docstring for what a payload may be)."""
    params = getattr(payload, "params", payload)  # a recorded Call, or its parameters
    if not isinstance(params, dict):
        return [f"<payload>: expected an object, got {type(params).__name__}"]
    if "view" in params:
        return _view(decoded(params["view"]), "view")
    if params.get("type") in ("modal", "home"):
        return _view(params, "")
    return _message(params)


def _message(params: dict[str, Any]) -> Problems:
    problems = []
    text = params.get("text")
    if isinstance(text, str) and len(text) > MESSAGE_TEXT:
        problems.append(f"text: {len(text)} characters > {MESSAGE_TEXT}")
    blocks = decoded(params.get("blocks"))
    if blocks is None:
        if not text and not params.get("attachments") and not params.get("delete_original"):
            problems.append("<message>: neither text nor blocks")
        return problems
    return problems + _blocks(blocks, "blocks", MESSAGE_BLOCKS)


def _view(view: Any, where: str) -> Problems:
    at = f"{where}." if where else ""
    if not isinstance(view, dict):
        return [f"{where or '<view>'}: expected a view object"]
    problems = _blocks(view.get("blocks"), f"{at}blocks", VIEW_BLOCKS)
    for key in ("title", "submit", "close"):
        if key in view:
            problems += _text(view[key], f"{at}{key}", VIEW_TITLE, plain=True)
    if view.get("type") == "modal" and "title" not in view:
        problems.append(f"{at}title: missing")
    problems += _length(view.get("private_metadata"), f"{at}private_metadata", PRIVATE_METADATA)
    for key in ("callback_id", "external_id"):
        problems += _length(view.get(key), f"{at}{key}", ID)
    return problems


def _each(items: Any, at: str, most: int, check: Callable[[dict[str, Any], str], Problems]) -> Problems:
    """A list of at most `most` objects, each checked by `check(item, where it is)`."""
    if not isinstance(items, list):
        return [f"{at}: expected a list"]
    problems = [f"{at}: {len(items)} > {most}"] if len(items) > most else []
    for index, item in enumerate(items):
        where = f"{at}[{index}]"
        problems += check(item, where) if isinstance(item, dict) else [f"{where}: expected an object"]
    return problems


def _blocks(blocks: Any, where: str, most: int) -> Problems:
    return _each(blocks, where, most, _block)


def _block(block: dict[str, Any], at: str) -> Problems:
    check = _BLOCKS.get(str(block.get("type")))
    problems = check(block, at) if check else [f"{at}: unknown block type {block.get('type')!r}"]
    return problems + _length(block.get("block_id"), f"{at}.block_id", ID)


def _section(block: dict[str, Any], at: str) -> Problems:
    fields = block.get("fields") or []
    if "text" not in block and not fields:
        return [f"{at}: a section needs text or fields"]
    problems = _text(block["text"], f"{at}.text", SECTION_LIMIT) if "text" in block else []
    if len(fields) > FIELDS:
        problems.append(f"{at}.fields: {len(fields)} > {FIELDS}")
    for index, field in enumerate(fields):
        problems += _text(field, f"{at}.fields[{index}]", FIELD_TEXT)
    if "accessory" in block:
        problems += _element(block["accessory"], f"{at}.accessory")
    return problems


def _header(block: dict[str, Any], at: str) -> Problems:
    return _text(block.get("text"), f"{at}.text", HEADER_TEXT, plain=True)


def _context(block: dict[str, Any], at: str) -> Problems:
    elements = block.get("elements") or []
    problems = [f"{at}.elements: {len(elements)} > {CONTEXT_ELEMENTS}"] if len(elements) > CONTEXT_ELEMENTS else []
    if not elements:
        problems.append(f"{at}.elements: empty")
    for index, element in enumerate(elements):
        if isinstance(element, dict) and element.get("type") == "image":
            problems += _length(element.get("alt_text"), f"{at}.elements[{index}].alt_text", ALT_TEXT)
        else:
            problems += _text(element, f"{at}.elements[{index}]", SECTION_LIMIT)
    return problems


def _actions(block: dict[str, Any], at: str) -> Problems:
    elements = block.get("elements") or []
    problems = [f"{at}.elements: {len(elements)} > {ACTIONS_ELEMENTS}"] if len(elements) > ACTIONS_ELEMENTS else []
    for index, element in enumerate(elements):
        problems += _element(element, f"{at}.elements[{index}]")
    return problems


def _input(block: dict[str, Any], at: str) -> Problems:
    problems = _text(block.get("label"), f"{at}.label", INPUT_LABEL, plain=True)
    if "hint" in block:
        problems += _text(block["hint"], f"{at}.hint", INPUT_HINT, plain=True)
    return problems + _element(block.get("element"), f"{at}.element")


def _image(block: dict[str, Any], at: str) -> Problems:
    problems = _length(block.get("alt_text"), f"{at}.alt_text", ALT_TEXT)
    problems += _length(block.get("image_url"), f"{at}.image_url", URL)
    if "title" in block:
        problems += _text(block["title"], f"{at}.title", IMAGE_TITLE, plain=True)
    return problems


def _divider(block: dict[str, Any], at: str) -> Problems:
    return []


_BLOCKS: dict[str, Callable[[dict[str, Any], str], Problems]] = {
    "section": _section, "header": _header, "context": _context, "actions": _actions, "input": _input,
    "image": _image, "divider": _divider, "rich_text": _divider, "file": _divider,
}


def _element(element: Any, at: str) -> Problems:
    if not isinstance(element, dict):
        return [f"{at}: expected an element object"]
    problems = _length(element.get("action_id"), f"{at}.action_id", ID)
    kind = element.get("type")
    if kind == "button":
        problems += _text(element.get("text"), f"{at}.text", BUTTON_TEXT, plain=True)
        problems += _length(element.get("value"), f"{at}.value", BUTTON_VALUE)
        problems += _length(element.get("url"), f"{at}.url", URL)
    elif kind == "plain_text_input":
        problems += _plain_text_input(element, at)
    elif kind == "image":
        problems += _length(element.get("alt_text"), f"{at}.alt_text", ALT_TEXT)
    problems += _options(element.get("options"), f"{at}.options")
    if "placeholder" in element:
        problems += _text(element["placeholder"], f"{at}.placeholder", PLACEHOLDER, plain=True)
    if "confirm" in element:
        problems += _confirm(element["confirm"], f"{at}.confirm")
    return problems


def _plain_text_input(element: dict[str, Any], at: str) -> Problems:
    problems = []
    most = element.get("max_length", INPUT_LENGTH)
    if not isinstance(most, int) or not 1 <= most <= INPUT_LENGTH:
        problems.append(f"{at}.max_length: {most!r} outside 1 to {INPUT_LENGTH}")
        most = INPUT_LENGTH
    least = element.get("min_length", 0)
    if not isinstance(least, int) or not 0 <= least <= min(most, INPUT_LENGTH):
        problems.append(f"{at}.min_length: {least!r} outside 0 to {most}")
    return problems + _length(element.get("initial_value"), f"{at}.initial_value", most)


def _options(options: Any, at: str) -> Problems:
    return [] if options is None else _each(options, at, OPTIONS, _option)


def _option(option: dict[str, Any], at: str) -> Problems:
    problems = _text(option.get("text"), f"{at}.text", OPTION_TEXT)
    problems += _length(option.get("value"), f"{at}.value", OPTION_VALUE)
    if "description" in option:
        problems += _text(option["description"], f"{at}.description", OPTION_DESCRIPTION)
    return problems


def _confirm(confirm: Any, at: str) -> Problems:
    if not isinstance(confirm, dict):
        return [f"{at}: expected a confirmation object"]
    return (_text(confirm.get("title"), f"{at}.title", CONFIRM_TITLE, plain=True)
            + _text(confirm.get("text"), f"{at}.text", CONFIRM_TEXT)
            + _text(confirm.get("confirm"), f"{at}.confirm", CONFIRM_BUTTON, plain=True)
            + _text(confirm.get("deny"), f"{at}.deny", CONFIRM_BUTTON, plain=True))


def _text(value: Any, at: str, most: int, plain: bool = False) -> Problems:
    """A text object: plain_text where Slack wants it, 1 to `most` characters."""
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return [f"{at}: expected a text object"]
    problems = []
    if value.get("type") not in (("plain_text",) if plain else ("plain_text", "mrkdwn")):
        problems.append(f"{at}.type: {value.get('type')!r} where Slack takes {'plain_text' if plain else 'a text'}")
    text = value["text"]
    if not text.strip():
        problems.append(f"{at}.text: empty (Slack refuses a blank text)")
    return problems + _length(text, f"{at}.text", most)


def _length(value: Any, at: str, most: int) -> Problems:
    if isinstance(value, str) and len(value) > most:
        return [f"{at}: {len(value)} characters > {most}"]
    return []

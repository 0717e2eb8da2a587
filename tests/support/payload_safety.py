"""Session-wide guarantee: no Slack payload the bot sends broadcasts or carries a mention it did not write.

Flagged in any string of a call's parameters (text, blocks, attachments, views, response_url bodies, and
JSON encoded inside form parameters, recursively):
- `<!channel>`, `<!everyone>`, `<!group>`, `<!subteam^…>`: the bot never sends these;
- `<!here>` anywhere but the very start of a string: the bot's own loud "nobody acknowledged" post starts
  with it, and user text is never at position 0 of that template; a labelled `<!here|…>` anywhere;
- a labelled user mention `<@U123|name>`: the bot never writes labels, so one is a spoof;
- a mention of `UEVIL…` / `WEVIL…`: the canary ids tests put in hostile user text
  (e.g. a title "<@UEVIL1> &lt;!channel&gt;"), which must reach Slack escaped.

SlackRecorder calls `check_call` on every call it records. tests/conftest.py fails the test that caused a
violation at its teardown and the whole session at the end; a test of the detector itself wraps the unsafe
calls it makes in `expect_unsafe()`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_BROADCAST = re.compile(r"<!(?:channel|everyone|group|subteam\^)[^>]*>", re.IGNORECASE)
_HERE = re.compile(r"<!here(?:\|[^>]*)?>", re.IGNORECASE)
_LABELLED_MENTION = re.compile(r"<@[UW][A-Z0-9]*\|[^>]*>")
_CANARY_MENTION = re.compile(r"<@[UW]EVIL[^>]*>")
# In order of precedence: a piece of markup is reported once, by the first rule it breaks.
_RULES = ((_BROADCAST, "broadcast"), (_CANARY_MENTION, "mention of a hostile-input canary id"),
          (_LABELLED_MENTION, "labelled (spoofable) mention"))
_EXCERPT = 40
# File bodies are stored, not parsed for mentions; the file_upload "method" is such a body.
_NOT_PARSED_PARAMS = frozenset({"token", "content", "file"})
_NOT_PARSED_METHODS = frozenset({"file_upload"})
_OUTSIDE_TESTS = "<outside any test>"


@dataclass(frozen=True)
class Violation:
    method: str
    test: str  # the pytest node id that was running when the call arrived
    problem: str

    def describe(self) -> str:
        return f"{self.test}: {self.method}: {self.problem}"


_lock = threading.Lock()
_violations: list[Violation] = []
_current_test = _OUTSIDE_TESTS


# --------------------------------------------------------------------------- detection


def unsafe_markup(payload: object) -> list[str]:
    """Every unsafe piece of markup in a payload, as "path: what, in 'excerpt'"."""
    return [f"{path or '<payload>'}: {problem}" for path, text in _strings(payload)
            for problem in _text_problems(text)]


def _strings(payload: object) -> Iterator[tuple[str, str]]:
    """(path, string) for every string inside, decoding strings that hold JSON (Slack form parameters)."""
    stack: list[tuple[str, object]] = [("", payload)]  # iterative: hostile JSON may nest deeply
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            decoded = _json_container(value)
            if decoded is None:
                yield path, value
            else:
                stack.append((path, decoded))
        elif isinstance(value, Mapping):
            stack.extend((f"{path}.{key}" if path else str(key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list | tuple):
            stack.extend((f"{path}[{index}]", item) for index, item in reversed(list(enumerate(value))))


def _json_container(text: str) -> object | None:
    if not text.lstrip().startswith(("[", "{")):
        return None
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return decoded if isinstance(decoded, dict | list) else None


def _text_problems(text: str) -> list[str]:
    found: dict[int, tuple[re.Match[str], str]] = {}
    for pattern, what in _RULES:
        for match in pattern.finditer(text):
            found.setdefault(match.start(), (match, what))
    for match in _HERE.finditer(text):
        if match.start() != 0 or match.group(0) != "<!here>":
            found[match.start()] = (match, "broadcast (only the bot's own post may start with <!here>)")
    return [f"{what} {match.group(0)!r} in {_excerpt(text, match)!r}" for _, (match, what) in sorted(found.items())]


def _excerpt(text: str, match: re.Match[str]) -> str:
    start, end = max(match.start() - _EXCERPT, 0), min(match.end() + _EXCERPT, len(text))
    return f"{'…' if start else ''}{text[start:end]}{'…' if end < len(text) else ''}"


# --------------------------------------------------------------------------- the session-wide record


def check_call(method: str, params: Mapping[str, Any]) -> list[Violation]:
    """Check one Slack call as it is recorded; violations are kept until the test or the session reports them."""
    if method in _NOT_PARSED_METHODS:
        return []
    parsed = {name: value for name, value in params.items() if name not in _NOT_PARSED_PARAMS}
    with _lock:
        found = [Violation(method, _current_test, problem) for problem in unsafe_markup(parsed)]
        _violations.extend(found)
    return found


def set_current_test(nodeid: str | None) -> None:
    global _current_test
    with _lock:
        _current_test = nodeid or _OUTSIDE_TESTS


def violations(test: str | None = None) -> list[Violation]:
    """Everything recorded so far (or only during the given test), oldest first."""
    with _lock:
        return [v for v in _violations if test is None or v.test == test]


@contextmanager
def expect_unsafe() -> Iterator[list[Violation]]:
    """For tests of this hook: violations recorded inside are handed to the test instead of failing it."""
    with _lock:
        before = len(_violations)
    caught: list[Violation] = []
    try:
        yield caught
    finally:
        with _lock:
            caught.extend(_violations[before:])
            del _violations[before:]


@contextmanager
def fresh_record() -> Iterator[list[Violation]]:
    """For tests of the session report: an empty record inside, the session's record restored after."""
    global _violations
    with _lock:
        saved, _violations = _violations, []
    try:
        yield _violations
    finally:
        with _lock:
            _violations = saved


def report(found: list[Violation]) -> str:
    lines = [f"UNSAFE SLACK PAYLOAD: {len(found)} broadcast(s) or mention(s) the bot did not write"
             " (escape user text before it reaches Slack; see tests/support/payload_safety.py):"]
    return "\n".join([*lines, *(f"  {violation.describe()}" for violation in found)])

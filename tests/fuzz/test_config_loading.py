"""Config loading under hostile values (issue #13): 10,000 generated configs through the real loader, plus hostile
YAML text and files.

Targets: `bot.settings.config_from` (what `load_config` does once the YAML is read: `Config.model_validate` over
every section, the models of bot/config_types.py and bot/emoji/dialect.py EmojiConfig, `emoji_config_problems`,
the combos' actions, and the error text of `_describe`), then `bot.settings.load_config` on files: YAML dumped
from generated configs, corpus items and broken YAML as the whole file, bytes that are not UTF-8.

Each generated config is config/example.yaml (every key the bot takes) with one to three changes anywhere in it: a
value replaced by a hostile one of any type, a key removed, an unknown key added.

Invariants: the loader returns a Config or raises ConfigError, nothing else; the error's first line names the file,
every other line a key as `  key.path = value: what was expected`, the key changed among them (or the key that
refers to it), no traceback; no line is longer than a person can read.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from bot.settings import Config, ConfigError, config_from, load_config
from tests.fuzz.corpus import NASTIES
from tests.fuzz.harness import fuzz, tally
from tests.fuzz.invariants import Typed, crash_traces
from tests.fuzz.strategies import hostile_text, nasty, token

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
BASE = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
LONGEST_LINE = 500
Path_ = tuple[str | int, ...]


def _paths(node: Any, at: Path_ = ()) -> list[Path_]:
    found = [at] if at else []
    if isinstance(node, dict):
        found += [p for key, value in node.items() for p in _paths(value, (*at, key))]
    elif isinstance(node, list):
        found += [p for index, value in enumerate(node) for p in _paths(value, (*at, index))]
    return found


PATHS = _paths(BASE)
value = st.one_of(token, nasty, st.integers(), st.floats(), st.booleans(), st.none(), st.lists(token, max_size=3),
                  st.dictionaries(token, token | st.integers(), max_size=2),
                  st.sampled_from(["", "0s", "-1m", "99999999999w", "25:00", "mon-sun 09:00-09:00", "Mars/Olympus",
                                   "* * * * * *", "0 9 * * 8", "inc-{nope}", "inc-{number:x-}", "sev9", "(unclosed",
                                   "zh-TW", "http://[::1", "open_incident", "🔥", "on:fire:"]))
change = st.tuples(st.sampled_from(PATHS), st.sampled_from(["replace", "delete", "add"]), value)


def changed(config: Any, at: Path_, how: str, new: Any) -> Any:
    """`config` with one change at `at` (none when an earlier change took the path away); containers on the way
    are copied, the rest shared."""
    head, rest = at[0], at[1:]
    present = head in config if isinstance(config, dict) else \
        isinstance(config, list) and isinstance(head, int) and head < len(config)
    if not present:
        return config
    copied = copy.copy(config)
    if rest:
        copied[head] = changed(config[head], rest, how, new)
    elif how == "delete":
        del copied[head]
    elif how == "add" and isinstance(copied, dict):
        copied[f"{head}_{str(new)[:20]}"] = new
    else:
        copied[head] = new
    return copied


def load_problems(load: Any, where: str, changes: list[tuple[Path_, str, Any]]) -> list[str]:
    """What is wrong with loading: an exception other than ConfigError, or an error that doesn't say where."""
    try:
        loaded = load()
    except ConfigError as exc:
        return message_problems(str(exc), where, changes)
    return [] if isinstance(loaded, Config) else [f"loaded a {type(loaded).__name__}"]


def message_problems(message: str, where: str, changes: list[tuple[Path_, str, Any]]) -> list[str]:
    first, *details = message.splitlines()
    found = [] if first.startswith(where) else [f"the first line names no file: {first[:200]!r}"]
    found += [f"a line of {len(line)} characters" for line in message.splitlines() if len(line) > LONGEST_LINE]
    found += crash_traces(message, Typed(*(repr(new) for _, _, new in changes), *(str(new) for _, _, new in changes)))
    if changes and details:
        names = {str(part) for at, _, _ in changes for part in at} | {"severities", "teams", "maintenance"}
        if not any(name in message for name in names):
            found.append(f"names none of the keys changed ({[at for at, _, _ in changes]}): {message[:300]!r}")
    return found


@fuzz()
@given(changes=st.lists(change, min_size=1, max_size=3))
@example(changes=[(("emoji", "combos", 0, "emoji", 0), "replace", ":fire::boom:")])
@example(changes=[(("incidents", "channel_pattern"), "replace", NASTIES["forty_kb"])])
def test_every_generated_config_loads_or_says_what_is_wrong(changes: list[tuple[Path_, str, Any]]) -> None:
    tally("config loading (generated configs)")
    config = BASE
    for at, how, new in changes:
        config = changed(config, at, how, new)
    assert load_problems(lambda: config_from(config, "bot.yaml"), "bot.yaml", changes) == []


@fuzz(share=0.02)
@given(text=hostile_text | st.sampled_from([
    "!!python/object/apply:os.system ['true']", "teams: &t [*t]", "[" * 5000, "key: [unclosed", "\t- tab",
    "--- \n...\n---\n", "teams: !!binary aGVsbG8=", "? [a, b]\n: c", "defaults: {timezone: 0x10}", "- a list",
    "null", "*undefined_alias", "teams:\n  - name: a\n  - name: a", "emoji: {combos: [{emoji: [], action: x}]}"]))
def test_hostile_yaml_text_loads_or_says_what_is_wrong(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    tally("config loading (hostile YAML files)")
    path = tmp_path_factory.getbasetemp() / "bot.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_problems(lambda: load_config(path), str(path), []) == []


@fuzz(share=0.02)
@given(changes=st.lists(change, min_size=1, max_size=2))
def test_generated_configs_as_yaml_files(tmp_path_factory: pytest.TempPathFactory,
                                         changes: list[tuple[Path_, str, Any]]) -> None:
    tally("config loading (generated YAML files)")
    config = BASE
    for at, how, new in changes:
        config = changed(config, at, how, new)
    path = tmp_path_factory.getbasetemp() / "bot.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    assert load_problems(lambda: load_config(path), str(path), changes) == []


def test_a_combo_of_two_shortcodes_run_together_is_refused_not_read_as_one(tmp_path: Path) -> None:
    config = changed(BASE, ("emoji", "combos", 0, "emoji"), "replace", [":fire::boom:"])
    with pytest.raises(ConfigError, match=r"emoji\.combos\[0\]\.emoji\[0\] = ':fire::boom:': expected an emoji"):
        config_from(config, "bot.yaml")


@pytest.mark.parametrize("raw", [b"teams:\n  - name: caf\xe9\n", b"\xff\xfe\x00t\x00e\x00a\x00m\x00s", b"\x00" * 10,
                                 "teams: [{name: \u202eevil}]".encode()])
def test_files_that_are_not_clean_utf8_text(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "bot.yaml"
    path.write_bytes(raw)
    assert load_problems(lambda: load_config(path), str(path), []) == []

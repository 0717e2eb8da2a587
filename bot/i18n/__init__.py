"""Every user-facing string, from per-domain YAML catalogs in English and Simplified Chinese.

Catalogs live in `bot/i18n/<language>/<domain>.yaml`; a key is `<domain>.<name>`.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

import yaml

from bot.escape import Markup, escape

LANGUAGES = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"
_ROOT = Path(__file__).parent


_LOADING = threading.Lock()


@cache
def catalog(language: str) -> dict[str, str]:
    with _LOADING:  # one parse per language even when the first burst of requests arrives at once
        return _load(language)


def _load(language: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for path in sorted((_ROOT / language).glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries.update({f"{path.stem}.{key}": str(text) for key, text in data.items()})
    return entries


def normalise_language(value: str | None) -> str | None:
    """Map Slack locales (zh-CN, zh_CN, zh-Hans, en-US…) to a catalog language, or None if unknown."""
    if not value:
        return None
    lowered = value.replace("_", "-").lower()
    if lowered.startswith("zh"):
        return "zh-CN"
    if lowered.startswith("en"):
        return "en"
    return None


def t(key: str, language: str | None = None, /, **params: object) -> str:
    """The catalog text for `key` in `language`. String parameters are escaped here, the one choke point
    where user text meets the bot's own markup, so a title can never become `<!channel>` or a mention;
    markup the bot builds on purpose is passed as `bot.escape.Markup`."""
    lang = normalise_language(language) or DEFAULT_LANGUAGE
    text = catalog(lang).get(key) or catalog(DEFAULT_LANGUAGE).get(key)
    if text is None:
        raise KeyError(f"missing i18n key {key!r}")
    if not params:
        return Markup(text)
    return Markup(text.format(**{name: escape(v) if isinstance(v, str) else v for name, v in params.items()}))

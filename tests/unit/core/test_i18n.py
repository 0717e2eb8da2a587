"""Every user-facing string exists in English and Simplified Chinese, with the same blanks to fill."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
import yaml

from bot.i18n import catalog, normalise_language, t

ROOT = Path(__file__).resolve().parents[3]
I18N = ROOT / "bot" / "i18n"
EN_FILES = sorted((I18N / "en").glob("*.yaml"))
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
T_CALL = re.compile(r"(?<![\w.])t\(\s*\"([a-z_]+\.[a-z_0-9]+)\"")
F_STRING_KEY = re.compile(r"(?<![\w.])t\(\s*f\"([a-z_]+\.[a-z_0-9]*)\{")


def load(path: Path) -> dict[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    assert isinstance(data, dict), f"{path} must be a mapping of key: text"
    return {str(key): str(value) for key, value in data.items()}


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def has_words(text: str) -> bool:
    """Whether a string says something beyond its placeholders and punctuation."""
    return re.search(r"[A-Za-z]{3,}", re.sub(r"\{[^}]*\}", "", text)) is not None


def test_there_are_catalogs_to_check() -> None:
    assert len(EN_FILES) >= 3
    assert len(catalog("en")) > 50


@pytest.mark.parametrize("en_file", EN_FILES, ids=lambda p: p.name)
def test_every_english_catalog_has_a_chinese_twin_with_the_same_keys(en_file: Path) -> None:
    zh_file = I18N / "zh-CN" / en_file.name
    assert zh_file.exists(), f"{zh_file} is missing"

    en, zh = load(en_file), load(zh_file)

    assert sorted(set(en) - set(zh)) == [], f"keys missing from {zh_file.name}"
    assert sorted(set(zh) - set(en)) == [], f"keys only in zh-CN/{zh_file.name}"


def test_there_is_no_chinese_catalog_without_an_english_one() -> None:
    zh_names = {p.name for p in (I18N / "zh-CN").glob("*.yaml")}

    assert zh_names == {p.name for p in EN_FILES}


@pytest.mark.parametrize("en_file", EN_FILES, ids=lambda p: p.name)
def test_both_languages_fill_in_the_same_placeholders(en_file: Path) -> None:
    en, zh = load(en_file), load(I18N / "zh-CN" / en_file.name)

    mismatched = {key: (sorted(placeholders(en[key])), sorted(placeholders(zh[key])))
                  for key in en.keys() & zh.keys() if placeholders(en[key]) != placeholders(zh[key])}

    assert mismatched == {}


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_every_catalog_string_is_a_valid_format_string(language: str) -> None:
    broken = []
    for key, text in catalog(language).items():
        try:
            text.format(**{name: "x" for name in placeholders(text)})
        except (ValueError, IndexError, KeyError) as error:
            broken.append((key, str(error)))

    assert broken == []


def test_the_chinese_catalog_is_actually_in_chinese() -> None:
    zh = catalog("zh-CN")
    wordy = {key: text for key, text in zh.items() if has_words(catalog("en")[key])}
    untranslated = sorted(key for key, text in wordy.items() if not CJK.search(text))

    assert len(untranslated) <= len(wordy) * 0.05, f"not translated: {untranslated}"


def test_the_chinese_catalog_is_not_a_copy_of_the_english_one() -> None:
    en, zh = catalog("en"), catalog("zh-CN")
    same = sorted(key for key in en if zh[key] == en[key] and has_words(en[key]))

    assert same == []


@pytest.mark.parametrize("locale", ["zh-CN", "zh_CN", "zh-cn", "zh-Hans", "zh-TW", "ZH"])
def test_chinese_slack_locales_get_simplified_chinese(locale: str) -> None:
    assert normalise_language(locale) == "zh-CN"


@pytest.mark.parametrize("locale", ["en", "en-US", "en-GB", "en_GB"])
def test_english_slack_locales_get_english(locale: str) -> None:
    assert normalise_language(locale) == "en"


@pytest.mark.parametrize("locale", ["fr-FR", "ja-JP", "", None])
def test_unknown_locales_are_not_guessed(locale: str | None) -> None:
    assert normalise_language(locale) is None


def some_key_with_placeholders() -> tuple[str, dict[str, str]]:
    for key, text in sorted(catalog("en").items()):
        if placeholders(text) and CJK.search(catalog("zh-CN")[key]):
            return key, {name: "X" for name in placeholders(text)}
    raise AssertionError("no key with placeholders")


def test_t_speaks_chinese_to_chinese_locales_and_english_to_unknown_ones() -> None:
    key, params = some_key_with_placeholders()

    assert t(key, "zh_CN", **params) == catalog("zh-CN")[key].format(**params)
    assert t(key, "fr-FR", **params) == catalog("en")[key].format(**params)
    assert t(key, None, **params) == catalog("en")[key].format(**params)
    assert t(key, "en-GB", **params) == catalog("en")[key].format(**params)


def test_t_fills_in_placeholders() -> None:
    key, params = some_key_with_placeholders()

    assert "{" + next(iter(params)) + "}" not in t(key, "en", **params)


def test_an_unknown_key_is_a_loud_error() -> None:
    with pytest.raises(KeyError, match=r"no_such\.key"):
        t("no_such.key", "en")


def source_files() -> list[Path]:
    return sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")])


def test_every_key_the_code_asks_for_exists_in_the_catalog() -> None:
    en = catalog("en")
    used = {(path.relative_to(ROOT).as_posix(), key)
            for path in source_files() for key in T_CALL.findall(path.read_text(encoding="utf-8"))}

    assert len(used) > 20  # the scan found the calls at all
    assert sorted((path, key) for path, key in used if key not in en) == []


def test_every_key_family_built_from_an_f_string_has_entries() -> None:
    en = catalog("en")
    prefixes = {(path.relative_to(ROOT).as_posix(), prefix) for path in source_files()
                for prefix in F_STRING_KEY.findall(path.read_text(encoding="utf-8"))}

    assert sorted((path, prefix) for path, prefix in prefixes
                  if not any(key.startswith(prefix) for key in en)) == []

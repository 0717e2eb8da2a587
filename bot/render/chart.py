"""Chart helpers every PNG the bot draws shares: fonts that have the reader's glyphs, bars, labels, PNG bytes."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font

from bot.i18n import catalog, normalise_language

_PREFERRED_CJK_FONTS = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", "Heiti SC", "SimHei",
    "Droid Sans Fallback", "AR PL UMing CN", "AR PL UKai CN", "Arial Unicode MS",
)
_GLYPH_WARNING = r"(?s).*Glyph .* missing from"


def grouped_bars(axes: Axes, names: list[str], series: Mapping[str, list[float]],
                  colour: Callable[[int, str], str], font: FontProperties | None) -> None:
    width = 0.8 / max(len(series), 1)
    for index, (label, values) in enumerate(series.items()):
        offsets = [x - 0.4 + width * (index + 0.5) for x in range(len(names))]
        axes.bar(offsets, values, width, label=label, color=colour(index, label))
    axes.set_xticks(range(len(names)), names, fontproperties=font)
    axes.margins(y=0.3)  # headroom for the legend
    axes.legend(prop=small(font), loc="upper left", ncols=2)


def small(font: FontProperties | None) -> FontProperties:
    small = font.copy() if font is not None else FontProperties()
    small.set_size("small")
    return small


def label_axes(axes: Axes, title: str, ylabel: str, font: FontProperties | None) -> None:
    axes.set_title(title, fontproperties=font)
    axes.set_ylabel(ylabel, fontproperties=font)
    axes.grid(axis="y", alpha=0.3)


@dataclass(frozen=True)
class ChartText:
    labels: Mapping[str, str]
    font: FontProperties | None


def chart_text(domain: str, keys: Sequence[str], language: str,
               find_font: Callable[[str], str | None] | None = None) -> ChartText:
    """The `<domain>.<key>` labels in `language`, with a font that has their glyphs; English labels if no such
    font exists (`find_font`: how to look for one, `font_covering` unless told)."""
    lang = normalise_language(language) or "en"
    labels = {key: catalog(lang).get(f"{domain}.{key}", "") for key in keys}
    wide = "".join(sorted({ch for text in labels.values() for ch in text if ord(ch) > 0x2FFF}))
    if not wide:
        return ChartText(labels, None)
    path = (find_font or font_covering)(wide)
    if path is None:
        return chart_text(domain, keys, "en", find_font)
    return ChartText(labels, FontProperties(fname=path))


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_GLYPH_WARNING)
        figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


@cache
def font_covering(chars: str) -> str | None:
    """Path of an installed font with every glyph in `chars`, well-known CJK families first."""
    def rank(entry: font_manager.FontEntry) -> int:
        name = entry.name
        return _PREFERRED_CJK_FONTS.index(name) if name in _PREFERRED_CJK_FONTS else len(_PREFERRED_CJK_FONTS)

    for entry in sorted(font_manager.fontManager.ttflist, key=rank):
        if has_glyphs(entry.fname, chars):
            return entry.fname
    return None


def has_glyphs(path: str, chars: str) -> bool:
    """True when each of the (distinct) `chars` has its own glyph: placeholder fonts such as matplotlib's
    bundled "Last Resort" map every code point to a box, so they share a handful of glyph ids."""
    try:
        font = FT2Font(path)
    except (OSError, RuntimeError, ValueError):
        return False
    if font.family_name.startswith("Last Resort"):
        return False
    charmap = font.get_charmap()
    glyphs = [charmap.get(ord(ch), 0) for ch in chars]
    return 0 not in glyphs and len(set(glyphs)) == len(set(chars))

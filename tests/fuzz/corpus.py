"""Real-world nasties as data: what people and machines actually paste into Slack and Alertmanager.

`NASTIES` maps a short name to the text; every fuzz target feeds each one through its input (a command's words,
a 🔥💥 message, an alert's labels, a modal field, a button value) and strategies.py draws from them too.

- mojibake: lines of a real conversation (UTF-8 Chinese read as Windows-1252 and saved again, so some bytes are
  lost for good: see /work/shared/seeds/002_*.txt), as it was pasted and as Slack delivers it (`<`, `>` and `&`
  escaped);
- size: a 40 KB message, a 5,000-character word, thousands of lines and of mentions;
- control and invisible characters: C0 and C1 controls, NUL, ANSI colours, U+202E (right-to-left override) and
  the other bidi controls, zero-width spaces and joiners, a BOM, U+FFFD;
- every Slack markup form: `<!channel>`, `<!here>`, `<!everyone>`, `<@U…>` (with the canary ids
  tests/support/payload_safety.py knows, UEVIL… / WEVIL…), `<#C…>`, `<!subteam^…>`, `<!date^…>`, links with `|`
  labels, and the same escaped, doubled and broken;
- Markdown that breaks Block Kit: unclosed ```, lone * _ ~ `, `>` and `>>>` quotes;
- emoji with skin tones and ZWJ sequences, flags, keycaps, the dialect's combos typed every way;
- look-alike numbers and words: superscripts, Arabic-Indic and full-width digits, huge and negative numbers.
"""

from __future__ import annotations

# Lines of /work/shared/seeds/002_*.txt exactly as they are there (mojibake, NBSPs and tabs included).
MOJIBAKE = (
    "å¥½çš„ï¼Œæˆ‘ä»¬ç«‹åˆ»è¿›å…¥ä»Šå¤©çš„å››æ¨¡å—æ¨¡æ‹Ÿè®ç»ƒï¼Œæ¯ä¸ªæ¨¡å—ä¸é‡å¤å‰æ—¥å†…å®¹ï¼Œä¿æŒé«˜å¼ºåº¦ä¸å®æˆ˜æ€§ï¼š",
    "âœ… æ¨¡å—ä¸€ï¼šSystem Debug å¿«é€Ÿååº”è®ç»ƒï¼ˆEKS é™é€Ÿé—®é¢˜ï¼‰",
    "ä½\xa0è´Ÿè´£æ”¯æŒä¸€ç»„è¿è¡Œåœ¨ EKS ä¸Šçš„å®¹å™¨ä»»åŠ¡ã€‚æŸå¤©æ—©ä¸Šå‘ç°å¤šä¸ªæ‰¹å¤„ç†ä»»åŠ¡"
    "è€—æ—¶å¼‚å¸¸å¢é•¿ï¼Œä½¿ç”¨ kubectl describe pod æŸ¥çœ‹åï¼Œå‘ç°å®¹å™¨å†…çš„æ–‡ä»¶å†™å…¥é€Ÿç‡éå¸¸æ…¢ã€‚",
    "\tâ€¢\tæ¯å±‚åŒ…å«ä½\xa0ä¼šæ£€æŸ¥çš„å‘½ä»¤ã€æ–‡ä»¶æˆ–æ—¥å¿—",
    "âœ… æ¨¡å—äºŒï¼šCode Review Checklist å®¡æŸ¥ç»ƒä¹\xa0ï¼ˆContainerd Shim ä¸ Retry æœºåˆ¶ï¼‰",
    "for i := 0; i < 3; i++ {",
    "åœºæ™¯ï¼šä½\xa0æ¨åŠ¨çš„ä¸€ä¸ª observability patch è¢«ææ¯…ä»¥â€œtiming not rightâ€ä¸ºç†ç”±æ¨è¿Ÿåˆå¹¶ã€‚",
    "ğŸ”¹æ”¹è¿›åçš„ç‰ˆæœ¬å»ºè®®ï¼š",
    "System-level tools like iostat and dstat didnâ€™t show any signs of disk saturation, which suggests this may "
    "be due to a configuration-level IO restriction â€” possibly a recent operational change.",
    "    Reason:         OOMKilled  ğŸ‘ˆ unrelated",
    "ğŸ§\xa0 åˆ†ææç¤ºï¼š",
    "crictl inspect <container_id> | jq '.info.pid'",
    "ä½\xa0çœ‹åˆ° my_worker.py çš„ IO > 99% è¢«é˜»å¡ï¼ˆè¡¨ç¤º I/O waitï¼‰",
    "cat /sys/fs/cgroup/kubepods.slice/kubepods-pod<uid>/container.slice/io.max",
    "\tâ€¢\tâš\xa0ï¸ Risk: Requires GPU context isolation and fine-tuned scheduling.",
    "å±‚çº§\tå‘½ä»¤\tç›®çš„",
    "Kubernetes\tkubectl describe pod\tæŸ¥çœ‹ resource é™åˆ¶ã€äº‹ä»¶æ—¥å¿—",
    "èƒŒæ™¯ï¼šä½\xa0å‘ç°ä¸€ä¸ªå›¢é˜Ÿæ¯æœˆèŠ±è´¹ $12,000 åœ¨ EBS snapshot ä¸Šã€‚",
)


def slack_escaped(text: str) -> str:
    """Message text as Slack delivers what a person typed: `&`, `<` and `>` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


FORTY_KB = ("checkout is down again, 500s on /api/pay " * 1000)[:40_000]
LONG_WORD = "x" * 5000

SLACK_MARKUP = {
    "channel": "<!channel>",
    "here": "<!here>",
    "everyone": "<!everyone>",
    "group": "<!group>",
    "here_labelled": "<!here|here>",
    "channel_labelled": "<!channel|@channel>",
    "user": "<@UEVIL1>",
    "user_labelled": "<@UEVIL2|boss>",
    "workspace_user": "<@WEVIL3>",
    "channel_link": "<#C0EVIL|general>",
    "channel_bare": "<#C0EVIL>",
    "subteam": "<!subteam^SEVIL1|@oncall>",
    "subteam_bare": "<!subteam^SEVIL1>",
    "date": "<!date^1392734382^{date_num} {time_secs}|Feb 18th, 2014 at 6:39 AM>",
    "link_labelled": "<https://evil.example/login|https://github.com/acme/api/pull/1>",
    "mailto": "<mailto:boss@evil.example|boss>",
    "escaped": "&lt;!channel&gt; &lt;@UEVIL1&gt;",
    "double_escaped": "&amp;lt;!here&amp;gt;",
    "nested": "<@UEVIL1|<!channel>>",
    "unclosed": "<!channel <@UEVIL1",
    "doubled": "<<!everyone>>",
    "all_at_once": "<!channel> <!here> <!everyone> <@UEVIL1> <#C0EVIL> <!subteam^SEVIL1> ping",
}

MARKDOWN = {
    "unclosed_code": "```\nkubectl delete ns prod",
    "code_fence_only": "```",
    "lone_star": "*",
    "lone_underscore": "_",
    "lone_tilde": "~",
    "lone_backtick": "`",
    "mixed_marks": "*bold _italic ~strike `code",
    "quote": "> quoted",
    "quote_all": ">>> everything after is quoted\nand more",
    "markdown_link": "[click](https://evil.example)",
    "headings": "# h1\n## h2\n" + "#" * 100,
    "table": "| a | b |\n|---|---|\n| 1 | 2 |",
    "many_lines": "\n".join(f"line {n}" for n in range(3000)),
    "blank_lines": "\n" * 500,
    "word_and_star": LONG_WORD + "*",
}

INVISIBLE = {
    "nul": "sev1\x00",
    "c0": "".join(chr(c) for c in range(1, 32)),
    "c1": "".join(chr(c) for c in range(0x80, 0xA0)),
    "ansi": "\x1b[31mred\x1b[0m \x07\x08",
    "crlf": "a\r\nb\rc",
    "rtl_override": "\u202eslack.com/evil\u202c",
    "rtl_title": "db \u202edown\u202c fine",
    "bidi_isolates": "\u2066\u2067\u2068x\u2069\u200f\u200e",
    "zero_width_space": "ml\u200b-platform",
    "zero_width_joiner": "sev\u200d1",
    "zero_width_non_joiner": "a\u200cb",
    "word_joiner": "\u2060",
    "bom": "\ufeffack",
    "replacement": "\ufffd\ufffd",
    "nbsp": "ack\xa01",
    "ideographic_space": "ack\u30001",
    "only_spaces": " \t\u3000\xa0 ",
    "empty": "",
}

EMOJI = {
    "coder_skin": "👩🏽‍💻",
    "rainbow_flag": "🏳️‍🌈",
    "family": "👨‍👩‍👧‍👦",
    "fire_skin": "🔥🏽",
    "combo": "🔥💥",
    "combo_selector": "🔥\ufe0f💥",
    "combo_plus": "💥 + 🔥",
    "combo_fullwidth_plus": "🔥＋💥",
    "combo_zwj": "🔥\u200d💥",
    "combo_shortcodes": ":fire::boom:",
    "combo_skin_shortcodes": ":fire::skin-tone-3::boom:",
    "thumbs_skin": ":+1::skin-tone-6:",
    "flag": "🇺🇸🇨🇳",
    "keycap": "1️⃣#️⃣",
    "fire_thousand": "🔥" * 1000,
    "unknown_shortcode": ":partyparrot:",
}

NUMBERS = {
    "superscript": "²",
    "superscript_days": "³⁰d",
    "arabic_indic": "١٢",
    "fullwidth": "１２",
    "huge": "9" * 40,
    "negative": "-1",
    "zero": "0",
    "float": "1e309",
    "nan": "NaN",
    "hash_huge": "#" + "9" * 5000,
    "sev_fullwidth": "ＳＥＶ１",
    "dash_fullwidth": "ml－platform",
}

ECHOES = {  # what a reply may quote back: the traceback check must not blame the bot for these
    "traceback": "Traceback (most recent call last):",
    "file_line": 'File "/etc/passwd", line 1, in <module>',
    "exception": "ValueError: invalid literal",
    "format": "{0} {title} %s %(x)s {{ }",
    "sql": "'; DROP TABLE incidents; --",
    "path": "../../../../etc/passwd",
}

NASTIES: dict[str, str] = {
    **{f"mojibake_{n}": line for n, line in enumerate(MOJIBAKE)},
    **{f"mojibake_{n}_as_slack_sends": slack_escaped(line) for n, line in enumerate(MOJIBAKE) if "<" in line},
    "mojibake_message": "\n".join(MOJIBAKE),
    "forty_kb": FORTY_KB,
    "long_word": LONG_WORD,
    "mentions_500": "<@UEVIL1> " * 500,
    **{f"markup_{k}": v for k, v in SLACK_MARKUP.items()},
    **{f"markdown_{k}": v for k, v in MARKDOWN.items()},
    **{f"invisible_{k}": v for k, v in INVISIBLE.items()},
    **{f"emoji_{k}": v for k, v in EMOJI.items()},
    **{f"number_{k}": v for k, v in NUMBERS.items()},
    **{f"echo_{k}": v for k, v in ECHOES.items()},
}

# Short items only: where a value has a small limit of its own (a label name, an action id) or a test pairs it.
SHORT = {name: text for name, text in NASTIES.items() if len(text) <= 200}

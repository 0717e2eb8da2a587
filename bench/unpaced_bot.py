"""`python -m bot` with the per-channel post pacing (bot.clients.chat.ChannelPacer) switched off.

bench/page.py runs this to measure the bot's own work between a reaction and the page, which
the pacer's deliberate waits (about 1 post per second per channel) would otherwise hide once
more than one incident is opened in a channel within a couple of seconds. Nothing else changes.

    .venv/bin/python bench/unpaced_bot.py serve --host 127.0.0.1
"""

from __future__ import annotations

import sys

from bot.clients import chat


def _no_wait(self: chat.ChannelPacer, channel: str) -> None:
    return None


chat.ChannelPacer.wait = _no_wait  # type: ignore[method-assign]

if __name__ == "__main__":
    from bot.__main__ import main

    sys.exit(main())

"""Two messages read at once as the bot's first emoji use: each still fires its combo.

The `emoji` library builds its search tree on first use, in place and without a lock; a thread that reads emoji
while another builds it sees part of the tree and misses 🔥 or 💥, so a 🔥💥 message opens no incident and nobody
is told. Found by tests/faults/test_page_storm_429.py on a fresh xdist worker: sixteen 🔥💥 at once, 7 to 15 of
them lost. Run in a fresh interpreter: the test process has long built the tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# The tree is built from EMOJI_DATA: the build pauses before 🔥 and 💥 until the second message has been read (or
# 2 s have passed, for a fix that makes the reader wait for the build), so the interleaving is the same every run.
TWO_READERS = """
import json, threading
import emoji.unicode_codes as codes
from bot.emoji.dialect import Dialect
from bot.settings import EmojiConfig

halfway, read = threading.Event(), threading.Event()
LATE = ("\\U0001F525", "\\U0001F4A5")  # 🔥 💥


class PausedBuild(dict):
    def __iter__(self):
        yield from (e for e in dict.keys(self) if e not in LATE)
        halfway.set()
        read.wait(timeout=2)
        yield from (e for e in dict.keys(self) if e in LATE)


codes.EMOJI_DATA = PausedBuild(codes.EMOJI_DATA)
dialect = Dialect(EmojiConfig())
fired = {}


def first():
    fired["first"] = bool(dialect.typed_combos("db down \\U0001F525\\U0001F4A5"))


def second():
    halfway.wait(timeout=2)
    fired["second"] = bool(dialect.typed_combos("payments 502s \\U0001F525\\U0001F4A5"))
    read.set()


threads = [threading.Thread(target=first), threading.Thread(target=second)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(fired, sort_keys=True))
"""


def test_two_messages_read_at_once_as_the_first_emoji_use_both_fire_their_combo() -> None:
    run = subprocess.run([sys.executable, "-c", TWO_READERS], env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=60, check=True)

    assert json.loads(run.stdout) == {"first": True, "second": True}

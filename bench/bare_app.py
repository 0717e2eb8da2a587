"""The baseline for bench/ack.py: a bare Bolt app with one /gpu command, served like the bot.

Same stack as `python -m bot serve`: Flask + Bolt's SlackRequestHandler inside waitress with the
same waitress options, and a Bolt listener pool as wide as the bot's (Bolt's own default is 5
workers, which would queue acks behind the 2 s lazy listeners and measure that instead).
Nothing else: no middleware, no database, no settings.

    SLACK_SIGNING_SECRET=... SLACK_BOT_TOKEN=... SLACK_API_URL=http://127.0.0.1:PORT/api/ \\
        .venv/bin/python bench/bare_app.py --port 3100 --threads 32 --listener-threads 64
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def build(listener_threads: int | None):  # type: ignore[no-untyped-def]
    from flask import Flask, request
    from slack_bolt import App
    from slack_bolt.adapter.flask import SlackRequestHandler
    from slack_sdk import WebClient

    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    executor = ThreadPoolExecutor(max_workers=listener_threads) if listener_threads else None
    app = App(signing_secret=os.environ["SLACK_SIGNING_SECRET"], client=client,
              token_verification_enabled=False, listener_executor=executor)
    app.command("/gpu")(ack=lambda ack: ack(), lazy=[lambda: time.sleep(2)])

    web = Flask("bare")
    handler = SlackRequestHandler(app)

    @web.post("/slack/events")
    def events():  # type: ignore[no-untyped-def]
        return handler.handle(request)

    @web.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return "ok"

    return web


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=32, help="waitress threads (the bot's default: 32)")
    parser.add_argument("--listener-threads", type=int, default=0,
                        help="Bolt listener pool; 0 = Bolt's default (5)")
    args = parser.parse_args()

    import waitress

    web = build(args.listener_threads or None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    waitress.serve(web, host=args.host, port=args.port, threads=args.threads, ident="bare",
                   channel_timeout=30, connection_limit=1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())

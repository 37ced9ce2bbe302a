"""``laporbot`` command line: run, chat, nlu, staff, stats, campaign."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys

from bot.config import load_settings


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("pymongo", "httpx", "telegram", "aiohttp.access", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _log_to_file(path) -> None:
    """With the console in the terminal, the log goes to a file; only warnings stay on screen."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in root.handlers:
        h.setLevel(logging.WARNING)
    root.addHandler(handler)
    print(f"log: {path}", file=sys.stderr)


async def _serve(args) -> int:
    from bot.app import Runtime

    settings = load_settings()
    console = sys.stdin.isatty() and not args.no_console
    if console:
        _log_to_file(settings.lapor_data_dir / "laporbot.log")
    rt = Runtime(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await rt.start(http=True, nlu=not args.no_nlu, console=console)
    except Exception as exc:
        print(f"laporbot: could not start: {_start_error(exc)}", file=sys.stderr)
        await rt.stop()
        return 1
    print(f"LAPOR! Bot is running: http://{settings.lapor_http_host}:{rt.http_port}/healthz "
          f"and /webchat. Ctrl-C stops.", file=sys.stderr)
    try:
        if console:
            chat = next(c for c in rt.channels if c.name == "console")
            chat_task = asyncio.create_task(chat.chat())
            stop_task = asyncio.create_task(stop.wait())
            await asyncio.wait({chat_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
            for t in (chat_task, stop_task):
                t.cancel()
        else:
            await stop.wait()
    finally:
        await rt.stop()
    return 0


async def _chat(args) -> int:
    from bot.app import Runtime

    settings = load_settings()
    rt = Runtime(settings)
    try:
        await rt.start(http=False, nlu=not args.no_nlu, console_user=args.user, sweep_interval_s=0)
    except Exception as exc:
        print(f"laporbot: could not start: {_start_error(exc)}", file=sys.stderr)
        await rt.stop()
        return 1
    chat = next(c for c in rt.channels if c.name == "console")
    try:
        await chat.chat()
        with contextlib.suppress(asyncio.TimeoutError):
            await rt.outbox.drain(timeout_s=5)
    finally:
        await rt.stop()
    return 0


def _start_error(exc: Exception) -> str:
    """One readable line; never the URI (it may hold credentials) nor a topology dump."""
    from pymongo.errors import PyMongoError

    if isinstance(exc, PyMongoError):
        return "the database is not reachable (retried with back-off); check MONGODB_URI or that it is running"
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="laporbot", description="LAPOR! Bot")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the bot: HTTP (health, webhooks, web chat, staff API) + console")
    run.add_argument("--no-console", action="store_true", help="do not attach the console chat")
    run.add_argument("--no-nlu", action="store_true", help="do not start or use Rasa (buttons and menus only)")
    run.set_defaults(func=lambda a: asyncio.run(_serve(a)))
    chat = sub.add_parser("chat", help="chat with the bot in this terminal (or pipe lines in)")
    chat.add_argument("--user", default=os.environ.get("LAPOR_CONSOLE_USER", "warga"))
    chat.add_argument("--no-nlu", action="store_true")
    chat.set_defaults(func=lambda a: asyncio.run(_chat(a)))
    from bot.nlu import cli as nlu_cli
    from bot.staff import cli as staff_cli
    from outreach import cli as outreach_cli

    for mod in (nlu_cli, staff_cli, outreach_cli):
        mod.add_subcommands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    raise SystemExit(main())

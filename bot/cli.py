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
    from bot.progress import Progress

    try:
        await rt.start(http=True, nlu=not args.no_nlu, console=console, progress=Progress(total=5))
    except Exception as exc:
        print(f"laporbot: could not start: {_start_error(exc)}", file=sys.stderr)
        await rt.stop()
        return 1
    base = f"http://{settings.lapor_http_host}:{rt.http_port}"
    print("\nLAPOR! Bot is running. Open:", file=sys.stderr)
    for what, path in _URLS:
        print(f"  {what:<12} {base}{path}", file=sys.stderr)
    print("Type below to chat (numbers answer the menus). Ctrl-C stops." if console else "Ctrl-C stops.",
          file=sys.stderr, flush=True)
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


_URLS = (("web chat", "/webchat"), ("back office", "/staff"), ("public", "/publik"), ("health", "/healthz"),
         ("staff API", "/api/v1/openapi.json"))


async def _db(args) -> int:
    """Run the embedded database on its own, so several bot processes and every CLI command can share it."""
    from bot.embedded_db import EmbeddedMongo, running_uri

    settings = load_settings()
    if settings.mongodb_uri:
        print("laporbot db: MONGODB_URI is set; the embedded database is only for when it is not", file=sys.stderr)
        return 2
    if uri := running_uri(settings.db_dir):
        print(f"laporbot db: already running for {settings.db_dir}\nMONGODB_URI={uri}")
        return 0
    settings.lapor_data_dir.mkdir(parents=True, exist_ok=True)
    server = EmbeddedMongo(settings.db_dir, port=args.port, log_path=settings.lapor_data_dir / "db.log")
    try:
        uri = server.start()
    except RuntimeError as exc:
        print(f"laporbot db: could not start: {_start_error(exc)}", file=sys.stderr)
        return 1
    print(f"MONGODB_URI={uri}", flush=True)
    print(f"data: {settings.db_dir}  log: {server.log_path}\n"
          "Bot processes and CLI commands with the same LAPOR_DATA_DIR find it by themselves; elsewhere set "
          "MONGODB_URI as above. Ctrl-C stops.", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    supervisor = asyncio.create_task(server.supervise())
    try:
        await stop.wait()
    finally:
        supervisor.cancel()
        await server.astop()
    return 0


def _start_error(exc: Exception) -> str:
    """One readable line; never the URI (it may hold credentials) nor a topology dump."""
    from pymongo.errors import PyMongoError

    if isinstance(exc, PyMongoError):
        return "the database is not reachable (retried with back-off); check MONGODB_URI or that it is running"
    if not str(exc):
        return type(exc).__name__
    lines = str(exc).splitlines()
    return "\n".join([lines[0][:300]] + [f"  | {ln[:200]}" for ln in lines[1:13]])


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
    db = sub.add_parser("db", help="run the embedded database on its own (prints its MONGODB_URI)")
    db.add_argument("--port", type=int, default=None, help="port to listen on (default: a free one)")
    db.set_defaults(func=lambda a: asyncio.run(_db(a)))
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

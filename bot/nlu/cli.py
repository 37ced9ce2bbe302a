"""`laporbot nlu train | parse "text" | eval FILE.jsonl [--json]`.

With RASA_URL set, parse/eval use that server; otherwise they train if needed and start a temporary
Rasa server on a free loopback port. Also runnable as ``python -m bot.nlu.cli nlu ...``.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys


def add_subcommands(subparsers) -> None:
    nlu = subparsers.add_parser("nlu", help="understanding: train, parse, evaluate")
    sub = nlu.add_subparsers(dest="nlu_command", required=True)
    p = sub.add_parser("train", help="train the Rasa model if nlu_data/ changed")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("parse", help="print the bot's interpretation of a text as JSON")
    p.add_argument("text")
    p.set_defaults(func=cmd_parse)
    p = sub.add_parser("eval", help="evaluate on JSONL files (default: both held-out sets)")
    p.add_argument("file", nargs="*", help=f"default: {' and '.join(DEFAULT_SETS)}")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.set_defaults(func=cmd_eval)


# The held-out sets, both reported by default: clean (written outside the project) and messy (issue 14).
DEFAULT_SETS = ("tests/nlu/heldout.jsonl", "tests/nlu/heldout_messy.jsonl")


def cmd_train(args) -> int:
    from bot.config import load_settings
    from bot.nlu.rasa_server import ensure_model

    settings = load_settings()
    print(ensure_model(settings.lapor_data_dir, venv=settings.rasa_venv))
    return 0


@contextlib.contextmanager
def _rasa_url():
    from bot.config import load_settings
    from bot.nlu.rasa_server import RasaServer

    settings = load_settings()
    if settings.rasa_url:
        yield settings, settings.rasa_url
        return
    server = RasaServer(settings)
    with contextlib.redirect_stdout(sys.stderr):
        url = server.start_blocking(port=0)
    try:
        yield settings, url
    finally:
        server.stop_blocking()


def cmd_parse(args) -> int:
    from bot.nlu.client import NluClient

    async def run(settings, url):
        client = NluClient(url, settings.rasa_timeout_s)
        try:
            return await client.parse(args.text)
        finally:
            await client.close()

    with _rasa_url() as (settings, url):
        it = asyncio.run(run(settings, url))
    print(json.dumps(it.to_json(), ensure_ascii=False, indent=2))
    return 0


def cmd_eval(args) -> int:
    from pathlib import Path

    from bot.nlu.client import NluClient
    from bot.nlu.evaluate import evaluate, format_report, load_jsonl

    repo = Path(__file__).resolve().parents[2]
    files = args.file or [str(repo / f) for f in DEFAULT_SETS]
    sets = {f: load_jsonl(f) for f in files}

    async def run(settings, url):
        # Evaluation is offline work: allow slow answers rather than scoring degraded ones.
        client = NluClient(url, max(settings.rasa_timeout_s, 30.0))
        try:
            return {f: await evaluate(rows, client) for f, rows in sets.items()}
        finally:
            await client.close()

    with _rasa_url() as (settings, url):
        results = asyncio.run(run(settings, url))
    if args.json:  # one file: its result object (as before); several: {file: result}
        print(json.dumps(next(iter(results.values())) if len(results) == 1 else results, ensure_ascii=False))
    else:
        print("\n\n".join(f"== {Path(f).name}\n{format_report(r)}" for f, r in results.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="laporbot")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

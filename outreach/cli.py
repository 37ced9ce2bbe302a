"""``laporbot campaign ...``: list, sync, preview, test, run, stats, code, qr."""
from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path


async def _runtime(*, senders: bool):
    """The runtime's assembly without HTTP or NLU (``Runtime.open``); started with its channel senders only
    when something will be sent."""
    from bot.app import Runtime
    from bot.config import load_settings

    rt = Runtime(load_settings())
    if senders:
        await rt.start(http=False, nlu=False, console=False, sweep_interval_s=1.0)
    else:
        await rt.open(db_attempts=1)
    out = rt.outreach
    await out.ensure_indexes()
    await out.campaigns.sync_files(out.codes)
    return rt, out


async def _campaign(out, name: str):
    from outreach.campaigns import valid_name

    c = await out.campaigns.get(name) if valid_name(name) else None
    if c is None:
        print(f"laporbot: no campaign {name!r} ($LAPOR_DATA_DIR/campaigns/{name}.yml or POST /api/v1/campaigns)",
              file=sys.stderr)
    return c


async def _with(args, fn, *, senders: bool = False) -> int:
    rt = None
    try:
        rt, out = await _runtime(senders=senders)
        return await fn(rt, out)
    except Exception as exc:
        print(f"laporbot: {exc}", file=sys.stderr)
        return 1
    finally:
        if rt is not None:
            await rt.stop()


async def _list(args) -> int:
    async def fn(rt, out):
        for c in sorted(await out.campaigns.all(), key=lambda c: c.name):
            runs = await out.campaigns.runs(c.name)
            last = max(runs.items(), key=lambda kv: str(kv[1].get("started_at") or ""))[0] if runs else "-"
            print(f"{c.name:<28} start {c.schedule.start or 'manual'} {c.schedule.recurrence or ''} last run {last}")
        return 0
    return await _with(args, fn)


async def _preview(args) -> int:
    from outreach.preview import format_preview, preview

    async def fn(rt, out):
        c = await _campaign(out, args.name)
        if c is None:
            return 2
        p = await preview(rt, c)
        print(json.dumps(p, default=str, ensure_ascii=False, indent=1) if args.json else format_preview(p))
        return 1 if p["errors"] else 0
    return await _with(args, fn)


async def _test(args) -> int:
    from outreach.preview import send_test

    async def fn(rt, out):
        c = await _campaign(out, args.name)
        if c is None:
            return 2
        r = await send_test(rt, c, args.to)
        if not r["sender"]:
            print(f"laporbot: channel {r['channel']} is not configured here; message queued", file=sys.stderr)
        with contextlib.suppress(asyncio.TimeoutError):
            await rt.outbox.drain(timeout_s=20)
        doc = await rt.stores.messages.get(__import__("bson").ObjectId(r["message_id"]))
        print(f"test message to {args.to}: {doc.get('status')} {doc.get('failure_reason') or ''}".rstrip())
        print(r["text"])
        return 0 if doc.get("status") in ("sent", "delivered", "read") else 1
    return await _with(args, fn, senders=True)


async def _run(args) -> int:
    from outreach.dispatch import Dispatcher, ProgressLine
    from outreach.preview import preview

    async def fn(rt, out):
        c = await _campaign(out, args.name)
        if c is None:
            return 2
        p = await preview(rt, c)
        if p["errors"] and not args.force:
            print("laporbot: template errors (see `laporbot campaign preview`); nothing sent:", file=sys.stderr)
            for e in p["errors"]:
                print("  " + e, file=sys.stderr)
            return 1
        d = Dispatcher(rt, c, args.run_id or c.occurrence() or c.name)
        if not d.channels():
            print("laporbot: no channel of this campaign is configured (TELEGRAM_BOT_TOKEN, WHATSAPP_*, SMS_*)",
                  file=sys.stderr)
            return 1
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        task = asyncio.create_task(d.run(progress=None if args.quiet else ProgressLine()))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not task.done():
            task.cancel()
            print("\nstopped; `laporbot campaign run` again resumes without duplicates", file=sys.stderr)
            with contextlib.suppress(asyncio.TimeoutError):
                await rt.outbox.drain(timeout_s=10)
            return 130
        final = task.result()
        with contextlib.suppress(asyncio.TimeoutError):
            await rt.outbox.drain(timeout_s=30)
        if args.quiet:
            print(json.dumps({k: v for k, v in final.items() if k != "at"}))
        return 0
    return await _with(args, fn, senders=True)


async def _stats(args) -> int:
    from outreach.stats import campaign_stats, format_stats

    async def fn(rt, out):
        c = await _campaign(out, args.name)
        if c is None:
            return 2
        s = await campaign_stats(rt, c)
        print(json.dumps(s, default=str, ensure_ascii=False, indent=1) if args.json else format_stats(s))
        return 0
    return await _with(args, fn)


async def _code(args) -> int:
    async def fn(rt, out):
        if await _campaign(out, args.name) is None:
            return 2
        doc = await out.codes.upsert(args.code, args.name, args.venue, segment=args.segment,
                                     institution=args.institution, region=args.region)
        print(json.dumps(doc, ensure_ascii=False))
        return 0
    return await _with(args, fn)


async def _qr(args) -> int:
    import os

    from outreach.qr import signup_link, write_qr

    async def fn(rt, out):
        info = await out.codes.lookup(args.code)
        if info is None or info.get("campaign") != args.name:
            print(f"laporbot: code {args.code!r} does not belong to campaign {args.name!r}", file=sys.stderr)
            return 2
        link = signup_link(info["code"], telegram_bot=args.telegram_bot or os.environ.get("TELEGRAM_BOT_USERNAME"),
                           whatsapp_number=args.whatsapp_number or os.environ.get("WHATSAPP_DISPLAY_NUMBER"))
        for p in write_qr(link, Path(args.out), f"{args.name}-{info['code']}"):
            print(p)
        print(link)
        return 0
    return await _with(args, fn)


def add_subcommands(sub) -> None:
    camp = sub.add_parser("campaign", help="outreach campaigns: preview, test, run, stats, qr")
    cs = camp.add_subparsers(dest="campaign_command", required=True)

    def cmd(name, fn, help_):
        p = cs.add_parser(name, help=help_)
        p.set_defaults(func=lambda a: asyncio.run(fn(a)))
        return p

    cmd("list", _list, "campaigns known (YAML files are synced first)")
    p = cmd("preview", _preview, "audience per channel/language, one rendered message per variant, errors")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p = cmd("test", _test, "send the campaign to one staff contact (tagged 'staff')")
    p.add_argument("name")
    p.add_argument("--to", required=True, help="channel:user_id or contact id")
    p = cmd("run", _run, "send now (resumes an interrupted run; never twice to anyone)")
    p.add_argument("name")
    p.add_argument("--run-id", help="default: the name, or name#date for a recurring campaign")
    p.add_argument("--force", action="store_true", help="send even with template errors (those contacts skipped)")
    p.add_argument("--quiet", action="store_true", help="no progress line; print the final counts as JSON")
    p = cmd("stats", _stats, "results and attribution")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p = cmd("code", _code, "create or update a sign-up code for a venue")
    p.add_argument("name")
    p.add_argument("--code", required=True)
    p.add_argument("--venue")
    p.add_argument("--segment", default="umum")
    p.add_argument("--institution")
    p.add_argument("--region")
    p = cmd("qr", _qr, "write PNG and SVG QR codes of a code's sign-up link")
    p.add_argument("name")
    p.add_argument("--code", required=True)
    p.add_argument("--out", default=".")
    p.add_argument("--telegram-bot", help="bot username for t.me links (or TELEGRAM_BOT_USERNAME)")
    p.add_argument("--whatsapp-number", help="number for wa.me links (or WHATSAPP_DISPLAY_NUMBER)")

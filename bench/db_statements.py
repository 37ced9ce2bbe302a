"""What each command of a WhatsApp turn costs the embedded database: server CPU per store call, one at a time.

Starts a throw-away embedded server (``--standalone``, in memory), creates every index the bot creates
(``bot.storage.connect``), fills ``--contacts`` contacts with a filing-sized conversation state, then times the
store calls one turn makes, one after another (no concurrency, so every call is one command): the contact
read, the state save (on ``conv.version`` and on ``rev``; each on a contact read before the timing), the
inbound insert, the reply insert, the processed mark, the claim and the sent mark. Prints the server's CPU ms
per call (from /proc).
Run: ``.venv/bin/python -m bench.db_statements``.
"""
from __future__ import annotations

import argparse
import asyncio
import subprocess
import time

from bson import ObjectId

from bench.cluster import cpu_ms
from bot.embedded_db import _server_command, free_port
from bot.messages import Identity, InboundMessage, OutboundMessage, utcnow
from bot.storage import connect
from bot.storage.conversations import state_of

USER = 6281200000000


def filing_state(state: dict, n: int) -> dict:
    """A state shaped like one in the middle of a filing (slots, back stack, handled ids, last replies)."""
    state.update(flow="filing", step="location", back=["kind", "description"], last_choices=["a", "b"],
                 slots={"kind": "pengaduan", "description": "Jalan berlubang di depan sekolah " * 8,
                        "category": "infrastruktur", "region": "Kota Palembang"},
                 handled=[ObjectId() for _ in range(20)],
                 replied={"inbound": ObjectId(), "out": [{"_id": ObjectId(), "text": "Terima kasih. " * 20,
                                                          "template": "filing/ask_location", "location": None,
                                                          "choices": [["a", "Ya", None], ["b", "Tidak", None]]}]},
                 window={"n": n % 5}, last_inbound_at=utcnow())
    return state


async def run(contacts: int, calls: int) -> dict[str, float]:
    port = free_port()
    proc = subprocess.Popen(_server_command() + ["--port", str(port), "--storage-path", ":memory:", "--standalone"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    stores = None
    try:
        stores = await connect(f"mongodb://127.0.0.1:{port}/?directConnection=true", "bench_statements",
                               attempts=30)
        ids = []
        for k in range(contacts):
            c = await stores.contacts.get_or_create(Identity("whatsapp", str(USER + k)))
            await stores.conversations.save(filing_state(state_of(c), k))
            ids.append(c["_id"])
        stores.contacts.cache.clear()
        out: dict[str, float] = {}

        async def timed(name, fn):
            cpu0, t0 = cpu_ms(proc.pid), time.perf_counter()
            for i in range(calls):
                await fn(i)
            out[name] = (cpu_ms(proc.pid) - cpu0) / calls
            wall = (time.perf_counter() - t0) / calls * 1000
            print(f"{name:34s} server CPU {out[name]:5.2f} ms/call   wall {wall:5.2f} ms/call", flush=True)

        async def read(i):
            stores.contacts.cache.clear()
            await stores.contacts.get_or_create(Identity("whatsapp", str(USER + i % contacts)))

        async def saves(name: str, on_rev: bool):
            docs = [await stores.contacts.get_with_state(ids[i]) for i in range(calls)]  # read before timing
            await timed(name, lambda i: stores.conversations.save(filing_state(state_of(docs[i]), i),
                                                                  rev=docs[i].get("rev") if on_rev else None))

        inbound_ids, reply_docs = [], []

        async def inbound(i):
            msg = InboundMessage(Identity("whatsapp", str(USER + i % contacts)), f"wamid.BENCH{i}",
                                 text="Jalan di depan SD rusak parah sejak bulan lalu")
            inbound_ids.append(await stores.messages.store_inbound(msg, ids[i % contacts]))

        async def reply(i):
            m = OutboundMessage(Identity("whatsapp", str(USER + i % contacts)), "Terima kasih. " * 20,
                                template="filing/ask_location", contact_id=ids[i % contacts])
            doc = stores.messages.outbound_doc(m)
            await stores.messages.insert_outbound([doc])
            reply_docs.append(doc)

        await timed("contact read (find)", read)
        await saves("state save on conv.version", False)
        await saves("state save on rev", True)
        await timed("inbound insert", inbound)
        await timed("reply insert", reply)
        await timed("processed mark", lambda i: stores.messages.mark_inbound(inbound_ids[i], "processed"))
        # as the outbox claims what it just queued: no read back (journaled, as every claim)
        await timed("claim", lambda i: stores.messages.claim(reply_docs[i]["_id"], doc=reply_docs[i]))
        await timed("sent mark", lambda i: stores.messages.mark_sent(reply_docs[i]["_id"], f"wamid.OUT{i}"))
        return out
    finally:
        if stores is not None:
            await stores.close()
        proc.terminate()
        proc.wait()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, default=2000)
    ap.add_argument("--calls", type=int, default=500, help="calls of each kind")
    args = ap.parse_args()
    await run(args.contacts, min(args.calls, args.contacts))  # each contact saved once per kind: no conflict


if __name__ == "__main__":
    asyncio.run(main())

"""Back-office test helpers: constants, posting a form, a citizen asking for a person on WhatsApp."""
from __future__ import annotations

import aiohttp

from tests.fixtures.fakes import wait_until

SECRET = "wa-app-secret-123"
WA = "6281234567001"
AGENCY = "DPU-53.71"


async def post(client, path: str, **form) -> aiohttp.ClientResponse:
    return await client.post(path, data={"csrf_token": client.csrf, **form}, allow_redirects=False)


async def say(g, drv, coro, count=1):
    n = len(g.to(WA))
    status, _ = await coro
    assert status == 200
    return await g.wait_sent(WA, n + count)


async def ask_for_a_person(rt, g, drv) -> dict:
    await say(g, drv, drv.text(WA, "halo"))
    consent = next(o for o in g.last_options(WA) if "consent:ya" in o[0])
    await say(g, drv, drv.button(WA, *consent), count=2)
    sent = await say(g, drv, drv.text(WA, "petugas"))
    assert "08.00-16.00 WIB" in g.text_of(sent[-1])  # the office-hours message stays
    contact = await rt.stores.contacts.col.find_one({"user_id": WA})
    return await wait_until(lambda: rt.stores.handoffs.active_for(contact["_id"]))



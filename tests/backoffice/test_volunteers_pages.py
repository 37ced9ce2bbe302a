"""Volunteer pages: invite (code + link) that a person redeems in the chat, list with assisted reports
(no description, no person helped), revoke a volunteer and an invite, roles."""
from __future__ import annotations

import re

import pytest

from tests.chat import Chat
from tests.staff.conftest import make_report


@pytest.fixture
async def rt(make_runtime):
    return await make_runtime(http=True)


async def joined(rt, user: str, text: str) -> Chat:
    chat = Chat(rt, user=user, channel="telegram", name="Rina Relawan")
    replies = await chat.send("halo")
    if any(c.payload.startswith("consent:") for r in replies for c in r.choices):
        await chat.send("setuju", payload="consent:ya")
    await chat.send(text)
    return chat


async def post(client, path: str, **data):
    return await client.post(f"/staff{path}", data={"csrf_token": client.csrf, **data}, allow_redirects=False)


async def test_invite_list_assisted_reports_and_revoke(rt, signed_in, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "lapor_test_bot")
    me = await signed_in("coordinator")
    r = await post(me, "/volunteers/invites", note="Pelatihan Kupang <b>", max_uses="2")
    assert r.status == 303
    html = await (await me.get(r.headers["Location"])).text()
    code = re.search(r"<strong class=\"code\" data-code>([A-Z0-9]{8})</strong>", html).group(1)
    assert f"https://t.me/lapor_test_bot?start=relawan-{code}" in html and f"RELAWAN {code}" in html
    assert "Pelatihan Kupang &lt;b&gt;" in html  # notes are escaped
    audit = await rt.staff.audit.col.find({"action": "volunteer_invite"}).to_list(None)
    assert [a["target"] for a in audit] == [code] and audit[0]["actor"] == f"staff:{me.user['_id']}"

    # a person joins in the chat with that code, and files for two neighbours
    chat = await joined(rt, "5550001234", f"RELAWAN {code}")
    assert "volunteer/joined" in chat.seen_templates
    vol = await chat.contact()
    for _ in range(2):
        await make_report(rt, None, description="Rahasia: tetangga saya Bu Siti tidak dapat bansos",
                          volunteer_id=vol["_id"], contact_id=None, privacy="rahasia",
                          on_behalf={"name": "Siti Aminah", "phone": "+6281234567890", "consent": True})
    html = await (await me.get("/staff/volunteers")).text()
    row = re.search(rf'<tr data-key="{vol["_id"]}">.*?</tr>', html, re.S).group(0)
    assert "Rina Relawan" in row and "…1234" in row and "5550001234" not in html
    assert 'data-field="assisted">2<' in row and "LPR-" in row
    assert re.search(rf'<tr data-key="{code}".*?data-field="uses">1 / 2<', html, re.S)
    detail = await (await me.get(f"/staff/volunteers/{vol['_id']}")).text()
    assert len(re.findall(r'<tr data-key="LPR-', detail)) == 2
    for secret in ("Siti Aminah", "6281234567890", "bansos", "5550001234"):
        assert secret not in html and secret not in detail  # the person helped and the report stay private

    # revoke the volunteer: the chat no longer treats them as one; a new invite lets them back in
    assert (await post(me, f"/volunteers/{vol['_id']}/revoke")).status == 303
    assert not await rt.stores.volunteers.is_volunteer(vol["_id"])
    assert (await post(me, f"/volunteers/{vol['_id']}/revoke")).status == 404  # already revoked
    html = await (await me.get("/staff/volunteers?done=revoked")).text()
    assert "Relawan dicabut" in html and 'class="revoked"' in html
    await chat.send(f"RELAWAN {code}")  # second use of the same code: allowed (max 2), rejoins
    assert await rt.stores.volunteers.is_volunteer(vol["_id"])

    # revoke an invite: nobody joins with it any more
    r = await post(me, "/volunteers/invites", max_uses="5")
    code2 = re.search(r"code=([A-Z0-9]+)", r.headers["Location"]).group(1)
    assert (await post(me, f"/volunteers/invites/{code2}/revoke")).status == 303
    other = await joined(rt, "5550009999", f"RELAWAN {code2}")
    assert "volunteer/invalid_code" in other.seen_templates
    assert not await rt.stores.volunteers.is_volunteer((await other.contact())["_id"])
    assert (await post(me, f"/volunteers/invites/{code2}/revoke")).status == 404
    assert (await post(me, "/volunteers/invites", max_uses="0")).status == 400
    assert (await post(me, "/volunteers/invites", note="x" * 501)).status == 413


async def test_roles(rt, signed_in):
    for role, agency in (("officer", "DPU-53.71"), ("campaign", None)):
        client = await signed_in(role, agency=agency)
        assert (await client.get("/staff/volunteers")).status == 403
        assert (await post(client, "/volunteers/invites", max_uses="1")).status == 403
        assert (await client.get("/staff/volunteers/0123456789abcdef01234567")).status == 403
    admin = await signed_in("admin")
    assert (await admin.get("/staff/volunteers?lang=en")).status == 200
    assert (await admin.get("/staff/volunteers/0123456789abcdef01234567")).status == 404
    assert await rt.stores.volunteers.invites.count_documents({}) == 0

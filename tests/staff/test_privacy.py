"""Privacy matrix: admin/agency x publik/anonim/rahasia, through every route that returns a report."""
import json

import pytest

from bot.messages import utcnow
from bot.staff.auth import Principal
from bot.staff.views import serialize_report
from tests.staff.conftest import ADMIN, NAME, PHONE_ID, TELEGRAM_ID, advance, agency_headers, citizen, make_report

VOLUNTEER_ID = "777888999000"
ON_BEHALF = "Budi Santoso"
ON_BEHALF_PHONE = "081298765432"

# (role, privacy) -> may the caller see who reported?
MATRIX = {("admin", "publik"): True, ("admin", "anonim"): True, ("admin", "rahasia"): True,
          ("agency", "publik"): True, ("agency", "anonim"): False, ("agency", "rahasia"): False}


async def _reports(rt):
    """One direct report and one volunteer-filed report per privacy level, all forwarded to DPU-53.71."""
    reporter = await citizen(rt, PHONE_ID, "whatsapp", NAME)
    volunteer = await citizen(rt, VOLUNTEER_ID, "telegram", "Relawan Ani")
    out = {}
    for privacy in ("publik", "anonim", "rahasia"):
        direct = await make_report(rt, reporter, privacy=privacy)
        assisted = await make_report(rt, volunteer, privacy=privacy, contact_id=None, reporter_name=None,
                                     volunteer_id=volunteer["_id"],
                                     on_behalf={"name": ON_BEHALF, "phone": ON_BEHALF_PHONE, "consent": True})
        await rt.stores.reports.add_supporter(direct["tracking_id"], volunteer["_id"])
        for r in (direct, assisted):
            await advance(rt, r["tracking_id"], "terverifikasi", "diteruskan")
        out[privacy] = (direct["tracking_id"], assisted["tracking_id"])
    return out, reporter, volunteer


def _check(body: dict, role: str, privacy: str, reporter, volunteer):
    text = json.dumps(body)
    may_see = MATRIX[(role, privacy)]
    # channel identities never reach an agency (and raw channel user ids never leave the API at all)
    for ident in (PHONE_ID, VOLUNTEER_ID, TELEGRAM_ID):
        assert ident not in text
    if role == "agency":
        assert ON_BEHALF_PHONE not in text and "81298765432" not in text
        assert str(reporter["_id"]) not in text and str(volunteer["_id"]) not in text
        assert "contact_id" not in text and "gridfs_id" not in text and "ref" not in body.get("attachments", [{}])[0:1]
        assert "channel" not in text  # neither the report's channel nor who was notified on which channel
        assert all(set(n) == {"event", "status", "at"} for n in body.get("notifications") or [])
    else:
        assert body["channel"] in ("whatsapp", "telegram")
    if may_see:
        assert "reporter" in body
        assert body["reporter"]["name"] in (NAME, ON_BEHALF)
    else:
        assert "reporter" not in body
        assert NAME not in text and ON_BEHALF not in text
    if role == "admin" and body.get("volunteer"):
        assert body["reporter"]["on_behalf"]["phone"] == ON_BEHALF_PHONE


@pytest.mark.parametrize("role", ["admin", "agency"])
async def test_privacy_matrix_on_every_route(rt, client, role):
    ids, reporter, volunteer = await _reports(rt)
    headers = ADMIN if role == "admin" else await agency_headers(rt, "DPU-53.71")
    listed = {x["tracking_id"]: x for x in (await (await client.get("/api/v1/reports?limit=100", headers=headers)).json())["items"]}
    assert len(listed) == 6
    for privacy, tids in ids.items():
        for tid in tids:
            _check(listed[tid], role, privacy, reporter, volunteer)
            one = await (await client.get(f"/api/v1/reports/{tid}", headers=headers)).json()
            _check(one, role, privacy, reporter, volunteer)
            r = await client.post(f"/api/v1/reports/{tid}/transitions", headers=headers,
                                  json={"to": "ditanggapi", "note": "Sedang kami tangani."})
            assert r.status == 200
            _check(await r.json(), role, privacy, reporter, volunteer)


def test_serializer_matrix_unit():
    """The one serializer, without HTTP: every cell of the matrix."""
    from bson import ObjectId

    cid, vid = ObjectId(), ObjectId()
    now = utcnow()
    for (role, privacy), may_see in MATRIX.items():
        who = Principal("admin") if role == "admin" else Principal("agency", agency="PLN")
        rep = {"tracking_id": "LPR-TEST001", "privacy": privacy, "contact_id": cid, "reporter_name": NAME,
               "volunteer_id": vid, "on_behalf": {"name": ON_BEHALF, "phone": ON_BEHALF_PHONE, "consent": True},
               "channel": "whatsapp", "status": "diteruskan", "agency": "PLN", "history": [], "created_at": now,
               "user_id": PHONE_ID, "attachments": [{"kind": "photo", "ref": "wa-media-123", "gridfs_id": ObjectId()}]}
        body = serialize_report(rep, who, now=now)
        text = json.dumps(body)
        assert PHONE_ID not in text and "wa-media-123" not in text
        assert ("reporter" in body) is may_see
        if role == "agency":
            assert ON_BEHALF_PHONE not in text and str(cid) not in text and str(vid) not in text
            assert body["volunteer"] == {"assisted": True}
            assert "channel" not in body
        if not may_see:
            assert NAME not in text and ON_BEHALF not in text

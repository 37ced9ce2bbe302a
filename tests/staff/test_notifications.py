"""Notifications after transitions: who gets what, in which language, and failures that never block."""
import asyncio

from bot.outbox import SendResult
from tests.staff.conftest import ADMIN, advance, citizen, make_report, outbox_for


class FakeSender:
    def __init__(self, channel: str, result: str = "sent", error: str | None = None):
        self.channel, self.result, self.error = channel, result, error
        self.rate_per_s, self.per_chat_gap_s = 1000.0, 0.0
        self.sent: list[dict] = []

    async def send(self, doc: dict) -> SendResult:
        self.sent.append(doc)
        return SendResult(self.result, provider_id=f"p-{doc['_id']}", error=self.error)


async def _use(rt, sender) -> None:
    rt.outbox.register(sender)
    await rt.outbox.start()


async def _wait_status(rt, tid: str, status: str, timeout: float = 5.0) -> list[dict]:
    for _ in range(int(timeout / 0.05)):
        notes = await rt.staff.notifier.statuses(tid)
        if notes and all(n["status"] == status for n in notes):
            return notes
        await asyncio.sleep(0.05)
    raise AssertionError(await rt.staff.notifier.statuses(tid))


async def test_failed_delivery_is_visible_on_the_report_and_does_not_block(rt, client):
    await _use(rt, FakeSender("telegram", "failed", "chat not found"))
    rep = await make_report(rt)
    r = await client.post(f"/api/v1/reports/{rep['tracking_id']}/transitions", headers=ADMIN,
                          json={"to": "terverifikasi"})
    assert r.status == 200 and (await r.json())["status"] == "terverifikasi"
    notes = await _wait_status(rt, rep["tracking_id"], "failed")
    assert notes[0]["event"] == "terverifikasi" and notes[0]["role"] == "reporter"
    body = await (await client.get(f"/api/v1/reports/{rep['tracking_id']}", headers=ADMIN)).json()
    assert body["notifications"][0]["status"] == "failed" and body["notifications"][0]["error"] == "chat not found"


async def test_a_slow_retrying_channel_does_not_block_either(rt, client):
    await _use(rt, FakeSender("telegram", "retry", "HTTP 502"))
    rep = await make_report(rt)
    r = await asyncio.wait_for(client.post(f"/api/v1/reports/{rep['tracking_id']}/transitions", headers=ADMIN,
                                           json={"to": "terverifikasi"}), 5)
    assert r.status == 200
    await asyncio.sleep(0.3)
    msg = (await outbox_for(rt, rep["contact_id"]))[0]
    assert msg["status"] in ("queued", "sending") and msg["attempts"] >= 1  # retried with back-off


async def test_a_broken_notification_never_blocks_the_transition(rt, client, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(rt.engine.renderer, "render", boom)
    rep = await make_report(rt)
    r = await client.post(f"/api/v1/reports/{rep['tracking_id']}/transitions", headers=ADMIN,
                          json={"to": "terverifikasi"})
    assert r.status == 200
    assert (await rt.stores.reports.get(rep["tracking_id"]))["status"] == "terverifikasi"
    notes = (await r.json())["notifications"]
    assert notes[0]["status"] == "failed" and notes[0]["error"] == "RuntimeError"


async def test_sent_notification_shows_sent(rt, client):
    sender = FakeSender("telegram")
    await _use(rt, sender)
    rep = await make_report(rt)
    await advance(rt, rep["tracking_id"], "terverifikasi")
    await _wait_status(rt, rep["tracking_id"], "sent")
    assert rep["tracking_id"] in sender.sent[0]["text"]


async def test_everyone_concerned_is_told_in_their_language(rt):
    sms = FakeSender("sms")
    await _use(rt, sms)
    reporter = await citizen(rt, "300300300", language="en")
    supporter = await citizen(rt, "400400400")
    volunteer = await citizen(rt, "500500500", "webchat", "Relawan")
    direct = await make_report(rt, reporter)
    await rt.stores.reports.add_supporter(direct["tracking_id"], supporter["_id"])
    assisted = await make_report(rt, volunteer, contact_id=None, volunteer_id=volunteer["_id"],
                                 on_behalf={"name": "Budi", "phone": "081298765432", "consent": True})
    long_answer = "Jalan sudah kami tambal. " * 200  # 5,000 characters: delivered in full
    for r in (direct, assisted):
        await advance(rt, r["tracking_id"], "terverifikasi", "diteruskan")
        await rt.staff.transition(r["tracking_id"], "ditanggapi", actor="instansi:DPU-53.71", note=long_answer)
    en = (await outbox_for(rt, reporter["_id"]))
    assert [m["template"] for m in en] == ["notify/terverifikasi", "notify/diteruskan", "notify/ditanggapi"]
    assert en[0]["text"].startswith("Your report") and "Dinas Pekerjaan Umum Kota Kupang" in en[1]["text"]
    assert long_answer.strip() in en[2]["text"]
    assert [c["payload"] for c in en[2]["choices"]] == [f"addinfo:{direct['tracking_id']}"]
    sup = await outbox_for(rt, supporter["_id"])
    assert len(sup) == 3 and sup[0]["text"].startswith("Laporan yg Anda dukung") and not sup[2]["choices"]
    vol = await outbox_for(rt, volunteer["_id"])
    assert len(vol) == 3 and "Budi" in vol[0]["text"] and vol[0]["channel"] == "webchat"
    # the person the volunteer filed for hears by SMS, in Indonesian
    sms_contact = await rt.stores.contacts.find_by_identity("sms", "+6281298765432")
    on_behalf = await outbox_for(rt, sms_contact["_id"])
    assert [m["template"] for m in on_behalf] == ["notify/terverifikasi", "notify/diteruskan", "notify/ditanggapi"]
    assert long_answer.strip() in on_behalf[2]["text"]
    # WhatsApp-style template parameters are filled for channels that need an approved template
    assert en[0]["template_params"][0] == direct["tracking_id"]


async def test_no_sms_without_an_sms_channel_or_consent(rt):
    volunteer = await citizen(rt, "600600600")
    rep = await make_report(rt, volunteer, contact_id=None, volunteer_id=volunteer["_id"],
                            on_behalf={"name": "Budi", "phone": "081298765432", "consent": True})
    await advance(rt, rep["tracking_id"], "terverifikasi")
    assert await rt.stores.contacts.find_by_identity("sms", "+6281298765432") is None


async def test_selesai_asks_for_a_rating_and_unreachable_contacts_are_marked(rt):
    reporter = await citizen(rt, "700700700")
    blocked = await citizen(rt, "800800800")
    await rt.stores.contacts.mark_unreachable(blocked["_id"], "blocked")
    rep = await make_report(rt, reporter)
    await rt.stores.reports.add_supporter(rep["tracking_id"], blocked["_id"])
    await advance(rt, rep["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi", "selesai")
    last = (await outbox_for(rt, reporter["_id"]))[-1]
    assert last["template"] == "notify/selesai"
    assert [c["payload"] for c in last["choices"]] == [f"rate:{rep['tracking_id']}:{n}" for n in range(1, 6)]
    assert await outbox_for(rt, blocked["_id"]) == []
    notes = await rt.staff.notifier.statuses(rep["tracking_id"])
    assert {(n["role"], n["status"], n["error"]) for n in notes if n["role"] == "supporter"} == {
        ("supporter", "failed", "unreachable")}


async def test_citizen_objection_notifies_the_others_not_the_citizen(rt):
    reporter = await citizen(rt, "900900900")
    supporter = await citizen(rt, "910910910")
    rep = await make_report(rt, reporter)
    await rt.stores.reports.add_supporter(rep["tracking_id"], supporter["_id"])
    await advance(rt, rep["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi", "selesai")
    before = len(await outbox_for(rt, reporter["_id"]))
    report = await rt.stores.reports.transition(rep["tracking_id"], "diteruskan", actor="warga", note="belum beres",
                                                by_citizen=True)
    await rt.engine.ports.lifecycle.on_transition(report, actor="warga")
    assert len(await outbox_for(rt, reporter["_id"])) == before
    assert (await outbox_for(rt, supporter["_id"]))[-1]["template"] == "notify/dibuka_kembali"
    # the agency's clock restarts and the objection is in the audit trail
    reopened = await rt.stores.reports.get(rep["tracking_id"])
    assert reopened["forwarded_at"] > report["forwarded_at"] and reopened["followup_due_at"]
    assert (await rt.staff.audit.for_target(rep["tracking_id"]))[-1]["action"] == "objection"

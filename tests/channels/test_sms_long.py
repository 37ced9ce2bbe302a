"""Issue 12: an agency's long answer reaches an SMS citizen whole, in numbered parts, in order, once."""
import re

import pytest

from channels import sms_parts
from channels.formatting import sms_segment_count
from tests.fixtures.fakes import wait_until
from tests.staff.conftest import advance, citizen, make_report

PHONE = "+6281234567301"
PART = re.compile(r"^\((\d+)/(\d+)\) ")


@pytest.fixture
async def sms(fake_sms, make_runtime):
    rt = await make_runtime(http=True, sms_account_sid=fake_sms.sid, sms_auth_token=fake_sms.token,
                            sms_from="1708", sms_api_base_url=fake_sms.base_url,
                            sms_public_url="https://lapor.example.id/webhooks/sms")
    return rt, fake_sms


def squash(text: str) -> str:
    return "".join(text.split())


async def answered(rt, fake, note: str) -> list[str]:
    """File a report for an SMS citizen, answer it with ``note``; the bodies of the answer's SMS, in order."""
    contact = await citizen(rt, PHONE, "sms")
    report = await make_report(rt, contact)
    await advance(rt, report["tracking_id"], "terverifikasi", "diteruskan")
    await wait_until(lambda: len(fake.sent) >= 2)
    await rt.outbox.drain()
    n = len(fake.sent)
    await rt.staff.transition(report["tracking_id"], "ditanggapi", actor="instansi:DPU-53.71", note=note)

    def whole():
        bodies = [m["Body"] for m in fake.sent[n:]]
        first = PART.match(bodies[0]) if bodies else None
        return bodies if first and len(bodies) >= int(first.group(2)) else None
    bodies = await wait_until(whole)
    await rt.outbox.drain()
    doc = await rt.stores.db.messages.find_one({"template": "notify/ditanggapi"})
    assert doc["status"] == "sent"
    return [m["Body"] for m in fake.sent[n:]]


def check_whole(bodies: list[str], note: str) -> None:
    marks = [PART.match(b) for b in bodies]
    assert all(marks)
    assert [int(m.group(1)) for m in marks] == list(range(1, len(bodies) + 1))  # in order, each once
    assert {int(m.group(2)) for m in marks} == {len(bodies)}
    assert all(sms_segment_count(b) <= sms_parts.SEGMENTS_PER_PART for b in bodies)
    joined = squash("".join(PART.sub("", b) for b in bodies))
    assert joined.count(squash(note)) == 1


async def test_the_longest_answer_arrives_whole_in_numbered_parts(sms):
    rt, fake = sms
    note = "Perbaikan jalan dijadwalkan minggu depan oleh tim pemeliharaan Dinas PU. " * 108  # 8,000 chars
    check_whole(await answered(rt, fake, note[:8000].rstrip()), note[:8000].rstrip())


async def test_a_ucs2_answer_arrives_whole_and_a_retry_does_not_repeat_parts(sms):
    rt, fake = sms
    note = "Sudah diperbaiki 🙏 terima kasih atas laporannya, warga Oebobo. " * 40  # UCS-2: 67 a segment
    fake.fail_at[fake.requests + 2 + 3] = 503  # after 2 status notifications, the answer's 3rd part fails once
    bodies = await answered(rt, fake, note.rstrip())
    check_whole(bodies, note.rstrip())
    assert len(bodies) > 3 and fake.requests == len(fake.sent) + 1  # the failed request happened


def test_split_whole_caps_at_the_documented_maximum():
    parts = sms_parts.split_whole("kata " * 40000)
    assert len(parts) == sms_parts.MAX_PARTS and parts[-1].endswith(sms_parts.CUT)
    assert all(sms_segment_count(p) <= sms_parts.SEGMENTS_PER_PART for p in parts)
    assert sms_parts.split_whole("pendek") == ["pendek"]

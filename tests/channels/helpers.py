"""Shared bits of the channel tests: the filing script and a status notification."""
from __future__ import annotations

from bot.dialogue.actions import NEXT_STEP
from bot.ratelimit import PerChatGap

DESCRIPTION = "Jalan berlubang besar di depan pasar Kupang sejak minggu lalu membahayakan pengendara"
JPEG = b"\xff\xd8\xff\xe0" + b"JFIF-test-photo" * 200 + b"\xff\xd9"


def fast_chat_gap(rt, channel: str, gap_s: float = 0.0) -> None:
    """Scripted conversations answer instantly; the per-chat gap is tested on its own."""
    rt.outbox.workers[channel].gap = PerChatGap(gap_s)


async def notify_status(rt, report: dict) -> None:
    contact = await rt.stores.contacts.get(report["contact_id"])
    view = {"tracking_id": report["tracking_id"], "status": report["status"],
            "updated_at": report["history"][-1]["at"], "next": NEXT_STEP.get(report["status"]), "description": report.get("description")}
    await rt.engine.notify(contact, "tracking/status", view=view, own=True,
                           template_params=[report["tracking_id"], report["status"]])

"""Campaign results: audience, queued, sent, delivered, read, failed by reason, opted out, replies, attribution."""
from __future__ import annotations

import re
from datetime import timedelta

from outreach.campaigns import Campaign, audience_query
from outreach.dispatch import install


async def campaign_stats(runtime, campaign: Campaign) -> dict:
    out = install(runtime)
    await out.ensure_indexes()
    stores = runtime.stores
    name = campaign.name
    run_re = {"$regex": f"^{re.escape(name)}(#|$)"}
    d = {"pending": 0, "queued": 0, "skipped": 0}
    skipped: dict = {}
    for (s, r), n in (await out.deliveries.count_by_status_reason(name)).items():
        d[s] = d.get(s, 0) + n
        if r:
            skipped[r] = skipped.get(r, 0) + n
    m: dict = {}
    failed: dict = dict(skipped)
    for (s, r), n in (await stores.messages.count_by_status_reason(run_re)).items():
        m[s] = m.get(s, 0) + n
        if s == "failed":
            failed[r or "failed"] = failed.get(r or "failed", 0) + n
    deliveries = sum(v for k, v in d.items())
    # replies and opt-outs among contacts who got it
    first_sent = await stores.messages.first_sent(run_re)
    replies = opted_out = 0
    if first_sent:
        since = min(first_sent.values())
        repliers = set()
        async for doc in stores.messages.inbound_since(first_sent, since):
            if doc["created_at"] >= first_sent[doc["contact_id"]]:
                repliers.add(doc["contact_id"])
        replies = len(repliers)
    created = await out.deliveries.first_created(name)
    for c in await stores.contacts.opted_out_among(created):
        at = (c.get("subscription") or {}).get("opted_out_at") or c.get("unreachable_at")
        if at and at >= created[c["_id"]]:
            opted_out += 1
    return {
        "campaign": name, "goal": campaign.goal,
        "audience": deliveries or await stores.contacts.count(audience_query(campaign)),
        "queued": d.get("pending", 0) + m.get("queued", 0) + m.get("sending", 0),
        "sent": m.get("sent", 0) + m.get("delivered", 0) + m.get("read", 0),
        "delivered": m.get("delivered", 0) + m.get("read", 0),
        "read": m.get("read", 0),
        "failed": sum(failed.values()), "failed_by_reason": failed,
        "opted_out": opted_out, "replies": replies,
        "attribution": await attribution(runtime, campaign, out),
    }


async def attribution(runtime, campaign: Campaign, out=None) -> dict:
    """Sign-ups per code/venue (from subscription events) and reports filed within N days of joining."""
    out = out or install(runtime)
    per_code: dict = {}
    joined: dict = {}  # contact -> first sign-up time through this campaign
    async for ev in out.events.signups(campaign.name):
        key = ev.get("code") or "-"
        row = per_code.setdefault(key, {"code": key, "venue": ev.get("venue"), "institution": ev.get("institution"),
                                        "signups": 0, "contacts": set(), "reports": 0})
        row["contacts"].add(ev["contact_id"])
        if ev["contact_id"] not in joined or ev["at"] < joined[ev["contact_id"]][0]:
            joined[ev["contact_id"]] = (ev["at"], key)
    days = campaign.attribution_days
    reporters = set()
    if joined:
        async for r in runtime.stores.reports.filed_by(joined):
            at, key = joined[r["contact_id"]]
            if at <= r["created_at"] <= at + timedelta(days=days):
                per_code[key]["reports"] += 1
                reporters.add(r["contact_id"])
    codes = []
    for row in per_code.values():
        row["signups"] = len(row.pop("contacts"))
        codes.append(row)
    codes.sort(key=lambda r: (-r["signups"], r["code"]))
    return {"signups": len(joined), "reports_within_days": days,
            "reports": sum(r["reports"] for r in codes), "reporting_contacts": len(reporters), "codes": codes}


def format_stats(s: dict) -> str:
    lines = [f"Campaign {s['campaign']}: {s['goal']}".rstrip(": "),
             f"  audience {s['audience']} | queued {s['queued']} | sent {s['sent']} | delivered {s['delivered']} | "
             f"read {s['read']} | failed {s['failed']} | opted out {s['opted_out']} | replies {s['replies']}"]
    for reason, n in sorted(s["failed_by_reason"].items()):
        lines.append(f"  failed {reason}: {n}")
    a = s["attribution"]
    lines.append(f"  sign-ups {a['signups']}; reports within {a['reports_within_days']} days: {a['reports']} "
                 f"(by {a['reporting_contacts']} contacts)")
    for row in a["codes"]:
        lines.append(f"    {row['code']:<16} {str(row.get('venue') or '-'):<28} sign-ups {row['signups']:>5} "
                     f"reports {row['reports']:>4}")
    return "\n".join(lines)

"""Campaign results: audience, queued, sent, delivered, read, failed by reason, opted out, replies, attribution."""
from __future__ import annotations

import re
from datetime import timedelta

from outreach.campaigns import Campaign, audience_query
from outreach.dispatch import install


async def campaign_stats(runtime, campaign: Campaign) -> dict:
    out = install(runtime)
    await out.ensure_indexes()
    db = runtime.stores.db
    name = campaign.name
    run_re = {"$regex": f"^{re.escape(name)}(#|$)"}
    d = {"pending": 0, "queued": 0, "skipped": 0}
    skipped: dict = {}
    async for row in await out.deliveries.col.aggregate([
            {"$match": {"campaign": name}}, {"$group": {"_id": {"s": "$status", "r": "$reason"}, "n": {"$sum": 1}}}]):
        d[row["_id"]["s"]] = d.get(row["_id"]["s"], 0) + row["n"]
        if row["_id"].get("r"):
            skipped[row["_id"]["r"]] = skipped.get(row["_id"]["r"], 0) + row["n"]
    m: dict = {}
    failed: dict = dict(skipped)
    async for row in await db["messages"].aggregate([
            {"$match": {"campaign": run_re, "direction": "out"}},
            {"$group": {"_id": {"s": "$status", "r": "$failure_reason"}, "n": {"$sum": 1}}}]):
        s = row["_id"]["s"]
        m[s] = m.get(s, 0) + row["n"]
        if s == "failed":
            r = row["_id"].get("r") or "failed"
            failed[r] = failed.get(r, 0) + row["n"]
    deliveries = sum(v for k, v in d.items())
    # replies and opt-outs among contacts who got it
    sent_docs = await db["messages"].find(
        {"campaign": run_re, "direction": "out", "status": {"$in": ["sent", "delivered", "read"]}},
        {"contact_id": 1, "sent_at": 1}).to_list(None)
    first_sent = {}
    for doc in sent_docs:
        if doc.get("sent_at") and (doc["contact_id"] not in first_sent or doc["sent_at"] < first_sent[doc["contact_id"]]):
            first_sent[doc["contact_id"]] = doc["sent_at"]
    replies = opted_out = 0
    if first_sent:
        since = min(first_sent.values())
        repliers = set()
        async for doc in db["messages"].find({"direction": "in", "contact_id": {"$in": list(first_sent)},
                                              "created_at": {"$gte": since}}, {"contact_id": 1, "created_at": 1}):
            if doc["created_at"] >= first_sent[doc["contact_id"]]:
                repliers.add(doc["contact_id"])
        replies = len(repliers)
    created = {}
    async for dv in out.deliveries.col.find({"campaign": name}, {"contact_id": 1, "created_at": 1}):
        created[dv["contact_id"]] = min(dv["created_at"], created.get(dv["contact_id"], dv["created_at"]))
    if created:
        async for c in db["contacts"].find({"_id": {"$in": list(created)}, "subscription.status": "opted_out"},
                                           {"subscription": 1, "unreachable_at": 1}):
            at = (c.get("subscription") or {}).get("opted_out_at") or c.get("unreachable_at")
            if at and at >= created[c["_id"]]:
                opted_out += 1
    return {
        "campaign": name, "goal": campaign.goal,
        "audience": deliveries or await db["contacts"].count_documents(audience_query(campaign)),
        "queued": d.get("pending", 0) + m.get("queued", 0) + m.get("sending", 0),
        "sent": m.get("sent", 0) + m.get("delivered", 0) + m.get("read", 0),
        "delivered": m.get("delivered", 0) + m.get("read", 0),
        "read": m.get("read", 0),
        "failed": sum(failed.values()), "failed_by_reason": failed,
        "opted_out": opted_out, "replies": replies,
        "attribution": await attribution(runtime, campaign),
    }


async def attribution(runtime, campaign: Campaign) -> dict:
    """Sign-ups per code/venue (from subscription events) and reports filed within N days of joining."""
    db = runtime.stores.db
    per_code: dict = {}
    joined: dict = {}  # contact -> first sign-up time through this campaign
    async for ev in db["subscription_events"].find({"campaign": campaign.name, "event": "subscribed"}):
        key = ev.get("code") or "-"
        row = per_code.setdefault(key, {"code": key, "venue": ev.get("venue"), "institution": ev.get("institution"),
                                        "signups": 0, "contacts": set(), "reports": 0})
        row["contacts"].add(ev["contact_id"])
        if ev["contact_id"] not in joined or ev["at"] < joined[ev["contact_id"]][0]:
            joined[ev["contact_id"]] = (ev["at"], key)
    days = campaign.attribution_days
    reporters = set()
    if joined:
        async for r in db["reports"].find({"contact_id": {"$in": list(joined)}}, {"contact_id": 1, "created_at": 1}):
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

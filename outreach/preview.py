"""Preview (audience per channel and language, one rendered message per variant, template errors) and
staff test sends."""
from __future__ import annotations

from bson import ObjectId

from bot.messages import Identity, OutboundMessage
from outreach.campaigns import CHANNELS, Campaign, audience_query
from outreach.dispatch import install
from outreach.render import SAMPLE_CONTACT, render_wa_template, sms_info, try_render


async def preview(runtime, campaign: Campaign) -> dict:
    contacts = runtime.stores.contacts
    sizes: dict = {}
    for (ch, lang), n in (await contacts.count_by_channel_language(audience_query(campaign))).items():
        sizes[f"{ch}/{lang or 'id'}"] = n
    variants, errors = [], []
    channels = campaign.audience.channel or list(CHANNELS)
    langs = campaign.audience.language or sorted(campaign.texts())
    for lang in langs:
        for ch in channels:
            sample = await contacts.find_one_matching({**audience_query(campaign, [ch]), "language": lang}) or \
                {**SAMPLE_CONTACT, "language": lang, "channel": ch}
            text, errs, used_lang, variant = try_render(campaign, sample, ch)
            item = {"channel": ch, "language": lang, "variant": f"{used_lang}/{variant}", "text": text,
                    "chars": len(text or ""), "errors": errs}
            if ch == "sms" and text is not None:
                item["sms"] = sms_info(text)
            if ch == "whatsapp" and campaign.whatsapp_template:
                try:
                    item["whatsapp_template"] = render_wa_template(campaign, sample)
                except Exception as exc:
                    errs.append(f"whatsapp template: {exc}")
            variants.append(item)
            errors += [f"{ch}/{lang}: {e}" for e in errs]
    if campaign.whatsapp_template and "whatsapp" not in channels:  # staff-written too: checked all the same
        try:
            render_wa_template(campaign, SAMPLE_CONTACT)
        except Exception as exc:
            errors.append(f"whatsapp template: {exc}")
    return {"campaign": campaign.name, "goal": campaign.goal, "audience": sizes,
            "audience_total": sum(sizes.values()), "variants": variants, "errors": errors}


def format_preview(p: dict) -> str:
    lines = [f"Campaign {p['campaign']}: {p['goal']}", f"Audience: {p['audience_total']}"]
    for k, n in sorted(p["audience"].items()):
        lines.append(f"  {k:<14} {n}")
    for v in p["variants"]:
        extra = ""
        if "sms" in v:
            extra = f", {v['sms']['encoding']} {v['sms']['units']} chars, {v['sms']['segments']} segment(s)"
        lines.append(f"--- {v['channel']} / {v['language']} (template {v['variant']}, {v['chars']} chars{extra})")
        lines.append(v["text"] if v["text"] is not None else "(not rendered)")
        if v.get("whatsapp_template"):
            t = v["whatsapp_template"]
            lines.append(f"[outside 24 h: WhatsApp template {t['name']} ({t['language']}) params {t['params']}]")
        for e in v["errors"]:
            lines.append(f"!! {e}")
    lines.append("No template errors." if not p["errors"] else f"{len(p['errors'])} template error(s).")
    return "\n".join(lines)


class NotStaff(Exception):
    pass


async def find_contact(runtime, ref: str) -> dict | None:
    """``channel:user_id`` or a contact id."""
    contacts = runtime.stores.contacts
    if ObjectId.is_valid(ref):
        doc = await contacts.get(ObjectId(ref))
        if doc:
            return doc
    if ":" in ref:
        ch, uid = ref.split(":", 1)
        return await contacts.find_by_identity(ch, uid)
    return None


async def send_test(runtime, campaign: Campaign, ref: str) -> dict:
    """Send the campaign to one staff contact (tag ``staff``), outside any delivery bookkeeping."""
    install(runtime)
    contact = await find_contact(runtime, ref)
    if contact is None:
        raise LookupError(f"no contact {ref!r} (use channel:user_id or a contact id)")
    if "staff" not in (contact.get("tags") or []):
        raise NotStaff(f"contact {ref!r} is not tagged 'staff': test sends go to staff only")
    text, errs, _lang, _variant = try_render(campaign, contact, contact["channel"])
    if text is None or errs:
        raise ValueError("; ".join(errs))
    wa = render_wa_template(campaign, contact) if contact["channel"] == "whatsapp" else None
    msg = OutboundMessage(identity=Identity(contact["channel"], contact["user_id"]), text=text, kind="campaign",
                          template=f"outreach/{campaign.name}", contact_id=contact["_id"], priority=0,
                          campaign=f"test:{campaign.name}")
    doc = runtime.stores.messages.outbound_doc(msg)
    doc["staff_test"] = True
    if wa:
        doc["wa_template"] = wa
    await runtime.stores.messages.insert_outbound([doc])
    w = runtime.outbox.workers.get(contact["channel"])
    if w:
        w.push(0, doc["_id"], doc["user_id"])
    return {"message_id": str(doc["_id"]), "channel": contact["channel"], "text": text,
            "sender": bool(w)}

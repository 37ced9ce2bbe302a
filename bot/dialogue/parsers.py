"""Slot parsers: turn one inbound message into slot values for the step being asked.

Each parser is ``async def (dlg, turn, step, text) -> Parsed`` (``dlg``: ``registry.DialogueAPI``). ``text`` is the message text (or the
remainder of a correction). Parsers never send; they return values, an error to show, or a question.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bot import agencies
from bot.dialogue.flows import Step
from bot.dialogue.registry import DialogueAPI
from bot.dialogue.turn import Reply, Turn


@dataclass
class Parsed:
    fills: dict = field(default_factory=dict)
    error: str | None = None            # template to show before asking the step again
    question: Reply | None = None       # ask this instead (the step stays open)
    pending: dict | None = None         # state the next message answers (e.g. ambiguous region)
    stay: bool = False                  # keep asking this step (e.g. more attachments)


def region_dict(r) -> dict:
    return {"code": r.code, "name": r.name, "kind": r.kind, "province_code": r.province_code,
            "province_name": r.province_name}


def _regions():
    from bot.nlu import regions  # imported lazily: the region table is large
    return regions


def region_question(candidates, location_text: str | None = None) -> tuple[Reply, dict]:
    opts = [region_dict(r) for r in candidates[:9]]
    from bot.nlu.districts import find as find_district  # "Kecamatan X di A atau B?"

    hit = find_district(location_text) if location_text else None
    district = hit[0] if hit and set(hit[1]) == {o["code"] for o in opts} else None
    reply = Reply("filing/ask_region_choice", {"location": location_text, "options": opts, "district": district},
                  [(f"region:{o['code']}", o["name"]) for o in opts])
    return reply, {"kind": "region_choice", "options": opts}


def payload_value(turn: Turn, prefix: str) -> str | None:
    p = turn.msg.payload or ""
    return p[len(prefix):] if p.startswith(prefix) else None


async def choice(dlg: DialogueAPI, turn: Turn, step: Step, text: str) -> Parsed:
    value = payload_value(turn, "choice:") or dlg.kw.choice(text, step.choices)
    if value not in step.choices:
        return Parsed(error="errors/pick_a_choice")
    return Parsed(fills={step.slot: value})


async def consent_yes(dlg: DialogueAPI, turn: Turn, step: Step, text: str) -> Parsed:
    value = payload_value(turn, "choice:") or ("ya" if dlg.kw.is_yes(text) else "tidak" if dlg.kw.is_no(text) else None)
    if value is None:
        return Parsed(error="errors/pick_a_choice")
    if value != "ya":
        return Parsed(question=Reply("volunteer/consent_required"), fills={"_abort": True})
    return Parsed(fills={step.slot: True})


async def person_name(dlg: DialogueAPI, turn: Turn, step: Step, text: str) -> Parsed:
    name = " ".join(text.split())
    if len(name) < 2 or len(name) > 80 or any(ch.isdigit() for ch in name):
        return Parsed(error="volunteer/bad_name")
    return Parsed(fills={step.slot: name})


async def phone(dlg: DialogueAPI, turn: Turn, step: Step, text: str) -> Parsed:
    from bot.phones import normalize_phone

    number = normalize_phone(text) or (normalize_phone(turn.msg.contact.phone) if turn.msg.contact else None)
    if not number:
        return Parsed(error="volunteer/bad_phone")
    return Parsed(fills={step.slot: number})


async def fill_from_understanding(dlg: DialogueAPI, turn: Turn, slots: dict, text: str) -> dict:
    """Everything one free-text message tells us: category, place, region, date, type."""
    it = await turn.understand()
    fills: dict = {}
    if it.category and "category" not in slots:
        if it.category_confidence >= dlg.category_threshold:
            fills["category"] = it.category
        else:
            fills["category_guess"] = it.category
    if "location" not in slots and (it.locations or it.region):
        fills["location"] = {"text": it.locations[0] if it.locations else it.region.name}
    if "region" not in slots:
        if it.region is not None:
            fills["region"] = region_dict(it.region)
        elif len(it.region_candidates) > 1:
            fills["region_candidates"] = [region_dict(r) for r in it.region_candidates[:9]]
    if "incident_date" not in slots and it.incident_date:
        fills["incident_date"] = it.incident_date.isoformat()
    if "type" not in slots:
        rtype = dlg.kw.report_type(text)
        if rtype is None and it.category and it.category != "lainnya":
            rtype = "pengaduan"
        if rtype:
            fills["type"] = rtype
    return fills


async def description(dlg: DialogueAPI, turn: Turn, step: Step, text: str) -> Parsed:
    words = text.split()
    if len(words) < 4 or len(text) < 15:
        return Parsed(error="filing/description_too_short")
    fills = {step.slot: text}
    fills.update(await fill_from_understanding(dlg, turn, {**turn.slots, step.slot: text}, text))
    return Parsed(fills=fills)


async def location(dlg: DialogueAPI, turn: Turn, step: Step, text: str) -> Parsed:
    loc = turn.msg.location
    if loc is not None:
        label = loc.name or loc.address or f"{loc.latitude:.5f}, {loc.longitude:.5f}"
        fills: dict = {step.slot: {"text": label, "lat": loc.latitude, "lon": loc.longitude}}
        found = _regions().resolve(" ".join(filter(None, [loc.name, loc.address])))
        if len(found) == 1:
            fills["region"] = region_dict(found[0])
        return Parsed(fills=fills)
    if len(text) < 3:
        return Parsed(error="filing/location_too_short")
    fills = {step.slot: {"text": text}}
    found = _regions().resolve(text)
    if len(found) == 1:
        fills["region"] = region_dict(found[0])
    elif len(found) > 1:
        fills["region_candidates"] = [region_dict(r) for r in found[:9]]
    return Parsed(fills=fills)


async def region(dlg: DialogueAPI, turn: Turn, step: Step, text: str) -> Parsed:
    code = payload_value(turn, "region:")
    options = turn.slots.get("region_candidates") or []
    if code is None and text.strip().isdigit() and options:
        i = int(text.strip()) - 1
        code = options[i]["code"] if 0 <= i < len(options) else None
    if code:
        r = _regions().by_code(code)
        if r is None:
            return Parsed(error="filing/region_unknown")
        return Parsed(fills={step.slot: region_dict(r), "region_candidates": None})
    if not options or text:
        found = _regions().resolve(text) if text else []
        if len(found) == 1:
            return Parsed(fills={step.slot: region_dict(found[0]), "region_candidates": None})
        if len(found) > 1:
            q, _ = region_question(found, text)
            return Parsed(fills={"region_candidates": [region_dict(r) for r in found[:9]]}, question=q)
        if options:
            q, _ = region_question([_regions().by_code(o["code"]) for o in options])
            return Parsed(error="filing/region_unknown", question=q)
        return Parsed(error="filing/region_unknown")
    q, _ = region_question([_regions().by_code(o["code"]) for o in options])
    return Parsed(question=q)


async def date_parser(dlg: DialogueAPI, turn: Turn, step: Step, text: str) -> Parsed:
    from bot.nlu.dates import resolve_date

    if payload_value(turn, "choice:") == "lewati" or dlg.kw.is_skip(text):
        return Parsed(fills={step.slot: None})
    when, _surface = resolve_date(text)
    if when is None:
        return Parsed(error="filing/date_unknown")
    if when > date.today():
        return Parsed(error="filing/date_in_future")
    return Parsed(fills={step.slot: when.isoformat()})


CATEGORIES = ("infrastruktur", "kesehatan", "pendidikan", "kependudukan", "perizinan", "lingkungan",
              "ketertiban_umum", "perlindungan_konsumen", "ketenagakerjaan", "perhubungan", "bantuan_sosial",
              "listrik_air", "pertanahan", "lainnya")


def category_options(guess: str | None) -> list[str]:
    opts = [guess] if guess else []
    opts += [c for c in CATEGORIES if c not in opts]
    return opts


async def category(dlg: DialogueAPI, turn: Turn, step: Step, text: str) -> Parsed:
    options = category_options(turn.slots.get("category_guess"))
    value = payload_value(turn, "choice:") or dlg.kw.choice(text, options)
    if value is None:
        for c in options:  # label typed out ("Kesehatan")
            if dlg.kw.choice(text, [c]) or text.strip().lower() == turn.label(f"category.{c}").lower():
                value = c
    if value is None and len(text.split()) >= 2:
        it = await turn.understand()
        if it.category and it.category_confidence >= 0.4:
            value = it.category
    if value not in CATEGORIES:
        return Parsed(error="errors/pick_a_choice")
    return Parsed(fills={step.slot: value})


async def agency(dlg: DialogueAPI, turn: Turn, step: Step, text: str) -> Parsed:
    value = payload_value(turn, "agency:")
    if value == "auto" or (value is None and dlg.kw.is_skip(text)):
        return Parsed(fills={step.slot: None})
    if value is None and dlg.kw.is_yes_phrase(text):  # "yes that's fine"
        value = (turn.slots.get("agency_suggestion") or {}).get("code")
        if value is None:
            return Parsed(fills={step.slot: None})  # yes to "let staff decide"
    if value is None and text.strip().isdigit():
        opts = turn.slots.get("agency_options") or []
        i = int(text.strip()) - 1
        value = opts[i]["code"] if 0 <= i < len(opts) else None
    if value is None and text:
        found = agencies.search(text)
        if len(found) == 1:
            value = found[0]["code"]
        elif found:
            opts = found[:9]
            return Parsed(fills={"agency_options": opts},
                          question=Reply("filing/ask_agency_pick", {"options": opts},
                                         [(f"agency:{a['code']}", a["name"]) for a in opts]))
    a = agencies.get(value) if value else None
    if a is None:
        return Parsed(error="filing/agency_unknown")
    return Parsed(fills={step.slot: {"code": a["code"], "name": a["name"]}, "agency_options": None})


async def attachments(dlg: DialogueAPI, turn: Turn, step: Step, text: str) -> Parsed:
    got = list(turn.slots.get("attachments_pending") or [])
    media = [m for m in turn.msg.media if m.kind in ("photo", "document", "video", "audio")]
    if media:
        for m in media:
            got.append({"kind": m.kind, "mime_type": m.mime_type, "filename": m.filename, "size": m.size,
                        "gridfs_id": m.gridfs_id, "ref": m.ref})
        limit = dlg.max_attachments
        if len(got) > limit:
            got = got[:limit]
            return Parsed(fills={step.slot: got, "attachments_pending": None}, error="filing/attachments_full")
        return Parsed(fills={"attachments_pending": got},
                      question=Reply("filing/attachment_received", {"count": len(got)}, [("choice:lewati", "choice.selesai")]),
                      stay=True)
    if payload_value(turn, "choice:") == "lewati" or dlg.kw.is_skip(text) or dlg.kw.is_no(text):
        return Parsed(fills={step.slot: got, "attachments_pending": None})
    return Parsed(error="filing/attachment_expected")


async def similar(dlg: DialogueAPI, turn: Turn, step: Step, text: str) -> Parsed:
    """Silent step: offer open reports like this one (same category and region) before filing."""
    from rapidfuzz import fuzz

    slots = turn.slots
    if not slots.get("category") or not slots.get("description"):
        return Parsed(fills={step.slot: True})
    region_code = (slots.get("region") or {}).get("code")
    cands = await turn.stores.reports.open_similar_candidates(slots["category"], region_code)
    scored = sorted(((fuzz.token_set_ratio(slots["description"].lower(), (c.get("description") or "").lower()), c)
                     for c in cands), key=lambda x: -x[0])
    matches = [c for score, c in scored if score >= dlg.similar_threshold][:3]
    if not matches:
        return Parsed(fills={step.slot: True})
    opts = [{"tracking_id": c["tracking_id"], "snippet": (c.get("description") or "")[:60]} for c in matches]
    choices = [(f"support:{o['tracking_id']}", o["tracking_id"]) for o in opts] + [("similar:new", "choice.lapor_baru")]
    return Parsed(question=Reply("filing/similar_found", {"options": opts}, choices),
                  pending={"kind": "similar", "options": [o["tracking_id"] for o in opts]})


async def summary(dlg: DialogueAPI, turn: Turn, step: Step, text: str) -> Parsed:
    p = turn.msg.payload or ""
    if p == "confirm" or dlg.kw.is_yes_phrase(text) or dlg.kw.is_send(text):  # "kirim dong", "yes send"
        return Parsed(fills={step.slot: True})
    target = p[len("edit:"):] if p.startswith("edit:") else None
    if target is None:
        hit = dlg.kw.correction("ubah " + text) if text else None
        target = hit[0] if hit else None
    if target:
        return Parsed(fills={"_edit": target})
    return Parsed(error="filing/summary_pick")


PARSERS = {
    "choice": choice, "consent_yes": consent_yes, "person_name": person_name, "phone": phone,
    "description": description, "location": location, "region": region, "date": date_parser,
    "category": category, "agency": agency, "attachments": attachments, "similar": similar,
    "summary": summary,
}

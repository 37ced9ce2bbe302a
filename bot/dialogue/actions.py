"""Named actions: what happens outside slot filling (idle routing, commands, buttons, submitting)."""
from __future__ import annotations

from datetime import timedelta

from bot import agencies, reports as domain
from bot.dialogue import held_signup
from bot.dialogue.parsers import fill_from_understanding, region_dict
from bot.dialogue.turn import Turn
from bot.messages import utcnow
from bot.privacy import chat as privacy_chat
from bot.tracking import find_in_text

MENU = [("flow:filing", "menu.lapor"), ("menu:status", "menu.status"), ("menu:my_reports", "menu.my_reports"),
        ("cmd:help", "menu.bantuan")]


# ------------------------------------------------------------------ consent and first contact
async def ask_consent(dlg, turn: Turn) -> None:
    st = turn.state
    if not held_signup.hold(dlg, turn) and (turn.text or turn.msg.payload):  # a sign-up code is kept apart
        st["held"] = {"text": turn.text, "payload": turn.msg.payload}
    st["pending"] = {"kind": "consent"}
    turn.say("welcome/first_contact", [("consent:ya", "choice.setuju"), ("consent:tidak", "choice.tidak_setuju")])


async def replay_held(dlg, turn: Turn) -> None:
    """After consent, act on the first message as if it had just arrived (one-message filing still works)."""
    held = turn.state.pop("held", None) or {}
    signed_up = await held_signup.apply(dlg, turn)  # a held deep link / DAFTAR CODE, applied once
    text, payload = held.get("text") or "", held.get("payload")
    if not text and not payload:
        if not signed_up:
            turn.say("welcome/menu", MENU)
        return
    turn.msg.text, turn.msg.payload = text, payload
    turn._interpretation = None
    if await dlg._global_payload(turn) or await dlg._global_command(turn):
        return
    await route_idle(dlg, turn)


# ------------------------------------------------------------------ idle routing
async def route_idle(dlg, turn: Turn) -> None:
    text = turn.text
    if turn.msg.start_param:
        await start_param(dlg, turn, turn.msg.start_param)
        return
    if turn.msg.media and not text:
        turn.say("filing/media_without_report", MENU)
        return
    if turn.msg.kind in ("reaction", "sticker", "unsupported") and not text:
        turn.say("errors/unsupported", MENU)
        return
    tid, err = find_in_text(text)
    if tid or err:
        await show_status(dlg, turn, tid, err)
        return
    rest = dlg.kw.starts_with_command(text, "status")
    if rest is not None:
        await show_status(dlg, turn, None, "format")
        return
    code = _volunteer_code(dlg, text)
    if code:
        await join_volunteer(dlg, turn, code)
        return
    for name in ("subscribe", "unsubscribe"):
        rest = dlg.kw.starts_with_command(text, name)
        if rest is not None:
            await COMMANDS[name](dlg, turn, rest)
            return
    if not text:
        turn.say("errors/empty", MENU)
        return
    if dlg.kw.is_yes(text) or dlg.kw.is_no(text):
        turn.say("welcome/menu", MENU)
        return
    it = await turn.understand()
    intent = it.intent
    if intent is None and len(text.split()) >= 6:
        intent = "lapor"  # understanding is down or unsure: a long message is most likely a report
    if intent == "lapor":
        await start_filing(dlg, turn, prefill_text=text if _describes_problem(it, text) else None)
    elif intent == "cek_status":
        await ask_tracking_id(dlg, turn)
    elif intent == "luar_lingkup":
        turn.say("scope/out_of_scope", [("flow:filing", "choice.lapor_layanan"), ("cmd:help", "menu.bantuan")])
    elif intent == "relawan":
        await volunteer_entry(dlg, turn)
    elif intent == "berhenti":
        await COMMANDS["unsubscribe"](dlg, turn)
    elif intent == "terima_kasih":
        turn.say("smalltalk/thanks")
    elif intent == "bantuan":
        await cmd_help(dlg, turn)
    elif intent == "batal":
        turn.say("smalltalk/nothing_to_cancel", MENU)
    elif intent == "sapa":
        turn.say("welcome/menu", MENU)
    elif it.source == "degraded":
        turn.say("errors/nlu_down", MENU)
    else:
        turn.say("errors/not_understood", MENU)


def _describes_problem(it, text: str) -> bool:
    return len(text.split()) >= 4 and (it.category is not None or bool(it.locations) or len(text.split()) >= 7)


def _volunteer_code(dlg, text: str) -> str | None:
    words = text.strip().split()
    if len(words) == 2 and words[0].lower() in ("relawan", "volunteer", "kawan"):
        return words[1]
    return None


async def start_filing(dlg, turn: Turn, prefill_text: str | None = None, *, volunteer: bool = False) -> None:
    if not (turn.contact.get("consent") or {}).get("given"):
        await ask_consent(dlg, turn)  # declined earlier: filing needs consent, ask again (message kept)
        return
    limit = turn.engine.settings.lapor_max_reports_per_day
    since = utcnow() - timedelta(days=1)
    if await turn.engine.stores.reports.count_since(turn.contact["_id"], since) >= limit:
        turn.say("limits/reports_per_day", limit=limit)
        return
    slots: dict = {}
    if volunteer:
        slots["volunteer_mode"] = True
    if prefill_text:
        slots["description"] = prefill_text
        slots.update(await fill_from_understanding(dlg, turn, slots, prefill_text))
    dlg.start_flow(turn, "filing", slots)
    if prefill_text:
        turn.say("filing/understood", slots=turn.slots)
    await dlg.ask_next(turn, dlg.flows["filing"])


async def start_param(dlg, turn: Turn, param: str) -> None:
    """Deep link ``/start CODE``: a volunteer invite (``relawan-CODE``) or a campaign/venue code."""
    if param.lower().startswith("relawan"):
        await join_volunteer(dlg, turn, param.split("-", 1)[-1] if "-" in param else "")
        return
    await COMMANDS["subscribe"](dlg, turn, param)


# ------------------------------------------------------------------ step helpers
def step_choices(dlg, turn: Turn, step) -> list[tuple[str, str]]:
    slots = turn.slots
    if step.slot == "category":
        from bot.dialogue.parsers import category_options

        return [(f"choice:{c}", f"category.{c}") for c in category_options(slots.get("category_guess"))[:10]]
    if step.slot == "agency":
        sug = slots.get("agency_suggestion")
        ch = [(f"agency:{sug['code']}", sug["name"])] if sug else []
        return ch + [("agency:auto", "choice.agency_auto")]
    if step.slot == "confirmed":
        return [("confirm", "choice.kirim"), ("edit:description", "edit.description"),
                ("edit:location", "edit.location"), ("edit:privacy", "edit.privacy")]
    return [(f"choice:{c}", f"choice.{c}") for c in step.choices]


def step_context(dlg, turn: Turn, step) -> dict:
    slots = turn.slots
    ctx: dict = {}
    if step.slot == "agency":
        region = slots.get("region")
        from bot.nlu import regions as R

        sug = agencies.suggest(slots.get("category"), R.by_code(region["code"]) if region else None,
                               text=slots.get("description"))
        slots["agency_suggestion"] = sug
        ctx["suggestion"] = sug
    if step.slot == "confirmed":
        ctx["summary"] = summary_view(slots)
    return ctx


def summary_view(slots: dict) -> dict:
    return {"type": slots.get("type"), "description": slots.get("description"),
            "location": (slots.get("location") or {}).get("text"), "region": (slots.get("region") or {}).get("name"),
            "incident_date": slots.get("incident_date"), "category": slots.get("category"),
            "agency": (slots.get("agency") or {}).get("name"), "attachments": len(slots.get("attachments") or []),
            "privacy": slots.get("privacy"), "on_behalf_name": slots.get("on_behalf_name")}


# ------------------------------------------------------------------ submit
async def submit_report(dlg, turn: Turn) -> None:
    s = turn.slots
    eng = turn.engine
    volunteer = bool(s.get("volunteer_mode"))
    fields = {
        "draft_id": turn.state.get("draft_id"), "type": s.get("type") or "pengaduan",
        "category": s.get("category") or "lainnya", "description": s.get("description"),
        "location": {**(s.get("location") or {}), "region_code": (s.get("region") or {}).get("code"),
                     "region_name": (s.get("region") or {}).get("name"),
                     "province_code": (s.get("region") or {}).get("province_code"),
                     "province_name": (s.get("region") or {}).get("province_name")},
        "incident_date": s.get("incident_date"), "privacy": s.get("privacy") or "rahasia",
        "agency_suggested": (s.get("agency") or {}).get("code"), "agency": None,
        "attachments": s.get("attachments") or [], "channel": turn.msg.identity.channel,
        "language": turn.lang,
    }
    if volunteer:
        fields.update(volunteer_id=turn.contact["_id"], contact_id=None,
                      on_behalf={"name": s.get("on_behalf_name"), "phone": s.get("on_behalf_phone"),
                                 "consent": bool(s.get("on_behalf_consent"))})
    else:
        fields.update(contact_id=turn.contact["_id"], reporter_name=turn.contact.get("name"))
    sla = eng.services.get("sla")
    if sla:
        fields.update(sla.initial_deadlines(utcnow()))
    report = await eng.stores.reports.create(fields)
    dlg.end_flow(turn)
    turn.say("filing/receipt", [("status:" + report["tracking_id"], "choice.cek_status")],
             tracking_id=report["tracking_id"], report=report, volunteer=volunteer)
    hook = eng.services.get("on_report_filed")
    if hook:
        await hook(report, turn)


# ------------------------------------------------------------------ tracking
NEXT_STEP = {"diterima": "next.diterima", "terverifikasi": "next.terverifikasi", "diteruskan": "next.diteruskan",
             "ditanggapi": "next.ditanggapi", "selesai": "next.selesai", "diarsipkan": "next.diarsipkan"}


def is_party(report: dict, contact_id) -> bool:
    return contact_id is not None and (report.get("contact_id") == contact_id or report.get("volunteer_id") == contact_id
                                       or contact_id in (report.get("supporters") or []))


async def show_status(dlg, turn: Turn, tracking_id: str | None, error: str | None = None) -> None:
    if error == "checksum":
        turn.say("tracking/mistyped")
        return
    if tracking_id is None:
        await ask_tracking_id(dlg, turn)
        return
    report = await turn.engine.stores.reports.get(tracking_id)
    if report is None:
        turn.say("tracking/unknown", tracking_id=tracking_id)
        return
    own = is_party(report, turn.contact["_id"])
    last = report["history"][-1]
    view = {"tracking_id": tracking_id, "status": report["status"], "updated_at": last["at"],
            "next": NEXT_STEP.get(report["status"])}
    choices = []
    if own:
        view.update(description=report.get("description"), category=report.get("category"),
                    agency=report.get("agency"), answer=_latest_answer(report))
        if domain.is_open(report["status"]):
            choices.append((f"addinfo:{tracking_id}", "choice.tambah_info"))
    turn.say("tracking/status", choices, view=view, own=own)


def _latest_answer(report: dict) -> str | None:
    for h in reversed(report.get("history") or []):
        if h["to"] == "ditanggapi" and h.get("note"):
            return h["note"]
    return None


async def ask_tracking_id(dlg, turn: Turn) -> None:
    turn.state["pending"] = {"kind": "tracking_id"}
    turn.say("tracking/ask_id")


async def my_reports(dlg, turn: Turn) -> None:
    rows = await turn.engine.stores.reports.by_contact(turn.contact["_id"], limit=5)
    if not rows:
        turn.say("tracking/no_reports", [("flow:filing", "menu.lapor")])
        return
    items = [{"tracking_id": r["tracking_id"], "status": r["status"], "category": r.get("category"),
              "created_at": r["created_at"]} for r in rows]
    turn.say("tracking/my_reports", [(f"status:{i['tracking_id']}", i["tracking_id"]) for i in items], items=items)


# ------------------------------------------------------------------ volunteers
async def volunteer_entry(dlg, turn: Turn) -> None:
    if await turn.engine.stores.volunteers.is_volunteer(turn.contact["_id"]):
        await start_filing(dlg, turn, volunteer=True)
    else:
        turn.state["pending"] = {"kind": "volunteer_code"}
        turn.say("volunteer/ask_code")


async def join_volunteer(dlg, turn: Turn, code: str) -> None:
    result = await turn.engine.stores.volunteers.redeem(code, turn.contact["_id"])
    if result == "invalid":
        turn.say("volunteer/invalid_code")
        return
    turn.set_contact(role="volunteer")
    turn.say("volunteer/joined" if result == "joined" else "volunteer/already",
             [("flow:behalf", "choice.lapor_untuk_orang_lain"), ("menu:volunteer_stats", "choice.statistik_relawan")])


async def volunteer_stats(dlg, turn: Turn, _arg: str = "") -> None:
    col = turn.engine.stores.reports.col
    cid = turn.contact["_id"]
    total = await col.count_documents({"volunteer_id": cid})
    settled = await col.count_documents({"volunteer_id": cid, "status": "selesai"})
    rows = await col.find({"volunteer_id": cid}).sort("created_at", -1).limit(5).to_list(5)
    items = [{"tracking_id": r["tracking_id"], "status": r["status"]} for r in rows]
    turn.say("volunteer/stats", [(f"status:{i['tracking_id']}", i["tracking_id"]) for i in items],
             total=total, settled=settled, items=items)


# ------------------------------------------------------------------ commands
async def cmd_help(dlg, turn: Turn, *_):
    turn.say("help/help", MENU)
    if turn.state.get("flow") and turn.state.get("step"):
        dlg.ask(turn, dlg.flows[turn.state["flow"]].step(turn.state["step"]))


async def cmd_cancel(dlg, turn: Turn, *_):
    if not turn.state.get("flow"):
        turn.say("smalltalk/nothing_to_cancel", MENU)
        return
    turn.state["pending"] = {"kind": "confirm_cancel"}
    turn.say("filing/confirm_cancel", [("choice:ya", "choice.ya_batalkan"), ("choice:tidak", "choice.lanjutkan")])


async def cmd_back(dlg, turn: Turn, *_):
    st = turn.state
    if not st.get("flow"):
        turn.say("welcome/menu", MENU)
        return
    back = st.get("back") or []
    if back:
        dlg.clear_slot(turn, back.pop())
    await dlg.ask_next(turn, dlg.flows[st["flow"]])


async def cmd_restart(dlg, turn: Turn, *_):
    volunteer = bool(turn.slots.get("volunteer_mode"))
    dlg.end_flow(turn)
    await start_filing(dlg, turn, volunteer=volunteer)


async def cmd_human(dlg, turn: Turn, *_):
    await turn.engine.stores.handoffs.open(turn.contact["_id"], None)
    turn.state["pending"] = {"kind": "human_note"}
    turn.say("human/requested")


async def _switch_language(dlg, turn: Turn, lang: str):
    turn.set_contact(language=lang)
    turn.say("language/switched")
    st = turn.state
    if st.get("flow") and st.get("step"):
        dlg.ask(turn, dlg.flows[st["flow"]].step(st["step"]))


async def cmd_lang_en(dlg, turn, *_):
    await _switch_language(dlg, turn, "en")


async def cmd_lang_id(dlg, turn, *_):
    await _switch_language(dlg, turn, "id")


async def cmd_status(dlg, turn, *_):
    await ask_tracking_id(dlg, turn)


async def cmd_new_report(dlg, turn, *_):
    await start_filing(dlg, turn)


async def cmd_my_reports(dlg, turn, *_):
    await my_reports(dlg, turn)


async def cmd_subscribe(dlg, turn, code: str = ""):
    from outreach.subscriptions import subscribe

    await subscribe(dlg, turn, (code or "").strip() or None)


async def cmd_unsubscribe(dlg, turn, *_):
    from outreach.subscriptions import ask_unsubscribe

    await ask_unsubscribe(dlg, turn)


COMMANDS = {
    "help": cmd_help, "cancel": cmd_cancel, "back": cmd_back, "restart": cmd_restart, "human": cmd_human,
    "lang_en": cmd_lang_en, "lang_id": cmd_lang_id, "status": cmd_status, "new_report": cmd_new_report,
    "my_reports": cmd_my_reports, "subscribe": cmd_subscribe, "unsubscribe": cmd_unsubscribe,
    **privacy_chat.COMMANDS,  # "data saya", "hapus data saya" (bot/privacy/chat.py)
}


# ------------------------------------------------------------------ buttons usable from anywhere
async def pay_flow(dlg, turn, arg):
    if turn.state.get("flow"):
        dlg.end_flow(turn)
    if arg == "behalf":
        await volunteer_entry(dlg, turn)
    else:
        await start_filing(dlg, turn)


async def pay_menu(dlg, turn, arg):
    if arg == "status":
        await ask_tracking_id(dlg, turn)
    elif arg == "my_reports":
        await my_reports(dlg, turn)
    elif arg == "volunteer_stats":
        await volunteer_stats(dlg, turn)
    else:
        turn.say("welcome/menu", MENU)


async def pay_cmd(dlg, turn, arg):
    handler = COMMANDS.get(arg)
    if handler:
        await handler(dlg, turn)


async def pay_status(dlg, turn, arg):
    tid, err = find_in_text(arg)
    await show_status(dlg, turn, tid, err or (None if tid else "format"))


async def pay_addinfo(dlg, turn, arg):
    report = await turn.engine.stores.reports.get(arg)
    if report is None or not is_party(report, turn.contact["_id"]) or not domain.is_open(report["status"]):
        turn.say("tracking/cannot_add")
        return
    turn.state["pending"] = {"kind": "add_info", "tracking_id": arg}
    turn.say("followup/ask_info", tracking_id=arg)


async def pay_rate(dlg, turn, arg):
    from bot.dialogue.pending import start_rating

    tid, _, score = arg.partition(":")
    await start_rating(dlg, turn, tid, score)


async def pay_support(dlg, turn, arg):
    from bot.dialogue.pending import support_report

    await support_report(dlg, turn, arg)


PAYLOAD_ACTIONS = {"flow": pay_flow, "menu": pay_menu, "cmd": pay_cmd, "status": pay_status,
                   "addinfo": pay_addinfo, "rate": pay_rate, "support": pay_support}
ACTIONS = {"submit_report": submit_report}


async def offer_resume(dlg, turn: Turn) -> None:
    turn.state["pending"] = {"kind": "resume", "held": {"text": turn.text, "payload": turn.msg.payload}}
    turn.say("filing/resume_offer", [("resume:lanjut", "choice.lanjutkan"), ("resume:buang", "choice.buang_draf")],
             summary=summary_view(turn.slots))

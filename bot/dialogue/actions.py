"""Core actions: consent, idle routing, filing, tracking, volunteers and the global commands.

Every handler is ``async (dlg, turn, …)`` where ``dlg`` is the typed :class:`DialogueAPI`; ``register`` puts
them in the dialogue's :class:`Registry`. Idle routing is two tables: ``IDLE_RULES`` (what a message says
without NLU, in order) and the registry's intents (what the NLU says it means).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Awaitable, Callable

from bot import agencies, reports as domain
from bot.dialogue import access, behalf, held_signup, safety
from bot.dialogue.lookups import lookup_allowed
from bot.dialogue.parsers import category_options, fill_from_understanding, region_dict
from bot.dialogue.registry import DialogueAPI, Registry
from bot.dialogue.turn import Turn
from bot.filing import file_report
from bot.messages import utcnow
from bot.tracking import find_in_text

MENU = [("flow:filing", "menu.lapor"), ("menu:status", "menu.status"), ("menu:my_reports", "menu.my_reports"),
        ("cmd:help", "menu.bantuan")]


# ------------------------------------------------------------------ consent and first contact
async def ask_consent(dlg: DialogueAPI, turn: Turn) -> None:
    st = turn.state
    if not held_signup.hold(dlg, turn) and (turn.text or turn.msg.payload):  # a sign-up code is kept apart
        st["held"] = {"text": turn.text, "payload": turn.msg.payload}
    st["pending"] = {"kind": "consent"}
    turn.say("welcome/first_contact", [("consent:ya", "choice.setuju"), ("consent:tidak", "choice.tidak_setuju")])


async def replay_held(dlg: DialogueAPI, turn: Turn) -> None:
    """After consent, act on the first message as if it had just arrived (one-message filing still works)."""
    held = turn.state.pop("held", None) or {}
    signed_up = await held_signup.apply(dlg, turn)  # a held deep link / DAFTAR CODE, applied once
    text, payload = held.get("text") or "", held.get("payload")
    if not text and not payload:
        if not signed_up:
            turn.say("welcome/menu", MENU)
        return
    turn.replace_message(text, payload)
    if await dlg.dispatch_global(turn):
        return
    await dlg.route_idle(turn)


# ------------------------------------------------------------------ idle routing
IdleRule = Callable[[DialogueAPI, Turn], Awaitable[bool]]


async def _deep_link(dlg: DialogueAPI, turn: Turn) -> bool:
    param = turn.msg.start_param
    if not param:
        return False
    link = dlg.registry.deep_link_for(param)
    if link is None:
        turn.say("welcome/menu", MENU)
    else:
        await link.handler(dlg, turn, param)
    return True


async def _media_only(dlg: DialogueAPI, turn: Turn) -> bool:
    if turn.msg.media and not turn.text:
        turn.say("filing/media_without_report", MENU)
        return True
    return False


async def _unsupported(dlg: DialogueAPI, turn: Turn) -> bool:
    if turn.msg.kind in ("reaction", "sticker", "unsupported") and not turn.text:
        turn.say("errors/unsupported", MENU)
        return True
    return False


async def _typed_tracking_id(dlg: DialogueAPI, turn: Turn) -> bool:
    tid, err = find_in_text(turn.text)
    if tid or err:
        await show_status(dlg, turn, tid, err, typed=True)
        return True
    return False


async def _status_word_without_id(dlg: DialogueAPI, turn: Turn) -> bool:
    if dlg.kw.starts_with_command(turn.text, "status") is not None:
        await show_status(dlg, turn, None, "format")
        return True
    return False


async def _volunteer_code(dlg: DialogueAPI, turn: Turn) -> bool:
    words = turn.text.split()
    if len(words) == 2 and words[0].lower() in ("relawan", "volunteer", "kawan"):
        await join_volunteer(dlg, turn, words[1])
        return True
    return False


async def _command_with_argument(dlg: DialogueAPI, turn: Turn) -> bool:
    """"DAFTAR KAMPUS-UI": a registered command word followed by its argument."""
    for name, cmd in dlg.registry.commands.items():
        if cmd.with_argument:
            rest = dlg.kw.starts_with_command(turn.text, name)
            if rest is not None:
                await cmd.handler(dlg, turn, rest)
                return True
    return False


async def _empty(dlg: DialogueAPI, turn: Turn) -> bool:
    if not turn.text:
        turn.say("errors/empty", MENU)
        return True
    return False


async def _bare_yes_no(dlg: DialogueAPI, turn: Turn) -> bool:
    if dlg.kw.is_yes(turn.text) or dlg.kw.is_no(turn.text):
        turn.say("welcome/menu", MENU)
        return True
    return False


IDLE_RULES: list[IdleRule] = [_deep_link, _media_only, _unsupported, _typed_tracking_id, _status_word_without_id,
                              _volunteer_code, _command_with_argument, _empty, _bare_yes_no]


async def route_idle(dlg: DialogueAPI, turn: Turn) -> None:
    """No flow, no pending question: the first matching rule, else what the NLU says the message means."""
    for rule in IDLE_RULES:
        if await rule(dlg, turn):
            return
    it = await turn.understand()
    reading = safety.idle_reading(turn, it)  # a command intent on a complaint is a complaint
    if reading == "pause":
        turn.say("smalltalk/nothing_to_cancel", MENU)
        return
    if reading == "complaint":
        await start_filing(dlg, turn, prefill_text=turn.text)
        return
    intent = it.intent
    if intent is None and len(turn.text.split()) >= 6:
        intent = "lapor"  # understanding is down or unsure: a long message is most likely a report
    handler = dlg.registry.intents.get(intent or "")
    if handler is not None:
        await handler(dlg, turn)
    elif it.source == "degraded":
        turn.say("errors/nlu_down", MENU)
    else:
        turn.say("errors/not_understood", MENU)


async def _intent_lapor(dlg: DialogueAPI, turn: Turn) -> None:
    it = await turn.understand()
    await start_filing(dlg, turn, prefill_text=turn.text if _describes_problem(it, turn.text) else None)


def _describes_problem(it, text: str) -> bool:
    return len(text.split()) >= 4 and (it.category is not None or bool(it.locations) or len(text.split()) >= 7)


def _say(template: str, choices=None):
    async def handler(dlg: DialogueAPI, turn: Turn) -> None:
        turn.say(template, choices)
    return handler


def _as_intent(fn: Callable[[DialogueAPI, Turn, str], Awaitable[None]]):
    async def handler(dlg: DialogueAPI, turn: Turn) -> None:
        await fn(dlg, turn, "")
    return handler


async def start_filing(dlg: DialogueAPI, turn: Turn, prefill_text: str | None = None, *,
                       volunteer: bool = False) -> None:
    if not (turn.contact.get("consent") or {}).get("given"):
        await ask_consent(dlg, turn)  # declined earlier: filing needs consent, ask again (message kept)
        return
    limit = turn.settings.lapor_max_reports_per_day
    since = utcnow() - timedelta(days=1)
    if await turn.stores.reports.count_since(turn.contact["_id"], since) >= limit:
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
    await dlg.ask_next(turn)


async def relawan_link(dlg: DialogueAPI, turn: Turn, param: str) -> None:
    """Deep link ``/start relawan-CODE``: a volunteer invite."""
    await join_volunteer(dlg, turn, param.split("-", 1)[-1] if "-" in param else "")


# ------------------------------------------------------------------ step helpers
def step_choices(turn: Turn, step) -> list[tuple[str, str]]:
    slots = turn.slots
    if step.slot == "category":
        return [(f"choice:{c}", f"category.{c}") for c in category_options(slots.get("category_guess"))[:10]]
    if step.slot == "agency":
        sug = slots.get("agency_suggestion")
        ch = [(f"agency:{sug['code']}", sug["name"])] if sug else []
        return ch + [("agency:auto", "choice.agency_auto")]
    if step.slot == "confirmed":
        return [("confirm", "choice.kirim"), ("edit:description", "edit.description"),
                ("edit:location", "edit.location"), ("edit:privacy", "edit.privacy")]
    return [(f"choice:{c}", f"choice.{c}") for c in step.choices]


def step_context(turn: Turn, step) -> dict:
    slots = turn.slots
    ctx: dict = {}
    if step.slot == "agency":
        region = slots.get("region")
        from bot.nlu import regions as R  # the region table is large: loaded on first use

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
async def submit_report(dlg: DialogueAPI, turn: Turn) -> None:
    s = turn.slots
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
    report = await file_report(turn.stores, turn.ports.lifecycle, fields)
    dlg.end_flow(turn)
    turn.say("filing/receipt", [("status:" + report["tracking_id"], "choice.cek_status")],
             tracking_id=report["tracking_id"], report=report, volunteer=volunteer)


# ------------------------------------------------------------------ tracking
NEXT_STEP = {"diterima": "next.diterima", "terverifikasi": "next.terverifikasi", "diteruskan": "next.diteruskan",
             "ditanggapi": "next.ditanggapi", "selesai": "next.selesai", "diarsipkan": "next.diarsipkan"}


async def show_status(dlg: DialogueAPI, turn: Turn, tracking_id: str | None, error: str | None = None, *,
                      typed: bool = False) -> None:
    """The status view; its text and answer only for those entitled (see ``access``).

    ``typed``: the ID was typed, not pressed: such lookups are limited per contact and per source address."""
    if error == "checksum":
        turn.say("tracking/mistyped")
        return
    if tracking_id is None:
        await ask_tracking_id(dlg, turn)
        return
    if typed and not await lookup_allowed(turn):
        turn.say("limits/lookups")
        return
    report = await turn.stores.reports.get(tracking_id)
    if report is None:
        turn.say("tracking/unknown", tracking_id=tracking_id)
        return
    role = access.role_in_turn(report, turn)
    last = report["history"][-1]
    view = {"tracking_id": tracking_id, "status": report["status"], "updated_at": last["at"],
            "next": NEXT_STEP.get(report["status"])}
    own = access.may_read_text(report, role)
    choices = []
    if own:
        view.update(description=report.get("description"), category=report.get("category"),
                    agency=report.get("agency"))
    if access.may_read_answer(report, role):
        view["answer"] = _latest_answer(report)
    if role in access.OWNERS and domain.is_open(report["status"]):
        choices.append((f"addinfo:{tracking_id}", "choice.tambah_info"))
    turn.say("tracking/status", choices, view=view, own=own)


def _latest_answer(report: dict) -> str | None:
    for h in reversed(report.get("history") or []):
        if h["to"] == "ditanggapi" and h.get("note"):
            return h["note"]
    return None


async def ask_tracking_id(dlg: DialogueAPI, turn: Turn, _arg: str = "") -> None:
    rows = await turn.stores.reports.by_contact(turn.contact["_id"], limit=2)
    if len(rows) == 1:  # exactly one report, so no need to ask which
        await show_status(dlg, turn, rows[0]["tracking_id"])
        return
    turn.state["pending"] = {"kind": "tracking_id"}
    turn.say("tracking/ask_id")


async def my_reports(dlg: DialogueAPI, turn: Turn, _arg: str = "") -> None:
    rows = await turn.stores.reports.by_contact(turn.contact["_id"], limit=5)
    rows += [r for r in await behalf.reports_for(turn) if r["_id"] not in {x["_id"] for x in rows}]
    if not rows:
        turn.say("tracking/no_reports", [("flow:filing", "menu.lapor")] + behalf.offer(turn))
        return
    items = [{"tracking_id": r["tracking_id"], "status": r["status"], "category": r.get("category"),
              "created_at": r["created_at"]} for r in rows]
    turn.say("tracking/my_reports", [(f"status:{i['tracking_id']}", i["tracking_id"]) for i in items]
             + behalf.offer(turn), items=items)


# ------------------------------------------------------------------ volunteers
async def volunteer_entry(dlg: DialogueAPI, turn: Turn, _arg: str = "") -> None:
    if await turn.stores.volunteers.is_volunteer(turn.contact["_id"]):
        await start_filing(dlg, turn, volunteer=True)
    else:
        turn.state["pending"] = {"kind": "volunteer_code"}
        turn.say("volunteer/ask_code")


async def join_volunteer(dlg: DialogueAPI, turn: Turn, code: str) -> None:
    result = await turn.stores.volunteers.redeem(code, turn.contact["_id"])
    if result == "invalid":
        turn.say("volunteer/invalid_code")
        return
    turn.set_contact(role="volunteer")
    turn.say("volunteer/joined" if result == "joined" else "volunteer/already",
             [("flow:behalf", "choice.lapor_untuk_orang_lain"), ("menu:volunteer_stats", "choice.statistik_relawan")])


async def volunteer_stats(dlg: DialogueAPI, turn: Turn, _arg: str = "") -> None:
    total, settled, rows = await turn.stores.reports.volunteer_summary(turn.contact["_id"], 5)
    items = [{"tracking_id": r["tracking_id"], "status": r["status"]} for r in rows]
    turn.say("volunteer/stats", [(f"status:{i['tracking_id']}", i["tracking_id"]) for i in items],
             total=total, settled=settled, items=items)


# ------------------------------------------------------------------ commands
async def cmd_help(dlg: DialogueAPI, turn: Turn, _arg: str = ""):
    turn.say("help/help", MENU)
    dlg.ask_current(turn)


async def cmd_cancel(dlg: DialogueAPI, turn: Turn, _arg: str = ""):
    if not turn.state.get("flow"):
        turn.say("smalltalk/nothing_to_cancel", MENU)
        return
    turn.state["pending"] = {"kind": "confirm_cancel"}
    turn.say("filing/confirm_cancel", [("choice:ya", "choice.ya_batalkan"), ("choice:tidak", "choice.lanjutkan")])


async def cmd_back(dlg: DialogueAPI, turn: Turn, _arg: str = ""):
    st = turn.state
    if not st.get("flow"):
        turn.say("welcome/menu", MENU)
        return
    back = st.get("back") or []
    if back:
        dlg.clear_slot(turn, back.pop())
    await dlg.ask_next(turn)


async def cmd_restart(dlg: DialogueAPI, turn: Turn, _arg: str = ""):
    volunteer = bool(turn.slots.get("volunteer_mode"))
    dlg.end_flow(turn)
    await start_filing(dlg, turn, volunteer=volunteer)


async def cmd_human(dlg: DialogueAPI, turn: Turn, _arg: str = ""):
    contact_id, handoffs = turn.contact["_id"], turn.stores.handoffs

    async def open_request() -> None:
        await handoffs.open(contact_id, None)

    turn.effect(open_request)
    turn.state["pending"] = {"kind": "human_note"}
    turn.say("human/requested")


def _switch_language(lang: str):
    async def handler(dlg: DialogueAPI, turn: Turn, _arg: str = "") -> None:
        turn.set_contact(language=lang)
        turn.say("language/switched")
        dlg.ask_current(turn)
    return handler


async def cmd_new_report(dlg: DialogueAPI, turn: Turn, _arg: str = ""):
    await start_filing(dlg, turn)


# ------------------------------------------------------------------ buttons usable from anywhere
async def pay_flow(dlg: DialogueAPI, turn: Turn, arg: str):
    if turn.state.get("flow"):
        dlg.end_flow(turn)
    if arg == "behalf":
        await volunteer_entry(dlg, turn)
    else:
        await start_filing(dlg, turn)


MENU_ITEMS = {"status": ask_tracking_id, "my_reports": my_reports, "volunteer_stats": volunteer_stats}


async def pay_menu(dlg: DialogueAPI, turn: Turn, arg: str):
    handler = MENU_ITEMS.get(arg)
    if handler is not None:
        await handler(dlg, turn)
    else:
        turn.say("welcome/menu", MENU)


async def pay_cmd(dlg: DialogueAPI, turn: Turn, arg: str):
    cmd = dlg.registry.commands.get(arg)
    if cmd is not None:
        await cmd.handler(dlg, turn, "")


async def pay_status(dlg: DialogueAPI, turn: Turn, arg: str):
    tid, err = find_in_text(arg)
    await show_status(dlg, turn, tid, err or (None if tid else "format"))


def register(reg: Registry) -> None:
    """The core's commands, buttons, intents, deep link and flow completion."""
    for name, handler in {"help": cmd_help, "cancel": cmd_cancel, "back": cmd_back, "restart": cmd_restart,
                          "human": cmd_human, "lang_en": _switch_language("en"),
                          "lang_id": _switch_language("id")}.items():
        reg.command(name, handler)
    reg.command("status", ask_tracking_id, idle_only=True)
    reg.command("new_report", cmd_new_report, idle_only=True)
    reg.command("my_reports", my_reports, idle_only=True)
    reg.payload("flow", pay_flow)
    reg.payload("menu", pay_menu)
    reg.payload("cmd", pay_cmd)
    reg.payload("status", pay_status, guard=access.REPORT)
    intents = {
        "lapor": _intent_lapor, "cek_status": _as_intent(ask_tracking_id),
        "luar_lingkup": _say("scope/out_of_scope", [("flow:filing", "choice.lapor_layanan"),
                                                    ("cmd:help", "menu.bantuan")]),
        "relawan": _as_intent(volunteer_entry), "terima_kasih": _say("smalltalk/thanks"),
        "bantuan": _as_intent(cmd_help), "batal": _say("smalltalk/nothing_to_cancel", MENU),
        "sapa": _say("welcome/menu", MENU),
    }
    for name, handler in intents.items():
        reg.intent(name, handler)
    reg.deep_link(relawan_link, prefix="relawan")
    reg.completion("submit_report", submit_report)


async def offer_resume(dlg: DialogueAPI, turn: Turn) -> None:
    turn.state["pending"] = {"kind": "resume", "held": {"text": turn.text, "payload": turn.msg.payload}}
    turn.say("filing/resume_offer", [("resume:lanjut", "choice.lanjutkan"), ("resume:buang", "choice.buang_draf")],
             summary=summary_view(turn.slots))

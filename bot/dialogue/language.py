"""The conversation's language follows the citizen (issue 14).

Every free-text message is checked (bot/nlu/language.py; too short or unsure: nothing changes):
- a new contact (consent not yet answered) whose message is English is answered in English from that
  message on, without asking;
- an existing contact who writes in the other language is offered the switch once per conversation
  (``language/offer``, buttons ``lang:en`` / ``lang:id``, or yes/no in either language). The message that
  prompted the offer is kept and handled right after the answer, in the language chosen. Any other reply
  drops the offer and is handled normally.
Exact keywords ("english", "bahasa indonesia") still switch at once (actions.cmd_lang_*).
"""
from __future__ import annotations

from bot.dialogue.turn import Turn
from bot.nlu.emergency import detect as emergency
from bot.nlu.language import detect


async def handle(dlg, turn: Turn) -> bool:
    """True when the turn was the offer itself (nothing else to do this turn)."""
    st = turn.state
    offer = st.pop("lang_offer", None)
    if offer:
        return _answer(dlg, turn, offer)
    if turn.msg.payload or not turn.text or dlg.kw.command(turn.text):
        return False
    lang = detect(turn.text)
    if lang is None or lang == turn.lang:
        return False
    if turn.contact.get("consent") is None:
        turn.set_contact(language=lang)  # a new contact: answer in their language from the first reply
        return False
    if st.get("lang_offered") == lang or emergency(turn.text):
        return False  # offered already; an emergency is answered first (bot/dialogue/emergency.py)
    st["lang_offered"] = lang
    st["lang_offer"] = {"lang": lang, "text": turn.text[:4000]}
    turn.say("language/offer", [(f"lang:{lang}", f"choice.bahasa_{lang}"),
                                (f"lang:{turn.lang}", f"choice.bahasa_{turn.lang}")], to=lang)
    return True


def _answer(dlg, turn: Turn, offer: dict) -> bool:
    p = turn.msg.payload or ""
    if p.startswith("lang:"):
        choice = p[len("lang:"):]
    elif dlg.kw.is_yes(turn.text):
        choice = offer["lang"]
    elif dlg.kw.is_no(turn.text):
        choice = turn.lang
    else:
        return False  # not an answer: handled as a new message
    if choice in ("id", "en") and choice != turn.lang:
        turn.set_contact(language=choice)
        turn.say("language/switched")
    # Handle the message that prompted the offer, now in the chosen language.
    turn.msg.text, turn.msg.payload, turn._interpretation = offer.get("text") or "", None, None
    return False

"""A sign-up code that arrives while the bot waits for another answer is kept until it can be applied.

A new contact's first message is often the sign-up itself: the Telegram deep link ``/start CODE`` (the text is
empty, the code is in ``start_param``), a WhatsApp click-to-chat ``DAFTAR CODE`` or an SMS keyword with a code.
Consent is asked first, so the message is held. The code is kept apart from the held text (``state["held_signup"]``)
so a second message before "Setuju" cannot overwrite it; after consent it is applied exactly once (subscribe is
idempotent for the same code), then the rest of the held message, if any, is replayed.
"""
from __future__ import annotations

from bot.dialogue.turn import Turn

KEY = "held_signup"


def signup_in(dlg, turn: Turn) -> dict | None:
    """The sign-up this message carries: ``{"start": param}`` (deep link) or ``{"code": code}`` (keyword)."""
    if turn.msg.start_param:
        return {"start": turn.msg.start_param}
    text = turn.text or ""
    if text and not turn.msg.payload:
        rest = dlg.kw.starts_with_command(text, "subscribe")
        if rest:
            return {"code": rest}
    return None


def hold(dlg, turn: Turn) -> bool:
    """Keep this message's sign-up code (newest wins); True when it carried one."""
    signup = signup_in(dlg, turn)
    if signup is None:
        return False
    turn.state[KEY] = signup
    return True


def subscribes(dlg, turn: Turn) -> bool:
    """Will applying the held sign-up subscribe (a code, not another feature's deep link)? Its reply then
    thanks the contact, so the consent step's own "thank you" is left out (one reply less per booth sign-up)."""
    signup = turn.state.get(KEY) or {}
    if signup.get("code") is not None:
        return "subscribe" in dlg.registry.commands
    link = dlg.registry.deep_link_for(signup["start"]) if signup.get("start") else None
    return link is not None and link.prefix is None


async def _deep_link(dlg, turn: Turn, param: str) -> None:
    link = dlg.registry.deep_link_for(param)  # outreach's code, or a volunteer's relawan- link
    if link is not None:
        await link.handler(dlg, turn, param)


async def apply(dlg, turn: Turn) -> bool:
    """Apply a held sign-up once (the key is cleared first); True when one was applied."""
    signup = turn.state.get(KEY)
    if not signup:
        return False
    turn.state[KEY] = None  # not popped: saving $sets the state's keys, a popped one would stay stored
    if signup.get("start"):
        turn.msg.start_param = signup["start"]  # the subscription records source "deep_link"
        await _deep_link(dlg, turn, signup["start"])
        turn.msg.start_param = None
    else:
        cmd = dlg.registry.commands.get("subscribe")  # registered by outreach
        if cmd is not None:
            await cmd.handler(dlg, turn, signup.get("code") or "")
    return True


async def apply_now(dlg, turn: Turn) -> bool:
    """A deep link that arrives while another question is open (a draft, a rating…) is applied at once and the
    question stays open; before consent it is held instead (the consent answer handles it)."""
    st = turn.state
    if (st.get("pending") or {}).get("kind") == "consent":
        return False
    if not st.get("pending") and not st.get("flow"):
        return False  # nothing open: the usual idle routing handles the deep link
    await _deep_link(dlg, turn, turn.msg.start_param)
    return True

"""The data-rights commands in the chat, and what declining consent leaves behind.

- "data saya" / "my data" (command ``my_data``): a summary of what is stored (``rights.summary``).
- "hapus data saya" / "delete my data" (command ``erase_data``): always a yes/no question first (pending
  ``erase_confirm``); "ya" erases (``rights.erase``) and the bot's reply is the last trace, purged once sent.
  The next message from that person starts as a new contact.

Plugged into the dialogue by ``register_dialogue`` (called when the runtime is assembled, ``bot/app.py``).
"""
from __future__ import annotations

import asyncio

from bot.messages import utcnow
from bot.privacy import rights

_tasks: set[asyncio.Task] = set()


async def cmd_my_data(dlg, turn, *_) -> None:
    data = await rights.summary(turn.stores, turn.contact["_id"])
    turn.say("privacy/my_data", mydata=data, days=turn.settings.lapor_message_retention_days)


async def cmd_erase_data(dlg, turn, *_) -> None:
    turn.state["pending"] = {"kind": "erase_confirm"}
    turn.say("privacy/confirm_erase", [("erase:ya", "choice.ya_hapus"), ("erase:tidak", "choice.tidak")])


async def confirm_erase(dlg, turn, pend: dict) -> bool:
    """The answer to "delete all your data?". Anything but yes/no drops the question (nothing erased)."""
    p = turn.msg.payload or ""
    ans = p[len("erase:"):] if p.startswith("erase:") else (
        "ya" if dlg.kw.is_yes(turn.text) else "tidak" if dlg.kw.is_no(turn.text) else None)
    turn.state["pending"] = None
    if ans == "tidak":
        turn.say("privacy/erase_kept")
        return True
    if ans != "ya":
        return False
    since = utcnow()
    stores = turn.stores
    await rights.erase(stores, turn.contact["_id"], "warga", in_turn=True)
    turn.erased = True
    # saving $sets the state's keys (a popped key would stay stored): overwrite instead
    turn.state.update(flow=None, step=None, slots={}, pending=None, back=[], last_choices=[], held=None,
                      draft_id=None, flow_started_at=None)
    turn.contact_updates.clear()  # the contact is gone; nothing of it may be written back
    turn.say("privacy/erased")
    task = asyncio.get_running_loop().create_task(rights.purge_after_reply(stores, turn.contact["_id"], since))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return True


def register_dialogue(registry) -> None:
    """Plug the data-rights commands and the erase question into the dialogue's registry."""
    registry.command("my_data", cmd_my_data)
    registry.command("erase_data", cmd_erase_data)
    registry.pending("erase_confirm", confirm_erase)

"""A tiny driver for scripted conversations straight into the engine (no channel formatting)."""
from __future__ import annotations

import itertools

from bot.messages import Identity, InboundMessage, Location, Media

_ids = itertools.count(1)


# Replies that ask the citizen something: a run of the same one on consecutive turns is a repeated question.
QUESTION_PREFIXES = ("filing/ask", "filing/summary", "repair/", "welcome/first_contact", "welcome/consent",
                     "tracking/ask_id", "filing/confirm_cancel", "errors/pick_a_choice")


class Chat:
    """Talks to ``runtime.engine`` as one person. ``send`` returns the replies; ``last`` keeps the latest.

    ``asked`` keeps, per turn, the last question the bot asked (None when it asked none); every Chat made
    is listed in ``Chat.made`` so a test session can report the longest run of repeated questions."""

    made: list["Chat"] = []

    def __init__(self, runtime, user: str = "u1", channel: str = "console", name: str | None = None):
        self.rt = runtime
        self.identity = Identity(channel, user, name)
        self.last: list = []
        self.transcript: list = []
        self.seen_templates: list[str] = []
        self.asked: list[str | None] = []
        Chat.made.append(self)

    async def send(self, text: str = "", *, payload: str | None = None, location: tuple | None = None,
                   media: list[Media] | None = None, start: str | None = None, received_at=None):
        msg = InboundMessage(self.identity, f"m{next(_ids)}", text=text, payload=payload,
                             location=Location(*location) if location else None, media=media or [],
                             start_param=start, kind="choice" if payload else "text")
        if received_at is not None:
            msg.received_at = received_at
        self.last = await self.rt.engine.handle(msg, inline=True)
        self.transcript.append((text or payload, [r.text for r in self.last]))
        self.seen_templates += [r.template for r in self.last]
        qs = [r.template for r in self.last if r.template.startswith(QUESTION_PREFIXES)]
        self.asked.append(qs[-1] if qs else None)
        return self.last

    def longest_repeat(self) -> int:
        from bot.dialogue.repair import longest_repeat

        return longest_repeat(self.asked)

    async def choose(self, index: int):
        """Press the ``index``-th (1-based) button of the latest reply that had buttons."""
        for r in reversed(self.last):
            if r.choices:
                return await self.send(r.choices[index - 1].label, payload=r.choices[index - 1].payload)
        raise AssertionError("no buttons in the last replies")

    def payloads(self) -> list[str]:
        return [c.payload for r in self.last for c in r.choices]

    def templates(self) -> list[str]:
        return [r.template for r in self.last]

    async def contact(self) -> dict:
        return await self.rt.stores.contacts.find_by_identity(self.identity.channel, self.identity.user_id)

    async def state(self) -> dict:
        c = await self.contact()
        return await self.rt.stores.conversations.load(c["_id"])

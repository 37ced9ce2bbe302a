"""A Turn: everything one inbound message may read or change, and the replies it produces."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.messages import Choice, InboundMessage, OutboundMessage

if TYPE_CHECKING:  # pragma: no cover
    from bot.engine import Engine
    from bot.nlu import Interpretation


@dataclass
class Reply:
    template: str
    ctx: dict = field(default_factory=dict)
    choices: list[tuple[str, str]] = field(default_factory=list)  # (payload, label key or literal via ctx)
    request_location: bool = False


@dataclass
class Turn:
    engine: "Engine"
    contact: dict
    state: dict
    msg: InboundMessage
    replies: list[Reply] = field(default_factory=list)
    contact_updates: dict[str, Any] = field(default_factory=dict)
    nlu_calls: int = 0
    _interpretation: "Interpretation | None" = None

    # -- reading -------------------------------------------------------------------------------
    @property
    def lang(self) -> str:
        return self.contact_updates.get("language") or self.contact.get("language") or "id"

    @property
    def text(self) -> str:
        return (self.msg.text or "").strip()

    @property
    def slots(self) -> dict:
        return self.state.setdefault("slots", {})

    async def understand(self) -> "Interpretation":
        """Ask the NLU once per turn, and only when a step needs free-text understanding."""
        if self._interpretation is None:
            self.nlu_calls += 1
            self._interpretation = await self.engine.nlu.parse(self.text)
        return self._interpretation

    # -- writing -------------------------------------------------------------------------------
    def say(self, template: str, choices: list[tuple[str, str]] | None = None, *,
            request_location: bool = False, **ctx) -> None:
        self.replies.append(Reply(template, ctx, list(choices or []), request_location))

    def set_contact(self, **fields) -> None:
        self.contact_updates.update(fields)
        self.contact.update(fields)

    def render(self) -> list[OutboundMessage]:
        r = self.engine.renderer
        out = []
        for rep in self.replies:
            ctx = {"contact": self.contact, **rep.ctx}
            text = r.render(rep.template, self.lang, **ctx)
            choices = [Choice(payload=p, label=r.label(lbl, self.lang) if r.is_label_key(lbl) else lbl)
                       for p, lbl in rep.choices]
            out.append(OutboundMessage(identity=self.msg.identity, text=text, choices=choices,
                                       request_location=rep.request_location, template=rep.template,
                                       contact_id=self.contact["_id"], priority=0))
        return out

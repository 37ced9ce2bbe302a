"""A Turn: everything one inbound message may read or change, and the replies it produces.

A turn sees the rest of the bot only through :class:`Ports` (stores, understanding, settings, the
renderer, report life-cycle hooks). Writes outside the conversation state that must happen once per
inbound message (added information, handoff notes, ratings, objections and their notifications) are
registered with :meth:`Turn.effect` and applied by the engine only after the state saved: a turn that
lost the save race is rerun from scratch and its first attempt's effects are dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

from bot.messages import Choice, InboundMessage, OutboundMessage

if TYPE_CHECKING:  # pragma: no cover
    from bot.config import Settings
    from bot.nlu import Interpretation
    from bot.storage import Stores
    from bot.templates import Renderer


class Understanding(Protocol):
    async def parse(self, text: str) -> "Interpretation": ...


class ReportLifecycle(Protocol):
    """What the staff side adds to a report's life in the dialogue: deadlines at filing, notifications after a
    citizen's transition (an objection reopens the report)."""

    def initial_deadlines(self, now: datetime) -> dict: ...

    async def on_transition(self, report: dict, actor: str | None = None) -> Any: ...


class NoLifecycle:
    """Used when no staff side is assembled (CLI tools, unit tests): no deadlines, nobody to notify."""

    def initial_deadlines(self, now: datetime) -> dict:
        return {}

    async def on_transition(self, report: dict, actor: str | None = None) -> None:
        return None


@dataclass
class Ports:
    """The narrow view of the bot a dialogue turn works through."""

    stores: "Stores"
    nlu: Understanding
    settings: "Settings"
    renderer: "Renderer"
    lifecycle: ReportLifecycle = field(default_factory=NoLifecycle)


@dataclass
class Reply:
    template: str
    ctx: dict = field(default_factory=dict)
    choices: list[tuple[str, str]] = field(default_factory=list)  # (payload, label key or literal via ctx)
    request_location: bool = False


Effect = Callable[[], Awaitable[None]]


@dataclass
class Turn:
    ports: Ports
    contact: dict
    state: dict
    msg: InboundMessage
    replies: list[Reply] = field(default_factory=list)
    contact_updates: dict[str, Any] = field(default_factory=dict)
    effects: list[Effect] = field(default_factory=list)
    nlu_calls: int = 0
    erased: bool = False  # the turn erased its own contact ("hapus data saya"): its save finds nothing, rightly
    _interpretation: "Interpretation | None" = None

    # -- reading -------------------------------------------------------------------------------
    @property
    def stores(self) -> "Stores":
        return self.ports.stores

    @property
    def settings(self) -> "Settings":
        return self.ports.settings

    @property
    def lang(self) -> str:
        return self.contact_updates.get("language") or self.contact.get("language") or "id"

    @property
    def text(self) -> str:
        return (self.msg.text or "").strip()

    @property
    def slots(self) -> dict:
        return self.state.setdefault("slots", {})

    def label(self, key: str) -> str:
        return self.ports.renderer.label(key, self.lang)

    async def understand(self) -> "Interpretation":
        """Ask the NLU once per turn, and only when a step needs free-text understanding."""
        if self._interpretation is None:
            self.nlu_calls += 1
            self._interpretation = await self.ports.nlu.parse(self.text)
        return self._interpretation

    def replace_message(self, text: str, payload: str | None) -> None:
        """Act on another message in this turn (a message held while consent was asked)."""
        self.msg.text, self.msg.payload = text, payload
        self._interpretation = None

    # -- writing -------------------------------------------------------------------------------
    def say(self, template: str, choices: list[tuple[str, str]] | None = None, *,
            request_location: bool = False, **ctx) -> None:
        self.replies.append(Reply(template, ctx, list(choices or []), request_location))

    def set_contact(self, **fields) -> None:
        self.contact_updates.update(fields)
        self.contact.update(fields)

    def effect(self, fn: Effect) -> None:
        """Run ``fn`` once, after the conversation state saved (see the module docstring).

        An effect may still ``say`` something: replies are rendered after the effects ran."""
        self.effects.append(fn)

    def render(self) -> list[OutboundMessage]:
        r = self.ports.renderer
        out = []
        for rep in self.replies:
            ctx = {"contact": self.contact, **rep.ctx}
            text = r.render(rep.template, self.lang, **ctx)
            choices = [Choice(payload=p, label=r.label(lbl, self.lang) if r.is_label_key(lbl) else lbl)
                       for p, lbl in rep.choices]
            out.append(OutboundMessage(identity=self.msg.identity, text=text, choices=choices,
                                       request_location=rep.request_location, template=rep.template,
                                       contact_id=self.contact["_id"], priority=0, language=self.lang))
        return out

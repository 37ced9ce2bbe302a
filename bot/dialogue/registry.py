"""The dialogue's handler registry: feature packages plug in here, the dialogue never imports them.

Like python-telegram-bot's ``Application.add_handler``: a package calls, at assembly,
- ``command(name, handler)``: a global command word from ``dialogues/keywords.yml`` (``bantuan``, ``DAFTAR``);
- ``payload(prefix, handler, guard=...)``: a button payload ``prefix:arg`` usable from anywhere;
- ``pending(kind, handler)``: the answer to a question stored as ``state['pending'] = {'kind': kind, …}``;
- ``intent(name, handler)``: what an idle free-text message with that NLU intent does;
- ``deep_link(handler, prefix=None)``: a ``/start PARAM`` deep link (by prefix, or the default);
- ``completion(name, handler)``: a flow's ``on_complete`` action.

**Payload trust.** A payload that names a report (or anything else not everyone may touch) is registered with a
:class:`Guard`. :meth:`Registry.admit` honours such a payload only when it was offered to this contact (it is in
the conversation's bounded ``offered`` list, filled from the buttons the bot showed) or the guard says the
contact is entitled to it (the reporter of that report, the volunteer who filed it). The runtime calls it once
per turn before any handler (pending answers included) sees the payload, so no handler can forget it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, Protocol

from bot.dialogue.turn import Turn

if TYPE_CHECKING:  # pragma: no cover
    from bot.dialogue.flows import Flow, Step
    from bot.dialogue.keywords import Keywords

OFFERED_KEEP = 40  # payloads naming something, remembered per conversation (bounded)


class DialogueAPI(Protocol):
    """What handlers may use of the dialogue runtime (implemented by ``bot.dialogue.runtime.Dialogue``)."""

    registry: "Registry"
    kw: "Keywords"
    flows: dict[str, "Flow"]
    category_threshold: float
    similar_threshold: int
    max_attachments: int

    def start_flow(self, turn: Turn, name: str, slots: dict | None = None) -> None: ...

    def end_flow(self, turn: Turn) -> None: ...

    def clear_slot(self, turn: Turn, slot: str) -> None: ...

    def ask(self, turn: Turn, step: "Step") -> None: ...

    def ask_current(self, turn: Turn) -> None: ...

    async def ask_next(self, turn: Turn) -> None: ...

    async def dispatch_global(self, turn: Turn) -> bool: ...

    async def route_idle(self, turn: Turn) -> None: ...


ArgHandler = Callable[[DialogueAPI, Turn, str], Awaitable[None]]
PendingHandler = Callable[[DialogueAPI, Turn, dict], Awaitable[bool]]
TurnHandler = Callable[[DialogueAPI, Turn], Awaitable[None]]


class Guard(Protocol):
    """Who may use a payload: ``subject(arg)`` is what it names (None: names nothing), ``entitled`` says whether
    this contact may act on that subject without having been offered the button."""

    def subject(self, arg: str) -> str | None: ...

    async def entitled(self, turn: Turn, subject: str) -> bool: ...


@dataclass
class Command:
    handler: ArgHandler
    with_argument: bool = False  # "DAFTAR CODE": the words after the command are its argument (idle only)
    idle_only: bool = False      # inside a flow the word is probably an answer ("status", "lapor")


@dataclass
class PayloadRoute:
    handler: ArgHandler
    guard: Guard | None = None


@dataclass
class DeepLink:
    handler: ArgHandler
    prefix: str | None


class Registry:
    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.payloads: dict[str, PayloadRoute] = {}
        self.pendings: dict[str, PendingHandler] = {}
        self.intents: dict[str, TurnHandler] = {}
        self.deep_links: list[DeepLink] = []
        self.completions: dict[str, TurnHandler] = {}

    # ---------------------------------------------------------------- registering
    def command(self, name: str, handler: ArgHandler, *, with_argument: bool = False, idle_only: bool = False) -> None:
        self.commands[name] = Command(handler, with_argument, idle_only)

    def payload(self, prefix: str, handler: ArgHandler, *, guard: Guard | None = None) -> None:
        self.payloads[prefix] = PayloadRoute(handler, guard)

    def pending(self, kind: str, handler: PendingHandler) -> None:
        self.pendings[kind] = handler

    def intent(self, name: str, handler: TurnHandler) -> None:
        self.intents[name] = handler

    def deep_link(self, handler: ArgHandler, *, prefix: str | None = None) -> None:
        self.deep_links = [d for d in self.deep_links if d.prefix != prefix] + [DeepLink(handler, prefix)]

    def completion(self, name: str, handler: TurnHandler) -> None:
        self.completions[name] = handler

    # ---------------------------------------------------------------- looking up
    def route(self, payload: str | None) -> tuple[PayloadRoute | None, str]:
        prefix, _, arg = (payload or "").partition(":")
        return self.payloads.get(prefix), arg

    def deep_link_for(self, param: str) -> DeepLink | None:
        low = param.lower()
        for d in self.deep_links:
            if d.prefix and low.startswith(d.prefix):
                return d
        return next((d for d in self.deep_links if d.prefix is None), None)

    # ---------------------------------------------------------------- payload trust
    def guarded(self, payload: str) -> bool:
        route, arg = self.route(payload)
        return bool(route and route.guard and route.guard.subject(arg))

    async def admit(self, turn: Turn) -> bool:
        """May this turn act on its payload? (See the module docstring.)"""
        payload = turn.msg.payload
        route, arg = self.route(payload)
        if route is None or route.guard is None:
            return True
        subject = route.guard.subject(arg)
        if subject is None:
            return True
        if payload in (turn.state.get("offered") or []):
            return True
        return await route.guard.entitled(turn, subject)

    def remember_offered(self, turn: Turn) -> None:
        """Keep the guarded payloads this turn showed, newest last, at most OFFERED_KEEP."""
        shown = [p for r in turn.replies for p, _ in r.choices if self.guarded(p)]
        if not shown:
            return
        kept = [p for p in (turn.state.get("offered") or []) if p not in shown]
        turn.state["offered"] = (kept + list(dict.fromkeys(shown)))[-OFFERED_KEEP:]

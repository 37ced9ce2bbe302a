"""The dialogue runtime: one turn = limits -> payload trust -> consent -> pending answer -> global command ->
flow step -> idle.

Flow stepping is generic: the next step is the first whose slot is empty and whose ``when`` holds, so
slots filled early (one rich first message, a correction) are never asked again. Commands, buttons, pending
questions, intents and deep links come from the :class:`Registry`; the core registers its own here, feature
packages (outreach) register theirs at assembly.
"""
from __future__ import annotations

import uuid
from datetime import timedelta, timezone

from bot.dialogue import actions, behalf, emergency, followup, held_signup, language, pending, repair, safety
from bot.dialogue.conditions import holds
from bot.dialogue.flows import DIALOGUES_DIR, Flow, Step, load_flows, load_keywords
from bot.dialogue.keywords import Keywords
from bot.dialogue.parsers import PARSERS, Parsed, region_question
from bot.dialogue.registry import Registry
from bot.dialogue.turn import Turn
from bot.messages import utcnow

# Filling a slot invalidates the ones derived from it.
DEPENDENTS = {"location": ("region", "agency", "similar_checked"), "region": ("agency", "similar_checked"),
              "category": ("agency", "similar_checked"), "description": ("similar_checked",)}
RESUME_AFTER = timedelta(hours=1)


class Dialogue:
    """Implements ``registry.DialogueAPI`` for the handlers."""

    def __init__(self, root=DIALOGUES_DIR, *, category_threshold: float = 0.6, similar_threshold: int = 70,
                 max_attachments: int = 5):
        self.flows: dict[str, Flow] = load_flows(root)
        self.kw = Keywords(load_keywords(root))
        self.category_threshold = category_threshold
        self.similar_threshold = similar_threshold
        self.max_attachments = max_attachments
        self.registry = Registry()
        for core in (actions, followup, pending, emergency, behalf):
            core.register(self.registry)

    # ------------------------------------------------------------------ one turn
    async def run(self, turn: Turn) -> None:
        st = turn.state
        if self._over_message_limit(turn):
            return
        if await language.handle(self, turn):  # the language follows the citizen
            return
        if await emergency.handle(self, turn):  # emergency numbers before anything else
            return
        self._number_to_choice(turn)
        if turn.msg.payload and not await self.registry.admit(turn):
            turn.say("errors/choice_not_available", actions.MENU)
            return
        self._expire_draft(turn)
        if turn.contact.get("consent") is None and not self._is_consent_answer(turn):
            await actions.ask_consent(self, turn)
            return
        if turn.msg.start_param and await held_signup.apply_now(self, turn):  # a deep link beats any question
            return
        if st.get("pending") and await pending.handle(self, turn):
            return
        if st.get("flow") and self._stale(turn):
            await actions.offer_resume(self, turn)
            return
        if await self.dispatch_global(turn):
            return
        if st.get("flow") and safety.pauses_flow(turn):  # a pause is not an answer: confirm cancelling
            await actions.cmd_cancel(self, turn)
            return
        if st.get("flow"):
            await self.advance(turn, parse=True)
            return
        await self.route_idle(turn)

    async def route_idle(self, turn: Turn) -> None:
        await actions.route_idle(self, turn)

    def _number_to_choice(self, turn: Turn) -> None:
        """A bare number answers the numbered choices we showed last (SMS, console, or anyone typing "2")."""
        shown = turn.state.get("last_choices") or []
        t = turn.text
        if not turn.msg.payload and t.isdigit() and 1 <= int(t) <= len(shown):
            turn.msg.payload = shown[int(t) - 1]

    def remember_choices(self, turn: Turn) -> None:
        shown = [r for r in turn.replies if r.choices]
        turn.state["last_choices"] = [p for p, _ in shown[-1].choices] if shown else []
        self.registry.remember_offered(turn)

    def _is_consent_answer(self, turn: Turn) -> bool:
        return (turn.state.get("pending") or {}).get("kind") == "consent"

    def _over_message_limit(self, turn: Turn) -> bool:
        """At most N messages per minute per contact; the message is stored (nothing lost) but not processed."""
        limit = turn.settings.lapor_max_messages_per_minute
        now = turn.msg.received_at
        win = turn.state.setdefault("window", {})
        start = win.get("start")
        if start is None or now - _aware(start) >= timedelta(minutes=1):
            turn.state["window"] = {"start": now, "n": 1, "warned": False}
            return False
        win["n"] = win.get("n", 0) + 1
        if win["n"] <= limit:
            return False
        if not win.get("warned"):
            win["warned"] = True
            turn.say("limits/slow_down")
        return True

    def _expire_draft(self, turn: Turn) -> None:
        st = turn.state
        updated = st.get("updated_at")
        ttl = timedelta(days=turn.settings.lapor_draft_ttl_days)
        if st.get("flow") and updated and turn.msg.received_at - _aware(updated) > ttl:
            self.end_flow(turn)
            turn.say("filing/draft_expired")

    def _stale(self, turn: Turn) -> bool:
        st = turn.state
        updated = st.get("updated_at")
        return bool(updated and st.get("version", 0) > 0 and turn.msg.received_at - _aware(updated) > RESUME_AFTER)

    # ------------------------------------------------------------------ commands
    async def dispatch_global(self, turn: Turn) -> bool:
        """A button usable from anywhere, or a whole-message global command. True when one handled the turn."""
        return await self._global_payload(turn) or await self._global_command(turn)

    async def _global_payload(self, turn: Turn) -> bool:
        route, arg = self.registry.route(turn.msg.payload)
        if route is None:
            return False
        await route.handler(self, turn, arg)
        return True

    async def _global_command(self, turn: Turn) -> bool:
        name = self.kw.command(turn.text)
        cmd = self.registry.commands.get(name) if name else None
        if cmd is None:
            return False
        if cmd.idle_only and turn.state.get("flow"):
            return False  # inside a flow these words are probably answers; "batal" first to leave
        await cmd.handler(self, turn, "")
        return True

    # ------------------------------------------------------------------ flows
    def start_flow(self, turn: Turn, name: str, slots: dict | None = None) -> None:
        st = turn.state
        st.update(flow=name, step=None, slots=dict(slots or {}), pending=None, back=[],
                  draft_id=uuid.uuid4().hex, flow_started_at=utcnow())

    def end_flow(self, turn: Turn) -> None:
        turn.state.update(flow=None, step=None, slots={}, pending=None, back=[], draft_id=None)

    def next_step(self, flow: Flow, slots: dict) -> Step | None:
        for step in flow.steps:
            if step.slot not in slots and holds(step.when, slots):
                return step
        return None

    def clear_slot(self, turn: Turn, slot: str) -> None:
        slots = turn.slots
        slots.pop(slot, None)
        slots.pop("confirmed", None)
        for dep in DEPENDENTS.get(slot, ()):
            slots.pop(dep, None)

    def apply(self, turn: Turn, step: Step | None, result: Parsed) -> None:
        slots = turn.slots
        for k, v in result.fills.items():
            if k.startswith("_"):
                continue
            if v is None and k in ("region_candidates", "agency_options", "attachments_pending"):
                slots.pop(k, None)
                continue
            if k in slots and k != (step.slot if step else None) and k in DEPENDENTS:
                for dep in DEPENDENTS[k]:
                    slots.pop(dep, None)
            slots[k] = v
        if step and step.slot in result.fills:
            back = turn.state.setdefault("back", [])
            back.append(step.slot)
            del back[:-10]

    async def advance(self, turn: Turn, *, parse: bool) -> None:
        """Parse the answer to the current step (if ``parse``), then ask the next empty step or finish."""
        st = turn.state
        flow = self.flows[st["flow"]]
        if parse and st.get("step"):
            step = flow.step(st["step"])
            correction = self.kw.correction(turn.text) if turn.text else None
            if correction and correction[0] != step.slot and flow.step(correction[0]) and correction[1]:
                step, text = flow.step(correction[0]), correction[1]
                self.clear_slot(turn, step.slot)
                turn.say("filing/correction_noted", slot=step.slot)
            else:
                text = turn.text
            result = await PARSERS[step.parser](self, turn, step, text)
            if result.error and step.fallback and step.fallback not in turn.slots and text:
                other = flow.step(step.fallback)
                alt = await PARSERS[other.parser](self, turn, other, text)
                if not alt.error:
                    step, result = other, alt
            if result.fills.get("_abort"):
                self.end_flow(turn)
                if result.question:
                    turn.replies.append(result.question)
                return
            if result.fills.get("_edit"):
                target = result.fills["_edit"]
                if flow.step(target):
                    self.clear_slot(turn, target)
            self.apply(turn, step, result)
            if result.error:
                if await repair.on_miss(self, turn, step, flow):  # never the same question 3 times
                    return
                turn.say(result.error)
                if result.question:
                    turn.replies.append(result.question)
                    return
                self.ask(turn, flow.step(st["step"]))
                return
            repair.clear(turn)  # an answer resets the miss count
            if result.question:
                turn.replies.append(result.question)
                if result.pending:
                    st["pending"] = result.pending
                return
        await self.ask_next(turn)

    async def ask_next(self, turn: Turn) -> None:
        """Ask the first empty step of the current flow, or run its completion action when none is left."""
        st = turn.state
        flow = self.flows[st["flow"]]
        for _ in range(len(flow.steps) + 1):
            step = self.next_step(flow, turn.slots)
            if step is None:
                await self.registry.completions[flow.on_complete](self, turn)
                return
            if step.silent:
                result = await PARSERS[step.parser](self, turn, step, "")
                self.apply(turn, step, result)
                if result.question:
                    st["step"] = step.slot
                    st["pending"] = result.pending
                    turn.replies.append(result.question)
                    return
                continue
            st["step"] = step.slot
            self.ask(turn, step)
            return

    def ask_current(self, turn: Turn) -> None:
        """Ask the open step again (after help or a language switch); nothing when no flow is open."""
        st = turn.state
        if st.get("flow") and st.get("step"):
            self.ask(turn, self.flows[st["flow"]].step(st["step"]))

    def ask(self, turn: Turn, step: Step) -> None:
        slots = turn.slots
        if step.slot == "region" and slots.get("region_candidates"):
            from bot.nlu import regions

            cands = [regions.by_code(o["code"]) for o in slots["region_candidates"]]
            q, _ = region_question([c for c in cands if c], (slots.get("location") or {}).get("text"))
            turn.replies.append(q)
            return
        ctx = actions.step_context(turn, step)
        choices = actions.step_choices(turn, step)
        turn.say(step.ask, choices, request_location=step.request_location, slots=slots, **ctx)


def _aware(dt):
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)

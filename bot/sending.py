"""Sending policy shared by the outbox, the channels and outreach: typed send outcomes and the WhatsApp window.

A channel's ``Sender.send`` answers a ``SendResult`` whose ``outcome`` is one of a few ``Outcome`` values
(the model is RapidPro courier's contact-stopped / throttled / retryable / failed); the provider's own
numeric error code travels in ``code`` so nobody has to parse it out of a string. The outbox decides what
each outcome means (retry with back-off, pause the channel, mark the contact unreachable, give up).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from bot.messages import aware, utcnow


class Outcome(str, Enum):
    SENT = "sent"
    RETRY = "retry"  # transient (network, 5xx): try again with back-off
    THROTTLED = "throttled"  # the provider's rate limit: pause the channel for ``retry_after``, then retry
    STOPPED = "blocked"  # the contact blocked or left us: the contact is marked unreachable
    FAILED = "failed"  # permanent for this message
    HELD = "held"  # parked by the sender until the person writes again (WhatsApp outside the window, bot/held.py)


@dataclass
class SendResult:
    outcome: Outcome
    provider_id: str | None = None
    error: str | None = None  # short, for ``last_error`` / ``failure_reason`` ("131026 undeliverable")
    retry_after: float | None = None
    code: int | None = None  # the provider's numeric error code, when it gave one

    def __post_init__(self) -> None:
        self.outcome = Outcome(self.outcome)

    @property
    def status(self) -> str:
        """The outcome as its plain value ("sent", "held", …), for code and tests that compare strings."""
        return self.outcome.value

    @property
    def throttled(self) -> bool:
        return self.outcome is Outcome.THROTTLED or (self.outcome is Outcome.RETRY and bool(self.retry_after))

    @property
    def retryable(self) -> bool:
        return self.outcome in (Outcome.RETRY, Outcome.THROTTLED)


# ------------------------------------------------------------------ the WhatsApp customer-service window
WA_WINDOW = timedelta(hours=24)
WA_MARGIN = timedelta(minutes=10)  # this close to the window's end counts as outside: the send may take a while


def whatsapp_window_open(*last_inbound: datetime | None, now: datetime | None = None) -> bool:
    """True when the person wrote to us (the latest of ``last_inbound``) less than 24 h minus a margin ago:
    a free-form message may go out. Otherwise only an approved template may."""
    times = [aware(t) for t in last_inbound if t is not None]
    return bool(times) and (now or utcnow()) - max(times) < WA_WINDOW - WA_MARGIN

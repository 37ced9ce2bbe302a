"""Normalized messages: the only shapes that cross between channels and the engine."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(dt: datetime | None) -> datetime | None:
    """A datetime read back from the database, as UTC-aware (naive values are UTC); None stays None."""
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Identity:
    """Who wrote: a channel and that channel's id for the person (chat id, wa_id, E.164 number, cookie id)."""

    channel: str
    user_id: str
    display_name: str | None = None


@dataclass
class Media:
    """An attachment as the channel announced it. `ref` is the channel's handle (file_id, media id, upload id)."""

    kind: str  # photo | document | audio | video | sticker
    ref: str
    mime_type: str | None = None
    filename: str | None = None
    size: int | None = None
    gridfs_id: Any = None  # set once the bytes are stored


@dataclass
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass
class SharedContact:
    phone: str
    name: str | None = None


@dataclass
class InboundMessage:
    """One thing a person sent. `payload` is a button/choice value; `text` what they typed."""

    identity: Identity
    channel_message_id: str
    text: str = ""
    payload: str | None = None
    media: list[Media] = field(default_factory=list)
    location: Location | None = None
    contact: SharedContact | None = None
    start_param: str | None = None  # deep-link payload (/start CODE)
    kind: str = "text"  # text | choice | media | location | contact | unsupported | reaction
    received_at: datetime = field(default_factory=utcnow)
    original_size: int | None = None  # set when text was truncated
    peer: str | None = None  # source network address where the channel has one (web chat); never stored
    raw: dict | None = None


@dataclass
class Choice:
    """A button. `payload` comes back in InboundMessage.payload; `label` is already rendered."""

    payload: str
    label: str
    description: str | None = None


@dataclass
class OutboundMessage:
    """One thing to send. Rendered text plus optional choices; channels decide how to show them."""

    identity: Identity
    text: str
    choices: list[Choice] = field(default_factory=list)
    request_location: bool = False
    kind: str = "reply"  # reply | notification | campaign
    template: str | None = None  # template name that produced it (for logs and WhatsApp fallbacks)
    template_params: list[str] = field(default_factory=list)
    contact_id: Any = None
    message_id: Any = None  # messages._id once queued
    priority: int = 0  # 0 = reply to a citizen (first), 5 = notification, 9 = campaign
    use_template: bool | None = None  # WhatsApp: None = the window decides; True/False = decided by the producer
    campaign: str | None = None
    language: str | None = None  # the language the text was rendered in (a channel's own labels follow it)

"""Web chat (placeholder: the channels work fills this in)."""
from __future__ import annotations

from channels.base import Channel


class WebChatChannel(Channel):
    name = "webchat"

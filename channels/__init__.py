"""Channel adapters: thin translators between a provider's protocol and the engine's messages.

Every adapter has ``name``, ``add_routes(app)``, ``sender()`` (an outbox Sender or None),
``start()`` and ``stop()``. ``enabled_channels`` builds those whose settings are present.
"""
from __future__ import annotations


def enabled_channels(runtime, *, console: bool = False) -> list:
    s = runtime.settings
    chans = []
    from channels.webchat import WebChatChannel

    chans.append(WebChatChannel(runtime))
    if s.telegram_enabled:
        from channels.telegram import TelegramChannel

        chans.append(TelegramChannel(runtime))
    if s.whatsapp_enabled:
        from channels.whatsapp import WhatsAppChannel

        chans.append(WhatsAppChannel(runtime))
    if s.sms_enabled:
        from channels.sms import SmsChannel

        chans.append(SmsChannel(runtime))
    if console:
        from channels.console import ConsoleChannel

        chans.append(ConsoleChannel(runtime))
    return chans

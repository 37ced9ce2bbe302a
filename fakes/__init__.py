"""Local fake providers that behave like the real ones (same payloads, limits, errors, 429s), for the tests
and the benchmarks. One package per provider, each with its recorded payloads in ``testdata/`` (sample
inbound webhooks and error bodies, as served or posted by the fakes):

- ``fakes.telegram``: ``FakeTelegram``, a Bot API server for one bot.
- ``fakes.whatsapp``: ``FakeGraph`` (the WhatsApp Cloud API) and ``WhatsAppDriver`` (Meta's webhook side).
- ``fakes.sms``: ``FakeSmsApi`` (Twilio-style REST), ``twilio_signature``, ``form_body``.
- ``fakes.base``: ``wait_until`` (bounded poll), ``recorded(provider, name)`` (a testdata payload).

Nothing here imports pytest; the pytest fixtures are in ``tests/fixtures/fakes.py``.
"""
from fakes.base import recorded, wait_until
from fakes.sms import FakeSmsApi, form_body, twilio_signature
from fakes.telegram import FakeTelegram
from fakes.whatsapp import FakeGraph, GraphError, WhatsAppDriver

__all__ = ["FakeGraph", "FakeSmsApi", "FakeTelegram", "GraphError", "WhatsAppDriver", "form_body", "recorded",
           "twilio_signature", "wait_until"]

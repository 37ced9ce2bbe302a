"""Fake WhatsApp Cloud API (``server.FakeGraph``) and webhook driver (``driver.WhatsAppDriver``); recorded
webhooks and error bodies in ``testdata/``."""
from fakes.whatsapp.driver import WhatsAppDriver
from fakes.whatsapp.server import FakeGraph, GraphError

__all__ = ["FakeGraph", "GraphError", "WhatsAppDriver"]

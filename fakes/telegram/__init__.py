"""Fake Telegram Bot API (``server.FakeTelegram``); recorded updates and error bodies in ``testdata/``."""
from fakes.telegram.server import FakeTelegram

__all__ = ["FakeTelegram"]

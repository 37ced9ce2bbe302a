"""Fake Twilio-style SMS gateway (``server.FakeSmsApi``) and its webhook signature; recorded inbound form and
error bodies in ``testdata/``."""
from fakes.sms.server import FakeSmsApi, form_body, twilio_signature

__all__ = ["FakeSmsApi", "form_body", "twilio_signature"]

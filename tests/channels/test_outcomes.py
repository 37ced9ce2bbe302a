"""Provider errors map to a few typed outcomes with the numeric code; one WhatsApp window rule."""
from datetime import timedelta

from bot.messages import utcnow
from bot.sending import WA_MARGIN, WA_WINDOW, Outcome, SendResult, whatsapp_window_open
from channels.sms import sms_error
from channels.whatsapp import REENGAGE_CODE, whatsapp_error


def test_whatsapp_errors_are_typed_outcomes_with_the_code():
    r = whatsapp_error(400, {"error": {"code": 130429, "message": "Rate limit hit"}})
    assert r.outcome is Outcome.THROTTLED and r.code == 130429 and r.retry_after == 2.0 and r.retryable
    r = whatsapp_error(400, {"error": {"code": REENGAGE_CODE, "message": "Re-engagement message"}})
    assert r.outcome is Outcome.FAILED and r.code == REENGAGE_CODE and r.error.startswith("131047 ")
    r = whatsapp_error(503, {})
    assert r.outcome is Outcome.RETRY and r.code == 503 and not r.throttled
    assert whatsapp_error(400, {"error": {"code": 131026, "message": "undeliverable"}}).outcome is Outcome.FAILED


def test_sms_errors_are_typed_outcomes():
    assert sms_error(429, {"code": 20429}).outcome is Outcome.THROTTLED
    assert sms_error(500, None).outcome is Outcome.RETRY
    stopped = sms_error(400, {"code": 21610, "message": "unsubscribed"})
    assert stopped.outcome is Outcome.STOPPED and stopped.code == 21610
    assert sms_error(400, {"code": 21211, "message": "invalid To"}).outcome is Outcome.FAILED


def test_send_result_accepts_the_outcome_value():
    assert SendResult("blocked").outcome is Outcome.STOPPED
    assert SendResult("retry", retry_after=0.5).throttled


def test_one_window_rule_with_its_margin():
    now = utcnow()
    assert whatsapp_window_open(now - timedelta(hours=2), now=now)
    assert not whatsapp_window_open(now - WA_WINDOW + WA_MARGIN / 2, now=now)
    assert not whatsapp_window_open(None, None, now=now)
    # the latest of several times counts; naive datetimes are UTC
    assert whatsapp_window_open(now - timedelta(days=3), (now - timedelta(hours=1)).replace(tzinfo=None), now=now)

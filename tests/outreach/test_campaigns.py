"""Campaign definitions, rendering checks and the ready-made campaigns."""
from __future__ import annotations

import pytest

from outreach.campaigns import CAMPAIGN_DIR, Campaign, load_files
from outreach.render import SAMPLE_CONTACT, check_text, sms_info, try_render

READY = ("goes-to-campus", "goes-to-school", "goes-to-media", "goes-to-community", "volunteer-recruitment")


def test_ready_made_campaigns_load_in_both_languages():
    camps = load_files()
    assert set(READY) <= set(camps)
    for name in READY:
        texts = camps[name].texts()
        assert {"id", "en"} <= set(texts), name
        assert (CAMPAIGN_DIR / f"{name}.yml").exists()


@pytest.mark.parametrize("name", READY)
def test_marked_campaigns_fit_one_sms_segment(name):
    c = load_files()[name]
    long_contact = {**SAMPLE_CONTACT, "name": "Nama Yang Sangat Panjang Sekali",
                    "subscription": {**SAMPLE_CONTACT["subscription"],
                                     "institution": "Universitas Islam Negeri Sunan Kalijaga Yogyakarta"}}
    for lang in ("id", "en"):
        for contact in (SAMPLE_CONTACT, long_contact):
            text, errors, used, variant = try_render(c, {**contact, "language": lang}, "sms")
            assert used == lang and not errors, (name, lang, errors)
            if c.sms_one_segment:
                assert variant == "sms"
                info = sms_info(text)
                assert info["encoding"] == "GSM-7" and info["segments"] == 1, (name, lang, info, text)
            tg, errors, _, _ = try_render(c, {**contact, "language": lang}, "telegram")
            assert not errors and len(tg) <= 4096


def test_one_segment_flag_is_set_where_promised():
    camps = load_files()
    assert all(camps[n].sms_one_segment for n in ("goes-to-campus", "goes-to-school", "goes-to-community",
                                                  "volunteer-recruitment"))


def test_sms_segments_gsm7_and_ucs2():
    assert sms_info("a" * 160)["segments"] == 1
    assert sms_info("a" * 161)["segments"] == 2
    assert sms_info("a" * 69 + "é")["encoding"] == "GSM-7"  # é is in GSM-7
    assert sms_info("a" * 70 + "ā")["encoding"] == "UCS-2"
    assert sms_info("a" * 69 + "ā")["segments"] == 1
    assert sms_info("a" * 70 + "ā")["segments"] == 2
    assert sms_info("{" * 80)["units"] == 160 and sms_info("{" * 81)["segments"] == 2


def test_template_errors_found_before_sending():
    c = Campaign(name="rusak", template={"id": {"default": "Halo {{ contact.nmae }}", "sms": "x" * 200},
                                         "en": "Hi {{ contact.name }}" + "!" * 4100}, sms_one_segment=True)
    text, errors, _, _ = try_render(c, SAMPLE_CONTACT, "telegram")
    assert text is None and "missing variable" in errors[0]
    _, errors, _, _ = try_render(c, SAMPLE_CONTACT, "sms")
    assert "over one segment" in errors[0]
    _, errors, _, _ = try_render(c, {**SAMPLE_CONTACT, "language": "en"}, "whatsapp")
    assert "too long" in errors[0]
    assert check_text("ok", "whatsapp") == []


def test_campaign_validation():
    with pytest.raises(Exception):
        Campaign(name="x1", template={"en": "only english"})
    with pytest.raises(Exception):
        Campaign(name="x2", template={"id": "a"}, audience={"segment": ["pasar"]})
    with pytest.raises(Exception):
        Campaign(name="x3", template={"id": "a"}, rate_caps={"telegram": 0})
    c = Campaign(name="x4", template={"id": "a"}, schedule={"start": "2026-01-01T09:00:00+07:00",
                                                             "recurrence": "weekly"})
    from datetime import datetime, timezone

    assert c.occurrence(datetime(2025, 12, 1, tzinfo=timezone.utc)) is None
    assert c.occurrence(datetime(2026, 1, 9, tzinfo=timezone.utc)) == "x4#2026-01-08"

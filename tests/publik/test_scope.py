"""The public scope's text masking: phone numbers, NIKs, e-mails and the reporter's name go; dates, house
numbers and ordinary words stay."""
from bot.publik.scope import MASK, public_report, redact

REPORT = {"reporter_name": "Yohanes Benu", "on_behalf": {"name": "Mama Ina"}}


def test_redact_masks_contact_details_and_names_only():
    text = ("Sejak 2026-11-01 jalan No. 12 RT 005 rusak. Hubungi +62 812-3456-7890 atau 0812 3456 7890, "
            "NIK 5371010101010001, e-mail yohanes.b@example.org. Salam, Yohanes Benu untuk mama ina")
    out = redact(text, REPORT)
    for gone in ("3456", "5371010101010001", "example.org", "Yohanes", "Benu", "mama ina"):
        assert gone.lower() not in out.lower(), gone
    for kept in ("2026-11-01", "No. 12", "RT 005", "rusak", "Hubungi", "Salam"):
        assert kept in out, kept
    assert out.count(MASK) >= 5


def test_rahasia_is_none_and_anonim_only_by_id():
    base = {"tracking_id": "LPR-TEST", "status": "diterima", "history": [], "description": "x"}
    assert public_report({**base, "privacy": "rahasia"}, by_id=True) is None
    assert public_report({**base, "privacy": "anonim"}) is None
    assert public_report({**base, "privacy": "anonim"}, by_id=True)["tracking_id"] == "LPR-TEST"
    assert public_report({**base, "privacy": "rahasia"}, own=True)["privacy"] == "rahasia"

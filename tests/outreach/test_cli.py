"""``laporbot campaign`` commands as a staff member runs them (real subprocesses against the test database)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from outreach.campaigns import Campaign
from outreach.dispatch import Outreach
from tests.outreach.helpers import add_contacts, contact_doc

ROOT = Path(__file__).resolve().parents[2]


def _cli(settings, *args, timeout=60):
    env = {**os.environ, "MONGODB_URI": settings.mongodb_uri, "LAPOR_DB": settings.lapor_db,
           "LAPOR_DATA_DIR": str(settings.lapor_data_dir)}
    for k in ("TELEGRAM_BOT_TOKEN", "WHATSAPP_ACCESS_TOKEN", "SMS_AUTH_TOKEN", "RASA_URL"):
        env.pop(k, None)
    return subprocess.run([sys.executable, "-m", "bot.cli", "campaign", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


async def test_preview_stats_qr_and_staff_only_test(stores, settings, tmp_path):
    await add_contacts(stores, [contact_doc("telegram", f"t{i}") for i in range(3)] +
                       [contact_doc("whatsapp", f"62{i}", language="en") for i in range(2)] +
                       [contact_doc("telegram", "staff1", tags=["staff"])])
    r = _cli(settings, "preview", "goes-to-campus")
    assert r.returncode == 0, r.stderr
    assert "Audience: 6" in r.stdout and "telegram/id" in r.stdout and "whatsapp/en" in r.stdout
    assert "GSM-7" in r.stdout and "No template errors." in r.stdout
    out = Outreach(stores.db)
    await out.campaigns.save(Campaign(name="salah", template={"id": {"default": "Halo {{ nama }}", "sms": "x" * 170}},
                                      sms_one_segment=True))
    r = _cli(settings, "preview", "salah")
    assert r.returncode == 1 and "missing variable" in r.stdout and "over one segment" in r.stdout
    r = _cli(settings, "run", "salah")
    assert r.returncode == 1 and "nothing sent" in r.stderr
    r = _cli(settings, "stats", "goes-to-campus", "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["audience"] == 6 and st["sent"] == 0 and st["attribution"]["signups"] == 0
    r = _cli(settings, "qr", "goes-to-campus", "--code", "kampus-unsri", "--out", str(tmp_path),
             "--telegram-bot", "lapor_bot")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "goes-to-campus-KAMPUS-UNSRI.png").exists()
    assert (tmp_path / "goes-to-campus-KAMPUS-UNSRI.svg").exists()
    assert "https://t.me/lapor_bot?start=KAMPUS-UNSRI" in r.stdout
    r = _cli(settings, "test", "goes-to-campus", "--to", "telegram:t1")
    assert r.returncode == 1 and "not tagged 'staff'" in r.stderr
    r = _cli(settings, "code", "goes-to-campus", "--code", "KAMPUS-UGM", "--venue", "Stan UGM", "--segment", "kampus")
    assert r.returncode == 0 and (await out.codes.lookup("kampus-ugm"))["venue"] == "Stan UGM"

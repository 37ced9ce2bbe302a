"""A real ``laporbot campaign run`` subprocess killed with SIGKILL mid-run, then resumed: nobody twice."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from outreach.campaigns import Campaign
from outreach.dispatch import Outreach
from tests.outreach.helpers import add_contacts, contact_doc

ROOT = Path(__file__).resolve().parents[2]


def _spawn(settings, out: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "MONGODB_URI": settings.mongodb_uri, "LAPOR_DB": settings.lapor_db,
           "LAPOR_DATA_DIR": str(settings.lapor_data_dir), "RECORDER_RATE": "40"}
    for k in ("TELEGRAM_BOT_TOKEN", "WHATSAPP_ACCESS_TOKEN", "SMS_AUTH_TOKEN", "RASA_URL"):
        env.pop(k, None)
    return subprocess.Popen([sys.executable, "-m", "tests.outreach.recorder_run", str(out), name], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_sigkill_mid_run_then_resume_sends_nobody_twice(stores, settings, tmp_path):
    n = 400
    await add_contacts(stores, [contact_doc("telegram", f"k{i:04d}") for i in range(n)])
    out = Outreach(stores.db)
    await out.ensure_indexes()
    await out.campaigns.save(Campaign(name="kill-test", template={"id": "Halo {{ contact.name }}"},
                                      audience={"segment": ["kampus"]}))
    sends = tmp_path / "sends.txt"
    proc = _spawn(settings, sends, "kill-test")
    deadline = time.monotonic() + 60
    while len(_lines(sends)) < n // 3:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "subprocess did not start sending"
        await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    at_kill = len(_lines(sends))
    assert at_kill < n
    proc2 = _spawn(settings, sends, "kill-test")
    stdout, stderr = await asyncio.to_thread(proc2.communicate, timeout=120)
    assert proc2.returncode == 0, stderr.decode()[-3000:]
    per_user = Counter(line.split()[0] for line in _lines(sends))
    assert max(per_user.values()) == 1, [u for u, k in per_user.items() if k > 1][:5]
    # every contact got it once, except messages claimed by the killed process but not yet sent: those are
    # marked 'interrupted' (never resent) — at-most-once, bounded by the campaign's queue window
    msgs = stores.db["messages"]
    interrupted = await msgs.count_documents({"campaign": "kill-test", "status": {"$in": ["sending", "failed"]}})
    assert len(per_user) + interrupted >= n - 0 and len(per_user) >= n - 100
    assert await msgs.count_documents({"campaign": "kill-test"}) == n
    assert await stores.db["campaign_deliveries"].count_documents({"run": "kill-test"}) == n

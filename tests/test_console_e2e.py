"""End to end through the console channel: lines piped into ``laporbot chat`` on a real database."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

LAPORBOT = str(Path(sys.executable).with_name("laporbot"))


def run_chat(settings, lines: list[str], user: str = "warga", extra_env: dict | None = None) -> str:
    env = {**os.environ, "MONGODB_URI": settings.mongodb_uri, "LAPOR_DB": settings.lapor_db,
           "LAPOR_DATA_DIR": str(settings.lapor_data_dir), **(extra_env or {})}
    env.pop("RASA_URL", None)
    proc = subprocess.run([LAPORBOT, "chat", "--no-nlu", "--user", user], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_console_files_a_report_and_shows_its_status(settings, stores):
    out = run_chat(settings, [
        "halo", "ya",                    # consent
        "lapor",                         # start filing
        "pengaduan",
        "Jalan di depan SDN 3 berlubang besar dan sudah ada motor jatuh",
        "Jl. Sudirman, Kota Kupang",
        "kemarin",
        "infrastruktur",
        "1",                             # suggested agency
        "lewati",                        # attachments
        "anonim",
        "kirim",
    ])
    m = re.search(r"LPR-[0-9A-Z]{7}", out)
    assert m, out[-3000:]
    tid = m.group(0)
    out2 = run_chat(settings, [f"cek status {tid}"])
    assert tid in out2 and ("Diterima" in out2 or "Received" in out2)


async def test_console_report_is_stored_with_its_slots(settings, stores):
    out = run_chat(settings, ["halo", "ya", "lapor", "aspirasi",
                              "Mohon ditambah lampu jalan di taman kota karena gelap sekali malam hari",
                              "Taman Kota, Kota Kendari", "lewati", "lingkungan", "2", "lewati", "publik", "ya"],
                   user="kendari")
    tid = re.search(r"LPR-[0-9A-Z]{7}", out).group(0)
    report = await stores.reports.get(tid)
    assert report["type"] == "aspirasi" and report["privacy"] == "publik"
    assert report["location"]["region_name"] and "Kendari" in report["location"]["region_name"]
    assert report["status"] == "diterima" and report["incident_date"] is None
    contact = await stores.contacts.find_by_identity("console", "kendari")
    assert report["contact_id"] == contact["_id"]


def test_invalid_settings_exit_2_with_one_clear_line(tmp_path):
    env = {**os.environ, "LAPOR_HTTP_PORT": "not-a-port", "LAPOR_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([LAPORBOT, "chat", "--no-nlu"], input="", capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 2
    assert "LAPOR_HTTP_PORT" in proc.stderr and "Traceback" not in proc.stderr


def test_embedded_database_keeps_data_across_restarts(tmp_path):
    from pymongo import MongoClient

    from bot.embedded_db import EmbeddedMongo

    first = EmbeddedMongo(tmp_path / "db")
    with first:
        MongoClient(first.uri).lapor.probe.insert_one({"_id": "kept", "v": 1})
    second = EmbeddedMongo(tmp_path / "db")
    with second:
        assert MongoClient(second.uri).lapor.probe.find_one({"_id": "kept"})["v"] == 1
    assert second.proc.poll() is not None  # stopped on exit


def test_laporbot_run_serves_healthz_and_stops_on_sigterm(tmp_path):
    import json
    import signal
    from bot.embedded_db import free_port
    from bot.processes import die_with_parent
    import time
    import urllib.request

    port = free_port()
    env = {**os.environ, "LAPOR_DATA_DIR": str(tmp_path), "LAPOR_HTTP_PORT": str(port)}
    env.pop("MONGODB_URI", None)
    proc = subprocess.Popen([LAPORBOT, "run", "--no-nlu"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
    try:
        body = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = json.loads(r.read())
                    status = r.status
                break
            except OSError:
                time.sleep(0.25)
        assert body is not None, proc.stderr.read() if proc.poll() is not None else "no answer"
        assert status == 200 and body["dependencies"]["database"]["state"] == "up"
        assert body["dependencies"]["database"]["embedded"] is True
        assert (tmp_path / "db").is_dir()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_database_down_at_start_gives_one_clear_line_and_no_traceback(tmp_path):
    env = {**os.environ, "MONGODB_URI": "mongodb://127.0.0.1:9/?directConnection=true",
           "LAPOR_DB_CONNECT_ATTEMPTS": "2",
           "LAPOR_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([LAPORBOT, "chat", "--no-nlu"], input="halo\n", capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 1
    assert "could not start: the database is not reachable" in proc.stderr
    assert "retry 1/" in proc.stderr and "Traceback" not in proc.stderr

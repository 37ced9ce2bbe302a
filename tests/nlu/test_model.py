"""Tests against the real trained model (session fixture `rasa_url` from tests/fixtures/nlu.py)."""
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.nlu.evaluate import evaluate, format_report, load_jsonl

pytestmark = pytest.mark.nlu
HERE = Path(__file__).parent
REPO = HERE.parents[1]

# Fail the build when understanding regresses below these (measured values are in docs/nlu.md).
MIN_INTENT_ACCURACY = 0.95
MIN_CATEGORY_MACRO_F1 = 0.85
MIN_ENTITY_F1 = {"lokasi": 0.85, "nomor_laporan": 0.95, "tanggal": 0.85, "instansi": 0.85}


async def test_heldout_thresholds(nlu_client):
    rows = load_jsonl(HERE / "heldout.jsonl")
    result = await evaluate(rows, nlu_client)
    report = format_report(result)
    print(report)
    assert result["n"] == len(rows) >= 300
    assert not [e for e in result["errors"] if e["source"] != "rasa"], "some answers were degraded"
    assert result["intent_accuracy"] >= MIN_INTENT_ACCURACY, report
    assert result["category_macro_f1"] >= MIN_CATEGORY_MACRO_F1, report
    for kind, floor in MIN_ENTITY_F1.items():
        assert result["entities"][kind]["f1"] >= floor, report


# Issue 14 targets on the messy held-out set (measured values in docs/nlu.md); all three hold.
MESSY_MIN_INTENT_ACCURACY = 0.93
MESSY_MIN_CATEGORY_MACRO_F1 = 0.85
MESSY_MIN_REGION_ACCURACY = 0.90


async def test_messy_heldout_thresholds(nlu_client):
    rows = load_jsonl(HERE / "heldout_messy.jsonl")
    result = await evaluate(rows, nlu_client)
    report = format_report(result)
    print(report)
    assert result["n"] == len(rows) >= 300 and result["region_lines"] >= 40
    assert not [e for e in result["errors"] if e["source"] != "rasa"], "some answers were degraded"
    assert result["intent_accuracy"] >= MESSY_MIN_INTENT_ACCURACY, report
    assert result["category_macro_f1"] >= MESSY_MIN_CATEGORY_MACRO_F1, report
    assert result["region_accuracy"] >= MESSY_MIN_REGION_ACCURACY, report


async def test_kupang_example(nlu_client):
    text = "jalan di depan SDN 3 Oebobo Kupang berlubang besar sejak 2 minggu lalu, sudah ada motor jatuh"
    it = await nlu_client.parse(text)
    assert it.source == "rasa"
    assert it.intent == "lapor" and it.category == "infrastruktur"
    # Either resolved to Kota Kupang, or ambiguous with Kota Kupang among the candidates (the bot asks back).
    if it.region is not None:
        assert it.region.name == "Kota Kupang" and it.region.code == "53.71"
    else:
        assert "Kota Kupang" in {r.name for r in it.region_candidates}
    assert it.incident_date is not None
    assert abs((dt.date.today() - it.incident_date).days - 14) <= 1
    assert it.date_text == "2 minggu lalu"


async def test_tracking_ids(nlu_client):
    it = await nlu_client.parse("status laporan LPR-9FNM0J5 gimana?")
    assert it.intent == "cek_status" and it.tracking_id == "LPR-9FNM0J5"
    it = await nlu_client.parse("status laporan LPR-9FNM0J6 gimana?")  # wrong check character
    assert it.tracking_id is None and it.tracking_id_error == "checksum"


@pytest.mark.parametrize("text", [
    "",
    "🙏🙏🙏",
    "x" * 10_000,
    "jalan " * 2000 + "rusak di kota kupang",
    "min, dalan nang ngarep omahku rusak parah, please fix it asap",  # Javanese + Indonesian + English
    "'; DROP TABLE reports; --",
    "<script>alert('x')</script> jalan rusak",
    "<b>halo</b>",
    "{{7*7}} ${jndi:ldap://x}",
    "\x00\x01 null bytes",
    "ok" * 3,
])
async def test_bad_input_gets_defined_interpretation(nlu_client, text):
    it = await nlu_client.parse(text)
    assert it.source == "rasa"
    assert it.intent is None or it.intent in ("sapa", "lapor", "cek_status", "bantuan", "batal", "ya", "tidak",
                                              "terima_kasih", "berhenti", "luar_lingkup", "relawan")
    assert it.category is None or it.intent == "lapor"
    assert len(it.text) <= 2000
    json.dumps(it.to_json())  # always serializable


async def test_bad_input_specifics(nlu_client):
    assert (await nlu_client.parse("")).intent is None
    assert (await nlu_client.parse("🙏🙏🙏")).intent is None
    mixed = await nlu_client.parse("min, dalan nang ngarep omahku rusak parah, please fix it asap")
    assert mixed.intent == "lapor"


def test_cli_eval_json(rasa_url, tmp_path):
    sample = tmp_path / "s.jsonl"
    lines = (HERE / "heldout.jsonl").read_text(encoding="utf-8").splitlines()
    sample.write_text("\n".join(lines[:5] + lines[-5:]) + "\n", encoding="utf-8")
    env = dict(os.environ, RASA_URL=rasa_url)
    out = subprocess.run([sys.executable, "-m", "bot.nlu.cli", "nlu", "eval", str(sample), "--json"],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert list(result) == ["n", "intent_accuracy", "category_accuracy", "category_macro_f1", "entities",
                            "region_lines", "region_accuracy", "errors"]
    assert result["n"] == 10
    for m in result["entities"].values():
        assert set(m) == {"precision", "recall", "f1"}


def test_cli_parse(rasa_url):
    env = dict(os.environ, RASA_URL=rasa_url)
    out = subprocess.run([sys.executable, "-m", "bot.nlu.cli", "nlu", "parse", "listrik padam di kab kupang kemarin"],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    js = json.loads(out.stdout)
    assert js["intent"] == "lapor" and js["region"]["name"] == "Kabupaten Kupang"
    assert js["incident_date"] == (dt.date.today() - dt.timedelta(days=1)).isoformat()

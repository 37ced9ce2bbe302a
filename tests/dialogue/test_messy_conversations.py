"""Twenty scripted conversations in messy Indonesian and in English (issue 14), with the real model.

Each citizen writes a first message, agrees to the terms, then answers whatever the bot asks in their own
style. Every conversation must end with a receipt, and no question may be asked more than twice in a row
(checked for every conversation by the autouse fixture in conftest.py). Completion, questions to file and the
longest run of repeated questions are printed at the end of the run."""
import pytest

from tests.chat import Chat
from tests.dialogue.conftest import METRICS, tracking_id

ID = {"type": "pengaduan dong", "description": "jalan depan rmh sy rusak parah min, lubangnya gede2, udh 2 mgg",
      "location": "jln merdeka depan pasar, kota kupang", "region": "1", "incident_date": "kmrn",
      "category": "1", "agency": "biar petugas aja", "attachments": "gk ada", "privacy": "rahasia aja",
      "confirmed": "kirim dong"}
EN = {"type": "complaint", "description": "the road in front of my house has big holes for two weeks",
      "location": "Jl. Ahmad Yani near the market, Kota Kendari", "region": "1", "incident_date": "yesterday",
      "category": "1", "agency": "yes that is fine, please send it", "attachments": "no photos",
      "privacy": "confidential", "confirmed": "yes send it"}

CONVERSATIONS = [
    ("id", "min jln di dpn SDN 3 oebobo kupang bolong2 gede bgt udh 2 mgg, motor pd jatuh 😡", {}),
    ("id", "PDAM DI KOTA KENDARI MATI UDAH 3 HARI, WARGA GK BISA MANDI", {}),
    ("id", "gan mau lapor dong", {}),
    ("id", "yg bener aja, puskesmas di Serpong tutup pas jam pelayanan, pasien disuruh pulang", {}),
    ("id", "sy mo ngadu soal KTP el yg gk jadi2 udh 8 bln di disdukcapil kota kupang",
     {"privacy": "yang anonim dong"}),
    ("id", "punten, jalan ka lembur di Cibinong ruksak pisan, hese dilalui motor", {"privacy": "publik deh"}),
    ("id", "mas, dalan neng ngarep omahku rusak parah, wis setahun ra didandani, nggih", {}),
    ("id", "halo kak, sy mau cerita dulu ya, kemaren sy ke kantor kelurahan mau ngurus surat pindah, "
           "udh antri dr pagi, trs petugasnya bilang sistem error, disuruh balik besok, besoknya sama aja, "
           "intinya surat pindah sy dipersulit trs di kelurahan oebobo kupang", {}),
    ("id", "tolong min bansos PKH ibu sy gk cair udh 2 tahap di kab kupang", {"agency": "terserah"}),
    ("id", "lampu jalan di gang kami mati smua, gelap bgt, rawan", {"location": "gang mawar rt 3, kota kendari"}),
    ("id", "guru honorer di SD kami gajinya telat 4 bln, tolong dicek", {"incident_date": "gk tau"}),
    ("id", "sampah numpuk di TPS deket pasar udh seminggu gk diangkut, bau bgt 🤮",
     {"location": "pasar baru, kota kupang"}),
    ("id", "LAPOR", {"description": "parkir liar di depan minimarket maksa bayar 10rb, kalo gk dikasih ngamuk"}),
    ("en", "I want to complain, the shop in Kota Kendari sold me expired milk and refused to refund", {}),
    ("en", "hello, the street lights on our road in Kota Kupang have been off for three weeks", {}),
    ("en", "I would like to report a problem", {}),
    ("en", "my salary has not been paid for two months by a company in Kota Kendari", {"privacy": "anonymous"}),
    ("en", "The health centre near my house is always closed during opening hours, nobody answers the phone",
     {"agency": "let staff decide"}),
    ("en", "there has been no water from the tap for four days in our housing complex in Kota Kupang",
     {"incident_date": "I don't know"}),
    ("en", "the school asks parents for money every month, it is a public school in Kota Kendari", {}),
]


@pytest.mark.parametrize("lang,first,answers", CONVERSATIONS, ids=[f"{c[0]}-{i + 1}" for i, c in enumerate(CONVERSATIONS)])
async def test_messy_and_english_conversations_complete(rt, lang, first, answers):
    chat = Chat(rt, f"messy-{abs(hash(first)) % 10**8}")
    await chat.send(first)
    await chat.send("iyaa" if lang == "id" else "yes")
    script = {**(ID if lang == "id" else EN), **answers}
    METRICS.setdefault("scripted", [0, 0])[1] += 1
    for _ in range(16):
        if tracking_id(chat) and "filing/receipt" in chat.templates():
            break
        st = await chat.state()
        step = st.get("step") if st.get("flow") else None
        if step is None:
            # not filing yet (a bare "I want to report"): say what it is about
            await chat.send(script["description"])
            continue
        await chat.send(script[step])
    tid = tracking_id(chat)
    assert tid and "filing/receipt" in chat.templates(), chat.transcript[-4:]
    METRICS["scripted"][0] += 1
    asked = [t for t in chat.seen_templates if t.startswith("filing/ask") or t in ("filing/summary",)]
    METRICS["questions_to_file"].append(len(asked))
    contact = await chat.contact()
    assert contact["language"] == lang
    report = await rt.stores.reports.get(tid)
    assert report["language"] == lang and report["description"]

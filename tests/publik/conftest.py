"""Public page fixtures: a runtime serving HTTP with citizens whose personal data must never show."""
from __future__ import annotations

import aiohttp
import pytest

from tests.staff.conftest import advance, citizen, make_report

# The test citizens: nothing of these may appear on a public page.
PEOPLE = [("6281299990001", "whatsapp", "Dewi Lestari"), ("77001234567", "telegram", "Yosef Manafe"),
          ("+6281377770002", "sms", "Maria Goreti")]
VOLUNTEER = ("6281255550003", "whatsapp", "Agustinus Relawan")
ON_BEHALF = ("Bapak Tua Kolo", "081266660004")


def personal_bits() -> list[str]:
    bits = []
    for uid, _, name in PEOPLE + [VOLUNTEER]:
        bits += [uid, uid.lstrip("+"), uid[-8:], *name.split()]
    bits += [ON_BEHALF[0], ON_BEHALF[1], ON_BEHALF[1][-8:], "Kolo"]
    return bits


@pytest.fixture
async def rt(make_runtime):
    return await make_runtime(http=True)


@pytest.fixture
async def client(rt):
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{rt.http_port}") as s:
        yield s


@pytest.fixture
async def world(rt):
    """Reports of every privacy level and several states, filed by the test citizens."""
    from gridfs import AsyncGridFSBucket

    from tests.privacy.photos import gps_jpeg

    people = [await citizen(rt, user_id=u, channel=c, name=n) for u, c, n in PEOPLE]
    vol = await citizen(rt, user_id=VOLUNTEER[0], channel=VOLUNTEER[1], name=VOLUNTEER[2])
    fid = await AsyncGridFSBucket(rt.stores.db).upload_from_stream("foto.jpg", gps_jpeg())
    photo = {"kind": "photo", "mime_type": "image/jpeg", "filename": "IMG_Dewi.jpg", "size": 1, "gridfs_id": fid}
    out = {
        "answered": await make_report(rt, people[0], privacy="publik", attachments=[photo],
                                      description="Jalan rusak parah di depan rumah saya, hubungi 081299990001 "
                                                  "atau Dewi Lestari di dewi@example.org"),
        "settled": await make_report(rt, people[1], privacy="publik", category="kesehatan",
                                     region=("74.71", "Kota Kendari", "74", "Sulawesi Tenggara"),
                                     description="Antrean puskesmas Mandonga sangat panjang sejak pagi"),
        "volunteer": await make_report(rt, None, privacy="publik", contact_id=None, reporter_name=None,
                                       volunteer_id=vol["_id"], on_behalf={"name": ON_BEHALF[0],
                                                                           "phone": ON_BEHALF[1], "consent": True},
                                       description="Bantuan sosial untuk lansia di RT 05 belum cair"),
        "anonim": await make_report(rt, people[2], privacy="anonim",
                                    description="Pungutan liar di kantor kelurahan untuk surat pindah"),
        "rahasia": await make_report(rt, people[2], privacy="rahasia",
                                     description="Dugaan pungli petugas RAHASIA-TIDAK-BOLEH-TAMPIL"),
    }
    await advance(rt, out["answered"]["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi")
    await advance(rt, out["settled"]["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi", "selesai",
                  agency="DINKES-74.71")
    await advance(rt, out["rahasia"]["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi")
    return {k: await rt.stores.reports.get(v["tracking_id"]) for k, v in out.items()}


__all__ = ["advance", "citizen", "make_report", "personal_bits"]

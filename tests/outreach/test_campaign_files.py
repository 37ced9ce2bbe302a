"""The operator's campaign files live in $LAPOR_DATA_DIR/campaigns/ (issue 18); shipped ones are examples."""
from __future__ import annotations

import aiohttp
import pytest

from outreach.campaigns import InvalidName, CAMPAIGN_DIR, campaign_dirs, campaign_file
from tests.fixtures.fakes import wait_until

BOOTH = """\
name: booth-day
goal: "Hari stan LAPOR!"
template: {id: "Halo {{ contact.name }}", en: "Hi"}
audience: {segment: [kampus], channel: [telegram]}
codes:
  - {code: BOOTH-DAY-1, venue: Stan A, segment: kampus, institution: Universitas Contoh}
"""
OVERRIDE = """\
name: goes-to-media
goal: "Versi operator"
template: {id: "Halo media"}
audience: {segment: [media]}
"""
BAD = """\
name: rusak
template: {id: "Halo"}
audience: {segment: [alien]}
"""


async def test_data_dir_campaigns_load_validated_and_served_by_the_api(settings, make_runtime):
    folder = settings.lapor_data_dir / "campaigns"
    folder.mkdir(parents=True)
    (folder / "booth-day.yml").write_text(BOOTH)
    (folder / "goes-to-media.yml").write_text(OVERRIDE)  # replaces the shipped example of that name
    (folder / "rusak.yml").write_text(BAD)  # invalid: skipped and logged, the others still load
    (settings.lapor_data_dir / "rahasia.yml").write_text(BOOTH.replace("booth-day", "rahasia"))
    rt = await make_runtime(http=True)
    out = rt.outreach
    info = await wait_until(lambda: out.codes.lookup("booth-day-1"))  # synced by the scheduler at start
    assert info["campaign"] == "booth-day" and info["institution"] == "Universitas Contoh"
    assert (await out.campaigns.get("goes-to-media")).goal == "Versi operator"
    assert await out.campaigns.get("goes-to-campus") is not None  # shipped examples still load
    assert await out.campaigns.get("rusak") is None
    for name in ("../rahasia", "..", "/etc/passwd", "rahasia/../booth-day", "Booth-Day"):
        assert campaign_file(name, campaign_dirs(settings.lapor_data_dir)) is None
    with pytest.raises(InvalidName):  # a name is never a path
        await out.campaigns.get("../rahasia")
    base = f"http://127.0.0.1:{rt.http_port}/api/v1/campaigns"
    auth = {"Authorization": f"Bearer {rt.settings.lapor_staff_token}"}
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{base}/booth-day/stats", headers=auth) as r:
            assert r.status == 200 and (await r.json())["campaign"] == "booth-day"
        async with s.get(f"{base}/rusak/stats", headers=auth) as r:
            assert r.status == 404


def test_campaign_dirs_put_the_operator_last():
    assert campaign_dirs(None) == [CAMPAIGN_DIR]
    assert campaign_dirs("/srv/lapor")[-1].as_posix() == "/srv/lapor/campaigns"

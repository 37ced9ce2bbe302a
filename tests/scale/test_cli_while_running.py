"""CLI commands next to running bot processes (this checkout's code, as separate OS processes): ``laporbot staff
token`` and ``laporbot stats`` find the running ``laporbot db`` by the data directory, the token they issue works
on every running bot's API at once, ``stats`` counts what the bots stored, and the bots are not disturbed."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bench.cluster import APP_SECRET, LAPORBOT, ROOT, base_env, healthy
from bot.processes import die_with_parent
from tests.scale.citizens import Balancer, Citizen, running_cluster


async def cli(*args, env: dict, timeout_s: float = 120) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(*LAPORBOT, *args, env=env, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                preexec_fn=die_with_parent)
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


ADMIN = "scale-admin-token-0123456789"
AGENCY = "DPU-53.71"


@pytest.mark.timeout(400)
async def test_staff_token_and_stats_while_two_bots_run(tmp_path):
    async with running_cluster(tmp_path, n=2, LAPOR_STAFF_TOKEN=ADMIN) as (graph, cluster, db):
        async with Balancer(graph, cluster.urls(), APP_SECRET) as lb:
            confirmation = await Citizen(lb, "6281380000001").file_report()
        assert confirmation and "LPR-" in confirmation
        report = await db["reports"].find_one({})
        env = base_env(cluster.data_dir)  # no MONGODB_URI: the running ``laporbot db`` is found by the data dir
        rc, out, err = await cli("staff", "token", "--agency", AGENCY, env=env)
        assert rc == 0, err
        token = out.strip()
        assert token.startswith("lapag_")
        async with aiohttp.ClientSession() as s:
            url = f"{cluster.urls()[0]}/api/v1/reports/{report['tracking_id']}/transitions"
            for step in ({"to": "terverifikasi"}, {"to": "diteruskan", "agency": AGENCY}):  # now the agency's
                async with s.post(url, json=step, headers={"Authorization": f"Bearer {ADMIN}"}) as r:
                    assert r.status == 200, await r.text()
            for url in cluster.urls():  # issued once, valid on every process
                async with s.get(url + "/api/v1/reports", headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status == 200
                    assert [x["tracking_id"] for x in (await r.json())["items"]] == [report["tracking_id"]]
        rc, out, err = await cli("stats", "--by", "category", env=env)
        assert rc == 0, err
        total = next(line for line in out.splitlines() if line.startswith("TOTAL"))
        assert total.split()[1] == "1"  # the one report the bots filed
        for port in cluster.ports:  # the bots kept serving
            assert (await healthy(port))["dependencies"]["database"]["state"] == "up"
    assert all(c == 0 for c in cluster.exit_codes)

"""One embedded database shared by processes: ``laporbot db`` on its own, and CLI commands next to a running bot."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from bench.cluster import base_env, healthy, stop_process
from bot.embedded_db import free_port
from bot.processes import die_with_parent

LAPORBOT = str(Path(sys.executable).with_name("laporbot"))


async def _run(*args, env: dict, timeout_s: float = 90) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(LAPORBOT, *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
                                                preexec_fn=die_with_parent)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    return proc.returncode, out.decode(errors="replace")


@pytest.mark.timeout(240)
async def test_cli_commands_use_the_running_bots_embedded_database(tmp_path):
    port = free_port()
    env = base_env(tmp_path / "var", LAPOR_HTTP_PORT=str(port))
    bot = await asyncio.create_subprocess_exec(LAPORBOT, "run", "--no-console", "--no-nlu", env=env,
                                               stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                                               stdin=asyncio.subprocess.DEVNULL, preexec_fn=die_with_parent)
    try:
        health = await healthy(port, 90)
        assert health["dependencies"]["database"]["embedded"] is True
        rc, out = await _run("staff", "token", "--agency", "DPU-53.71", env=env)
        assert rc == 0, out
        rc, out = await _run("stats", env=env)
        assert rc == 0, out
        # the bot kept its database: still healthy, and the token the CLI issued is stored in it
        assert (await healthy(port, 90))["dependencies"]["database"]["state"] == "up"
    finally:
        await stop_process(bot)
    assert bot.returncode == 0


@pytest.mark.timeout(240)
async def test_laporbot_db_serves_bot_processes_that_find_it_by_the_data_dir(tmp_path):
    env = base_env(tmp_path / "var")
    db = await asyncio.create_subprocess_exec(LAPORBOT, "db", env=env, stdout=asyncio.subprocess.PIPE,
                                              stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL,
                                              preexec_fn=die_with_parent)
    bots = []
    try:
        line = (await asyncio.wait_for(db.stdout.readline(), 60)).decode().strip()
        assert line.startswith("MONGODB_URI=mongodb://127.0.0.1:")
        rc, out = await _run("db", env=env)  # a second one finds the first instead of fighting over the files
        assert rc == 0 and line in out
        ports = [free_port(), free_port()]
        logs = [tmp_path / "bot0.log", tmp_path / "bot1.log"]
        for p, log, extra in zip(ports, logs, ({}, {"MONGODB_URI": line.split("=", 1)[1]})):
            with open(log, "wb") as err:
                bots.append(await asyncio.create_subprocess_exec(
                    LAPORBOT, "run", "--no-console", "--no-nlu", env={**env, "LAPOR_HTTP_PORT": str(p), **extra},
                    stdout=asyncio.subprocess.DEVNULL, stderr=err, stdin=asyncio.subprocess.DEVNULL,
                    preexec_fn=die_with_parent))
        for p, log, bot in zip(ports, logs, bots):
            health = await healthy(p, 90, proc=bot, log=log)
            # neither bot started a database of its own
            assert health["dependencies"]["database"] == {"state": "up", "embedded": False}
    finally:
        for b in bots:
            await stop_process(b)
        await stop_process(db)
    assert db.returncode == 0 and all(b.returncode == 0 for b in bots)

"""Signing keys kept in the data directory (``bot/kept_keys.py``): bot processes starting at once on a new data
directory all end up with the same whole key (a scale test once saw one exit with "File exists: webchat.key")."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.kept_keys import kept_key

pytestmark = pytest.mark.timeout(60)

# each process waits for the same instant, then asks for the key (the old code failed 17 times in 20 like this)
PROBE = "import sys, time; from types import SimpleNamespace as S; from bot.kept_keys import kept_key; " \
        "time.sleep(max(0, float(sys.argv[2]) - time.time())); " \
        "print(kept_key(S(lapor_secret_key=None, lapor_data_dir=sys.argv[1]), 'webchat').hex())"


def test_processes_starting_together_share_one_key(tmp_path):
    root = Path(__file__).resolve().parents[1]
    for attempt in range(5):
        data = tmp_path / f"var{attempt}"
        at = str(time.time() + 2.0)  # after every interpreter has started, even on a loaded machine
        procs = [subprocess.Popen([sys.executable, "-c", PROBE, str(data), at], cwd=root, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
        outs = [p.communicate(timeout=30) for p in procs]
        assert [p.returncode for p in procs] == [0] * 6, [err for _, err in outs]
        keys = {out.strip() for out, _ in outs}
        assert len(keys) == 1 and len(bytes.fromhex(keys.pop())) == 32
        assert [f.name for f in data.iterdir()] == ["webchat.key"]  # no candidate file left behind
        assert (data / "webchat.key").stat().st_mode & 0o777 == 0o600


def test_a_secret_key_derives_distinct_keys_per_purpose_and_writes_nothing(tmp_path):
    settings = SimpleNamespace(lapor_secret_key="s3cret", lapor_data_dir=tmp_path / "var")
    assert kept_key(settings, "webchat") != kept_key(settings, "staff")
    assert kept_key(settings, "staff") == kept_key(settings, "staff")
    assert not (tmp_path / "var").exists()

"""``laporbot staff upstream``: set, list (never the key), remove; unknown agencies and bad URLs refused."""
from argparse import Namespace

from bot.forwarding.upstreams import UpstreamStore, _cli


def args(**kw) -> Namespace:
    base = dict(agency=None, open311=None, api_key=None, service=[], jurisdiction=None, remove=False, list=False)
    return Namespace(**{**base, **kw})


async def test_upstream_cli(stores, settings, monkeypatch, capsys):
    monkeypatch.setenv("MONGODB_URI", settings.mongodb_uri)
    monkeypatch.setenv("LAPOR_DB", settings.lapor_db)
    monkeypatch.setenv("LAPOR_DATA_DIR", str(settings.lapor_data_dir))
    assert await _cli(args(agency="dpu-53.71", open311="https://sipelita.example/open311/v2/",
                           api_key="secret-key-123", service=["infrastruktur=jalan_rusak"])) == 0
    doc = await UpstreamStore(stores.db).get("DPU-53.71")
    assert doc["endpoint"] == "https://sipelita.example/open311/v2" and doc["services"] == {
        "infrastruktur": "jalan_rusak"}
    capsys.readouterr()
    assert await _cli(args(list=True)) == 0
    out = capsys.readouterr().out
    assert "DPU-53.71" in out and "secret-key-123" not in out
    assert await _cli(args(agency="NOPE-1", open311="https://x", api_key="k")) == 2
    assert await _cli(args(agency="PLN", open311="ftp://x", api_key="k")) == 2
    assert await _cli(args(agency="PLN")) == 2  # no URL, no key
    assert await _cli(args(agency="DPU-53.71", remove=True)) == 0
    assert await UpstreamStore(stores.db).get("DPU-53.71") is None
    assert await stores.db["audit"].count_documents({"action": {"$in": ["upstream_set", "upstream_remove"]}}) == 2

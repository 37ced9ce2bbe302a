"""Staff-written campaign texts run in the jinja2 sandbox; campaign names never become paths."""
from __future__ import annotations

import aiohttp
import pytest

from outreach import sandbox
from outreach.campaigns import CampaignStore, InvalidName, named_file
from outreach.render import SAMPLE_CONTACT, context


def payloads(marker) -> list[str]:
    cmd = f"touch {marker}"
    return [
        "{{ cycler.__init__.__globals__.os.system('%s') }}" % cmd,
        "{{ joiner.__init__.__globals__.os.popen('%s').read() }}" % cmd,
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.__class__.__init__.__globals__ }}",
        "{{ contact.name|attr('__class__') }}",
        "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.system('%s') }}" % cmd,
        "{{ lipsum.__globals__['os'].system('%s') }}" % cmd,
        "{{ namespace.__init__.__globals__.os.system('%s') }}" % cmd,
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{{ contact.name.format() }}",
        "{{ 'x' * 50000 }}",
        "{{ 'x'.ljust(100000000) }}",
        "{% include '../../bot/config.py' %}",
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
        "{{ 1/0 }}",
        "{% for a in sub %}{% for b in sub %}{% for c in sub %}{% endfor %}{% endfor %}{% endfor %}",
    ]


@pytest.fixture
async def api(make_runtime):
    rt = await make_runtime(http=True)
    auth = {"Authorization": f"Bearer {rt.settings.lapor_staff_token}"}
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{rt.http_port}") as s:
        yield rt, s, auth


def campaign_body(text: str, name: str = "uji-sandbox", **extra) -> dict:
    return {"name": name, "goal": "Uji", "template": {"id": text}, "audience": {"channel": ["telegram"]}, **extra}


async def test_exploit_payloads_are_refused_at_creation_and_never_run(api, tmp_path):
    rt, s, auth = api
    marker = tmp_path / "PWNED"
    for i, text in enumerate(payloads(marker)):
        for body in (campaign_body(text, f"uji-{i}"),
                     campaign_body("Halo", f"uji-wa-{i}", whatsapp_template={"name": "t", "params": [text]})):
            r = await s.post("/api/v1/campaigns", json=body, headers=auth)
            assert r.status == 422, (text, await r.text())
            assert not marker.exists(), text
    assert await rt.stores.db.campaigns.count_documents({"source": "api"}) == 0
    # a plain text still works and is stored
    r = await s.post("/api/v1/campaigns", json=campaign_body("Halo {{ contact.name|upper or 'Sahabat' }}"),
                     headers=auth)
    assert r.status == 201, await r.text()


def test_sandbox_keeps_the_ready_made_syntax_and_refuses_the_rest():
    ctx = context(SAMPLE_CONTACT, type("C", (), {"name": "c", "goal": "Tujuan"})())
    assert sandbox.render("{% if contact.name %}Halo {{ contact.name }}{% endif %}, {{ campaign.goal }}",
                          **ctx) == "Halo Sari, Tujuan"
    assert sandbox.render("{{ contact.institution or 'sekolah Anda' }}", **ctx) == "Universitas Contoh"
    assert sandbox.render("{% for w in ['a', 'b'] %}{{ w }}{% endfor %}", **ctx) == "ab"
    from jinja2.exceptions import SecurityError

    for text in ("{{ range(10) }}", "{{ cycler }}", "{{ 9 ** 99 }}", "{{ 'ab' * 9000 }}"):
        with pytest.raises(Exception) as err:
            sandbox.render(text, **ctx)
        assert isinstance(err.value, SecurityError) or "undefined" in str(err.value), text


async def test_campaign_names_never_become_paths(api):
    rt, s, auth = api
    for name in ("..%2F..%2Fdialogues%2Ffiling", "..%2Fcampaigns%2Fgoes-to-campus", "x" * 300, "%2Fetc%2Fpasswd",
                 "A", "-x", "a%00b"):
        r = await s.get(f"/api/v1/campaigns/{name}/stats", headers=auth)
        assert r.status == 400, (name, r.status)
    assert (await s.get("/api/v1/campaigns/tidak-ada/stats", headers=auth)).status == 404
    assert (await s.get("/api/v1/campaigns/goes-to-campus/stats", headers=auth)).status == 200
    r = await s.post("/api/v1/campaigns", json=campaign_body("Halo", "x" * 300), headers=auth)
    assert r.status == 422
    r = await s.post("/api/v1/campaigns", json={**campaign_body("Halo"), "template": "../../dialogues/filing"},
                     headers=auth)
    assert r.status == 422 and "invalid name" in await r.text()
    for bad in ("../../dialogues/filing", "x" * 300, "", None, "a/b"):
        with pytest.raises(InvalidName):
            named_file(rt.settings.lapor_data_dir, bad)
    with pytest.raises(InvalidName):
        await CampaignStore(rt.stores.db).get("../../dialogues/filing")


async def test_bad_campaign_bodies_are_4xx(api):
    rt, s, auth = api
    cases = [b"[" * 5000, b"{" * 50 + b"}" * 50, b"\xff\xfe", b"{not json", b"[1]"]
    for raw in cases:
        r = await s.post("/api/v1/campaigns", data=raw, headers={**auth, "Content-Type": "application/json"})
        assert r.status == 400, raw[:20]
    for body in ({"name": "uji", "template": {"id": "x"}, "codes": [{}]},
                 {"name": "uji", "template": {"id": "x"}, "codes": [{"code": "OK-1", "segment": "planet"}]},
                 {"name": "uji", "template": {"id": "x"}, "codes": [{"code": "OK-1", "venue": {"a": 1}}]},
                 {"name": "uji", "template": {"id": {"default": "x"}, "fr": "y"}}):
        r = await s.post("/api/v1/campaigns", json=body, headers=auth)
        assert r.status == 422, (body, await r.text())

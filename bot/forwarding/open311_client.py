"""The Open311 GeoReport v2 connector: ``POST requests.json`` to file, ``GET requests.json?service_request_id=``
to follow. Our category is sent as ``service_code`` (or the configured upstream code), the region, privacy
and type as ``attribute[...]``, and our tracking ID as ``attribute[source_ref]`` so a retry after a lost
answer returns the same upstream request on servers that honour it (every LAPOR! Bot does); with other
servers a retry within their duplicate window is also answered with the first request.
"""
from __future__ import annotations

import json

import aiohttp

from bot.forwarding.connector import Outgoing, UpstreamError, UpstreamState

TIMEOUT_S = 15
IDS_PER_QUERY = 50


class Open311Connector:
    kind = "open311"

    def __init__(self, config: dict):
        self.endpoint = (config.get("endpoint") or "").rstrip("/")
        self.api_key = config.get("api_key") or ""
        self.jurisdiction_id = config.get("jurisdiction_id")
        self.services = config.get("services") or {}

    def form(self, r: Outgoing) -> dict:
        f = {"api_key": self.api_key, "service_code": self.services.get(r.category, r.category),
             "description": r.description, "attribute[source_ref]": r.tracking_id,
             "attribute[privacy]": r.privacy}
        if self.jurisdiction_id:
            f["jurisdiction_id"] = self.jurisdiction_id
        if r.latitude is not None and r.longitude is not None:
            f["lat"], f["long"] = str(r.latitude), str(r.longitude)
        address = ", ".join(x for x in (r.address, r.region_name) if x)
        if address:
            f["address_string"] = address
        if r.region_code:
            f["attribute[region]"] = r.region_code
        if r.type:
            f["attribute[type]"] = r.type
        if r.reporter_name:
            first, _, last = r.reporter_name.partition(" ")
            f["first_name"] = first
            if last:
                f["last_name"] = last
        return f

    async def _call(self, method: str, path: str, **kw):
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as s:
                async with s.request(method, self.endpoint + path, **kw) as resp:
                    raw = await resp.read()
                    status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamError(f"unreachable: {type(exc).__name__}") from None
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise UpstreamError(f"HTTP {status}: not JSON") from None
        if status >= 400:
            desc = body[0].get("description") if isinstance(body, list) and body and isinstance(body[0], dict) \
                else None
            raise UpstreamError(f"HTTP {status}: {str(desc or '')[:200]}")
        return body

    async def submit(self, report: Outgoing) -> str:
        body = await self._call("POST", "/requests.json", data=self.form(report))
        first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
        rid = first.get("service_request_id")
        if not isinstance(rid, (str, int)) or not str(rid).strip() or len(str(rid)) > 100:
            raise UpstreamError("answer without a service_request_id")
        return str(rid)

    async def states(self, upstream_ids: list[str]) -> list[UpstreamState]:
        out: list[UpstreamState] = []
        for i in range(0, len(upstream_ids), IDS_PER_QUERY):
            chunk = upstream_ids[i:i + IDS_PER_QUERY]
            params = {"service_request_id": ",".join(chunk), "api_key": self.api_key}
            if self.jurisdiction_id:
                params["jurisdiction_id"] = self.jurisdiction_id
            body = await self._call("GET", "/requests.json", params=params)
            if not isinstance(body, list):
                raise UpstreamError("requests answer is not a list")
            for item in body:
                if not isinstance(item, dict) or str(item.get("service_request_id")) not in chunk:
                    continue
                status = item.get("status")
                if status not in ("open", "closed"):
                    continue  # unreadable entry: ignored, asked again next round
                notes = item.get("status_notes")
                detail = item.get("lapor_status")
                out.append(UpstreamState(str(item["service_request_id"]), status == "open",
                                         detail if isinstance(detail, str) else None,
                                         notes[:4000] if isinstance(notes, str) and notes.strip() else None))
        return out

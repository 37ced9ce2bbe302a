"""``POST requests``: an Open311 client's form becomes a report in the normal lifecycle.

Checks, each answered with the spec's error array: ``api_key`` missing (400) or unknown/revoked (403);
``service_code`` missing (400) or unknown (404); no location (neither ``lat``+``long`` nor
``address_string``: 400); ``lat``/``long`` not numbers or outside Indonesia (400); ``description`` missing or
longer than ``LAPOR_MAX_TEXT_CHARS`` (400); an attribute with an unknown value (400).

Duplicates: the same client posting the same fields again within ``DUPLICATE_WINDOW`` gets the same
request back (HTTP 200 instead of 201), also when both arrive at once: the first post claims
``open311_posts/<key id>:<hash of the fields>`` and every post in the window files with the claim's draft id,
and reports are idempotent per draft id.

A sender that forwards its own reports (another LAPOR! Bot, see :mod:`bot.forwarding`) sends its id for the
report as ``attribute[source_ref]``: the same client and ref always give the same request, however much later
a retry comes.

The reporter: ``first_name``/``last_name`` become the reporter's name; a ``phone`` that is a valid number
becomes a contact on WhatsApp (when configured, else SMS when configured) so status changes reach the person
like any other reporter; without such a channel the status is available only through Open311. ``email``,
``device_id`` and ``account_id`` are not stored.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

from bot import reports as domain
from bot.filing import file_report
from bot.messages import Identity, utcnow
from bot.open311.formats import Open311Error
from bot.open311.services import categories
from bot.phones import normalize_phone
from bot.storage.open311_posts import Open311PostStore

DUPLICATE_WINDOW = timedelta(minutes=10)
DEFAULT_PRIVACY = "anonim"
# Indonesia, generously: Weh island to Merauke, Miangas to Rote/Pamana (WGS84 degrees)
LAT_RANGE, LONG_RANGE = (-11.2, 6.3), (94.7, 141.1)
MAX_FIELD = 500  # characters of any field other than the description
FIELDS = ("service_code", "lat", "long", "address_string", "address_id", "description", "media_url",
          "first_name", "last_name", "phone", "email", "device_id", "account_id", "jurisdiction_id")


def _text(value, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):  # a file part of a multipart body
        raise Open311Error(400, f"{name[:40]} must be a text field")
    return value.strip()


class Intake:
    def __init__(self, runtime, keys):
        self.runtime = runtime
        self.keys = keys
        self.posts = Open311PostStore(runtime.stores.db)

    async def ensure_indexes(self) -> None:
        await self.posts.ensure_indexes(DUPLICATE_WINDOW)

    async def client(self, form) -> dict:
        key = (form.get("api_key") or "").strip()
        if not key:
            raise Open311Error(400, "api_key was not provided")
        doc = await self.keys.lookup(key)
        if doc is None:
            raise Open311Error(403, "invalid api_key")
        return doc

    async def post(self, form) -> tuple[dict, bool]:
        """(report, created) for a client's form. Raises Open311Error."""
        client = await self.client(form)
        fields = self.validate(form)
        if fields["source_ref"]:  # the sender's own id for it: one report per client and ref, forever
            ref = hashlib.sha256(fields["source_ref"].encode()).hexdigest()[:32]
            draft_id, fresh = f"open311:{client['_id']}:ref:{ref}", True
        else:
            digest = hashlib.sha256(repr(sorted(fields["_raw"].items())).encode()).hexdigest()
            draft_id, fresh = await self._claim(f"{client['_id']}:{digest}")
        existing = await self.runtime.stores.reports.by_draft(draft_id)
        if existing is not None:
            return existing, False
        doc = await self._fields(fields, client, draft_id)
        report = await file_report(self.runtime.stores, self.runtime.engine.ports.lifecycle, doc)
        return report, fresh

    async def _claim(self, claim_id: str) -> tuple[str, bool]:
        return await self.posts.claim(claim_id, DUPLICATE_WINDOW)

    def validate(self, form) -> dict:
        s = self.runtime.settings
        raw = {k: _text(form.get(k), k) for k in FIELDS}
        attrs = {k[10:-1]: _text(v, k) for k, v in form.items() if k.startswith("attribute[") and k.endswith("]")}
        for k, v in list(raw.items()) + list(attrs.items()):
            if k != "description" and len(v) > MAX_FIELD:
                raise Open311Error(400, f"{k} is too long (at most {MAX_FIELD} characters)")
        code = raw["service_code"]
        if not code:
            raise Open311Error(400, "service_code was not provided")
        if code not in categories():
            raise Open311Error(404, f"service_code {code[:40]!r} not found")
        desc = raw["description"]
        if not desc:
            raise Open311Error(400, "description was not provided")
        if len(desc) > s.lapor_max_text_chars:
            raise Open311Error(400, f"description is too long (at most {s.lapor_max_text_chars} characters)")
        lat = lon = None
        if raw["lat"] or raw["long"]:
            try:
                lat, lon = float(raw["lat"]), float(raw["long"])
            except ValueError:
                raise Open311Error(400, "lat and long must both be decimal degrees (WGS84)") from None
            if not (LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LONG_RANGE[0] <= lon <= LONG_RANGE[1]):
                raise Open311Error(400, "lat/long is outside Indonesia")
        if lat is None and not raw["address_string"]:
            raise Open311Error(400, "a location is required: lat and long, or address_string")
        privacy = (attrs.get("privacy") or DEFAULT_PRIVACY).lower()
        if privacy not in domain.PRIVACY:
            raise Open311Error(400, f"attribute[privacy] must be one of {', '.join(domain.PRIVACY)}")
        rtype = (attrs.get("type") or "pengaduan").lower()
        if rtype not in domain.TYPES:
            raise Open311Error(400, f"attribute[type] must be one of {', '.join(domain.TYPES)}")
        region = self._region(attrs.get("region"), raw["address_string"])
        if attrs.get("region") and region is None:
            raise Open311Error(400, "attribute[region] is not a known region code or regency/city name")
        media = raw["media_url"]
        if media and not media.lower().startswith(("https://", "http://")):
            raise Open311Error(400, "media_url must be an http(s) URL")
        return {"_raw": {**raw, **{f"attribute[{k}]": v for k, v in attrs.items()}}, "service_code": code,
                "description": desc, "lat": lat, "long": lon, "address": raw["address_string"] or None,
                "privacy": privacy, "type": rtype, "region": region, "media_url": media or None,
                "name": " ".join(x for x in (raw["first_name"], raw["last_name"]) if x) or None,
                "phone": normalize_phone(raw["phone"]) if raw["phone"] else None,
                "source_ref": attrs.get("source_ref") or None}

    @staticmethod
    def _region(value: str | None, address: str | None):
        from bot.nlu import regions as R

        if value:
            r = R.by_code(value)
            if r is not None:
                return r
            found = R.resolve(value, allow_common=True)
            return found[0] if len(found) == 1 else None
        if address:
            found = R.resolve(address)
            return found[0] if len(found) == 1 else None
        return None

    async def _contact(self, phone: str | None, name: str | None) -> dict | None:
        """The reporter as a contact on a configured phone channel, so notifications reach them."""
        outbox = self.runtime.outbox
        if not phone or outbox is None:
            return None
        if outbox.has_sender("whatsapp"):
            ident = Identity("whatsapp", phone.lstrip("+"), name)
        elif outbox.has_sender("sms"):
            ident = Identity("sms", phone, name)
        else:
            return None
        return await self.runtime.stores.contacts.get_or_create(ident, self.runtime.settings.lapor_default_language)

    async def _fields(self, f: dict, client: dict, draft_id: str) -> dict:
        from bot import agencies

        r = f["region"]
        contact = await self._contact(f["phone"], f["name"])
        suggestion = agencies.suggest(f["service_code"], r, text=f["description"])
        return {
            "draft_id": draft_id, "type": f["type"], "category": f["service_code"], "description": f["description"],
            "location": {"text": f["address"], "latitude": f["lat"], "longitude": f["long"],
                         "region_code": r.code if r else None, "region_name": r.name if r else None,
                         "province_code": r.province_code if r else None,
                         "province_name": r.province_name if r else None},
            "incident_date": None, "privacy": f["privacy"],
            "agency_suggested": suggestion["code"] if suggestion else None, "agency": None,
            "attachments": [], "media_url": f["media_url"], "channel": "open311",
            "language": (contact or {}).get("language") or self.runtime.settings.lapor_default_language,
            "contact_id": contact["_id"] if contact else None, "reporter_name": f["name"],
            "open311": {"key_id": client["_id"], "client": client["name"], "at": utcnow()},
        }

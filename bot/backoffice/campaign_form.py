"""The campaign form of the back office: a :class:`outreach.campaigns.Campaign` as form fields and back.

Validation is the campaign model's own (the one ``laporbot campaign preview`` and ``POST /api/v1/campaigns``
use); this module only maps fields. Times in the form are WIB (the console's users are in Indonesia),
stored in UTC. Sign-up codes are one per line: ``CODE | venue | segment | institution | region``.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError

from outreach.campaigns import CHANNELS, LANGS, TEMPLATE_DIR, Campaign
from outreach.codes import CODE_RE, SEGMENTS

WIB = ZoneInfo("Asia/Jakarta")
VARIANTS = ("default", *CHANNELS)
MAX_SPEC_BYTES = 64 * 1024


class FormError(Exception):
    """Invalid form: ``errors`` is a list of {"field", "error"} like the API's 422 details."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(f"{e['field']}: {e['error']}" for e in errors))
        self.errors = errors


def template_files() -> list[str]:
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.yml"))


def _csv(v: str | None) -> list[str]:
    return [x.strip() for x in (v or "").split(",") if x.strip()]


def _local(dt: datetime | None, fmt: str = "%Y-%m-%dT%H:%M") -> str:
    return dt.astimezone(WIB).strftime(fmt) if dt else ""


def _utc(v: str | None) -> str | None:
    v = (v or "").strip()
    if not v:
        return None
    try:
        d = datetime.fromisoformat(v)
    except ValueError:
        return v  # the model reports it
    return (d if d.tzinfo else d.replace(tzinfo=WIB)).astimezone(timezone.utc).isoformat()


def fields_of(c: Campaign | None) -> dict:
    """Form values (strings and lists) for a campaign, or an empty form."""
    if c is None:
        return {"name": "", "goal": "", "segment": [], "channel": [], "language": [], "institution": "",
                "region": "", "tags": "", "subscribed_since": "", "template_source": "inline",
                "template_file": "", **{f"text_{lg}_{v}": "" for lg in LANGS for v in VARIANTS},
                "wa_name": "", "wa_params": "", "schedule_start": "", "schedule_recurrence": "",
                "schedule_until": "", **{f"cap_{ch}": "" for ch in CHANNELS}, "sms_one_segment": False,
                "attribution_days": "30", "codes": ""}
    a, s = c.audience, c.schedule
    out = fields_of(None)
    out.update(name=c.name, goal=c.goal, segment=list(a.segment), channel=list(a.channel), language=list(a.language),
               institution=", ".join(a.institution), region=", ".join(a.region), tags=", ".join(a.tags),
               subscribed_since=_local(a.subscribed_since, "%Y-%m-%d"), schedule_start=_local(s.start),
               schedule_recurrence=s.recurrence or "", schedule_until=_local(s.until),
               sms_one_segment=c.sms_one_segment, attribution_days=str(c.attribution_days),
               codes="\n".join(" | ".join(str(code.get(k) or "") for k in ("code", "venue", "segment", "institution",
                                                                         "region")).rstrip(" |")
                               for code in c.codes))
    if isinstance(c.template, str):
        out.update(template_source="file", template_file=c.template)
    else:
        for lg, variants in c.template.items():
            for v, text in ({"default": variants} if isinstance(variants, str) else variants).items():
                out[f"text_{lg}_{v}"] = text
    if c.whatsapp_template:
        out.update(wa_name=c.whatsapp_template.name, wa_params="\n".join(c.whatsapp_template.params))
    for ch, rate in c.rate_caps.items():
        out[f"cap_{ch}"] = f"{rate:g}"
    return out


def form_values(form) -> dict:
    """The posted form as :func:`fields_of` shapes it (to show it again with its errors)."""
    out = fields_of(None)
    for k in out:
        if isinstance(out[k], list):
            out[k] = [x for x in form.getall(k, []) if isinstance(x, str)]
        elif isinstance(out[k], bool):
            out[k] = form.get(k) in ("1", "on", "true")
        else:
            v = form.get(k, "")
            out[k] = v if isinstance(v, str) else ""
    return out


def _codes(text: str) -> list[dict]:
    codes, errors = [], []
    for n, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")] + [""] * 5
        code, venue, segment, institution, region = parts[:5]
        if not CODE_RE.match(code):
            errors.append({"field": "codes", "error": f"line {n}: code {code!r}: 2-64 characters of A-Z a-z 0-9 _ -"})
        if segment and segment not in SEGMENTS:
            errors.append({"field": "codes", "error": f"line {n}: segment {segment!r}: one of {', '.join(SEGMENTS)}"})
        codes.append({"code": code.upper(), "venue": venue or None, "segment": segment or "umum",
                      "institution": institution or None, "region": region or None})
    if errors:
        raise FormError(errors)
    return codes


def spec_of(values: dict) -> dict:
    """Form values -> the campaign's data (what a YAML campaign file holds)."""
    if values["template_source"] == "file":
        template: str | dict = values["template_file"]
    else:
        template = {}
        for lg in LANGS:
            variants = {v: values[f"text_{lg}_{v}"].replace("\r\n", "\n") for v in VARIANTS
                        if values[f"text_{lg}_{v}"].strip()}
            if variants:
                template[lg] = variants
    spec: dict = {
        "name": values["name"].strip(), "goal": values["goal"].strip(),
        "audience": {"segment": values["segment"], "channel": values["channel"], "language": values["language"],
                     "institution": _csv(values["institution"]), "region": _csv(values["region"]),
                     "tags": _csv(values["tags"]), "subscribed_since": _utc(values["subscribed_since"])},
        "template": template,
        "schedule": {"start": _utc(values["schedule_start"]), "recurrence": values["schedule_recurrence"] or None,
                     "until": _utc(values["schedule_until"])},
        "rate_caps": {ch: values[f"cap_{ch}"].strip() for ch in CHANNELS if values[f"cap_{ch}"].strip()},
        "sms_one_segment": bool(values["sms_one_segment"]),
        "codes": _codes(values["codes"]),
    }
    if values["attribution_days"].strip():
        spec["attribution_days"] = values["attribution_days"].strip()
    if values["wa_name"].strip():
        spec["whatsapp_template"] = {"name": values["wa_name"].strip(),
                                     "params": [p.strip() for p in values["wa_params"].splitlines() if p.strip()]}
    return spec


def validate(spec: dict) -> Campaign:
    try:
        return Campaign.model_validate(spec)
    except ValidationError as exc:
        raise FormError([{"field": ".".join(str(x) for x in e["loc"]) or "campaign", "error": e["msg"]}
                         for e in exc.errors()]) from None


def from_form(form) -> tuple[dict, Campaign]:
    """(form values, campaign) from a posted form. Raises FormError (values are kept on the exception)."""
    values = form_values(form)
    try:
        return values, validate(spec_of(values))
    except FormError as err:
        err.values = values
        raise


def from_yaml(text: str, name: str | None = None) -> Campaign:
    """A campaign file (``outreach/campaigns/*.yml`` format) pasted or uploaded. Raises FormError."""
    if len(text.encode("utf-8")) > MAX_SPEC_BYTES:
        raise FormError([{"field": "spec", "error": f"over {MAX_SPEC_BYTES // 1024} KB"}])
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise FormError([{"field": "spec", "error": f"not valid YAML: {type(exc).__name__}"}]) from None
    if not isinstance(data, dict):
        raise FormError([{"field": "spec", "error": "a campaign file is a mapping (name:, template:, ...)"}])
    if name and not data.get("name"):
        data["name"] = name
    return validate(data)

"""Campaign definitions: YAML files or the staff API, stored in ``campaigns``.

Files: the operator's campaigns live in ``$LAPOR_DATA_DIR/campaigns/*.yml``; the shipped
``outreach/campaigns/*.yml`` are examples to copy (they are loaded too, and a data-directory file of the same
name replaces the example). Every file is validated like an API campaign; an invalid file is logged and
skipped, the others still load. A campaign name is ``[a-z0-9][a-z0-9_-]{1,63}`` and a file is only looked up
inside those two folders, so a name never becomes a path anywhere else.

A campaign names its audience (filters on the contact's subscription), one message text per language with
optional channel variants (``default``, ``telegram``, ``whatsapp``, ``sms``), a WhatsApp template for
contacts outside the 24-hour window, a schedule and per-channel rate caps. The text may live inline or in
``templates/outreach/<name>.yml`` (``template: <name>``).
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.messages import aware, utcnow
from outreach.codes import CODE_RE, SEGMENTS

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN_DIR = ROOT / "outreach" / "campaigns"  # shipped examples
log = logging.getLogger(__name__)
TEMPLATE_DIR = ROOT / "templates" / "outreach"
CHANNELS = ("telegram", "whatsapp", "sms")
LANGS = ("id", "en")
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,63}$"  # campaign and text file names: a slug, never a path
_NAME = re.compile(NAME_PATTERN)


class InvalidName(ValueError):
    """A campaign or text name that is not a slug (``..``, ``/``, too long...)."""


def valid_name(name) -> bool:
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def named_file(directory: Path, name: str) -> Path:
    """``directory/<name>.yml``: the one place a name becomes a path. Raises InvalidName for anything but a
    slug, so no name can reach a file outside ``directory``."""
    if not valid_name(name):
        raise InvalidName(f"invalid name {str(name)[:80]!r}: use 2-64 of a-z 0-9 _ - (starting with a letter "
                          "or digit)")
    return directory / f"{name}.yml"


def _list(v):
    if v is None or v == "":
        return []
    return [v] if isinstance(v, (str, int, float)) else list(v)


class Audience(BaseModel):
    model_config = ConfigDict(extra="forbid")
    segment: list[str] = []
    institution: list[str] = []
    region: list[str] = []  # region codes; "35" matches "35.78" (prefix on the dotted code)
    language: list[str] = []
    channel: list[str] = []
    subscribed_since: datetime | None = None
    tags: list[str] = []  # contact tags that must all be present

    _as_list = field_validator("segment", "institution", "region", "language", "channel", "tags",
                               mode="before")(classmethod(lambda cls, v: [str(x) for x in _list(v)]))

    @field_validator("segment", "channel")
    @classmethod
    def _known_values(cls, v, info):
        allowed = SEGMENTS if info.field_name == "segment" else CHANNELS
        bad = [x for x in v if x not in allowed]
        if bad:
            raise ValueError(f"unknown {info.field_name} {bad}; use {', '.join(allowed)}")
        return v

    @field_validator("subscribed_since")
    @classmethod
    def _aware(cls, v):
        return aware(v)


class WhatsAppTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    language: dict[str, str] = {"id": "id", "en": "en"}  # our language -> Meta template language code
    params: list[str] = []  # jinja2 strings rendered per contact (body {{1}}, {{2}}, ...)


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: datetime | None = None  # None: only by hand (laporbot campaign run)
    recurrence: Literal["daily", "weekly", "monthly"] | None = None
    until: datetime | None = None

    @field_validator("start", "until")
    @classmethod
    def _aware(cls, v):
        return aware(v)


class Campaign(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN)
    goal: str = ""
    audience: Audience = Audience()
    template: str | dict[str, dict[str, str] | str]  # file name in templates/outreach/, or {lang: {variant: text}}
    whatsapp_template: WhatsAppTemplate | None = None
    schedule: Schedule = Schedule()
    rate_caps: dict[str, float] = {}  # per channel, messages/s (never above the channel account's rate)
    sms_one_segment: bool = False  # every rendered SMS must fit one segment (160 GSM-7 / 70 UCS-2)
    attribution_days: int = Field(30, ge=1, le=365)
    codes: list[dict[str, Any]] = []  # [{code, venue, segment, institution, region}] created on sync

    @field_validator("template")
    @classmethod
    def _template(cls, v):
        if isinstance(v, str):
            if not named_file(TEMPLATE_DIR, v).exists():
                raise ValueError(f"templates/outreach/{v}.yml not found")
            return v
        for lang, variants in v.items():
            if lang not in LANGS:
                raise ValueError(f"template language {lang!r}: use id or en")
            vs = {"default": variants} if isinstance(variants, str) else variants
            bad = [k for k in vs if k not in ("default", *CHANNELS)]
            if bad:
                raise ValueError(f"template variant {bad}: use default, telegram, whatsapp, sms")
        if "id" not in v:
            raise ValueError("template needs at least the Indonesian (id) text")
        return v

    @field_validator("codes")
    @classmethod
    def _codes(cls, v):
        """Checked here, before anything is stored, with the rules ``CampaignCodes.upsert`` enforces."""
        for item in v:
            if not CODE_RE.match(str(item.get("code") or "")):
                raise ValueError("each code needs code: 2-64 characters of A-Z a-z 0-9 _ -")
            if (item.get("segment") or "umum") not in SEGMENTS:
                raise ValueError(f"code segment: one of {', '.join(SEGMENTS)}")
            bad = [k for k in ("venue", "institution", "region") if not isinstance(item.get(k), (str, type(None)))]
            if bad:
                raise ValueError(f"code fields {bad} must be text")
        return v

    @model_validator(mode="after")
    def _sandboxed(self):
        """Every staff-written text must pass the sandbox's static check (``outreach.sandbox.check``)."""
        from outreach import sandbox

        sources = [(f"template.{lang}.{variant}", src) for lang, vs in self.texts().items() for variant, src in vs.items()]
        if self.whatsapp_template:
            sources += [(f"whatsapp_template.params.{i}", p) for i, p in enumerate(self.whatsapp_template.params)]
        for where, src in sources:
            try:
                sandbox.check(src)
            except Exception as exc:  # SecurityError or a syntax error
                raise ValueError(f"{where}: {exc}") from None
        return self

    @model_validator(mode="after")
    def _caps(self):
        bad = [c for c, r in self.rate_caps.items() if c not in CHANNELS or r <= 0]
        if bad:
            raise ValueError(f"rate_caps: bad channel or rate {bad}")
        return self

    def texts(self) -> dict[str, dict[str, str]]:
        """{lang: {variant: jinja2 source}}; a language without a variant falls back to ``default``."""
        src = self.template
        if isinstance(src, str):
            src = yaml.safe_load(named_file(TEMPLATE_DIR, src).read_text(encoding="utf-8"))
            src = {k: v for k, v in src.items() if k in LANGS}
        return {lang: ({"default": v} if isinstance(v, str) else dict(v)) for lang, v in src.items()}

    def source_for(self, lang: str, channel: str) -> tuple[str, str, str]:
        """(language used, variant used, source) with fallbacks en->id and channel->default."""
        texts = self.texts()
        lg = lang if lang in texts else "id"
        variants = texts[lg]
        variant = channel if channel in variants else "default"
        if variant not in variants:  # only channel variants given: take the first one
            variant = next(iter(variants))
        return lg, variant, variants[variant]

    def occurrence(self, now: datetime | None = None) -> str | None:
        """The run id due at ``now``: the name for one-off, name#YYYY-MM-DD for recurring; None if not due."""
        now = now or utcnow()
        s = self.schedule
        if s.start is None or now < s.start or (s.until and now > s.until):
            return None
        if not s.recurrence:
            return self.name
        step = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}.get(s.recurrence)
        if step:
            n = int((now - s.start) / step)
            at = s.start + n * step
        else:  # monthly, same day of month (clamped to 28)
            months = (now.year - s.start.year) * 12 + now.month - s.start.month
            at = s.start.replace(year=s.start.year + (s.start.month - 1 + months) // 12,
                                 month=(s.start.month - 1 + months) % 12 + 1, day=min(s.start.day, 28))
            if at > now:
                months -= 1
                at = s.start.replace(year=s.start.year + (s.start.month - 1 + months) // 12,
                                     month=(s.start.month - 1 + months) % 12 + 1, day=min(s.start.day, 28))
        return f"{self.name}#{at.date().isoformat()}"


def load_file(path: Path) -> Campaign:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    data.setdefault("name", path.stem)
    return Campaign.model_validate(data)


def load_files(directory: Path = CAMPAIGN_DIR) -> dict[str, Campaign]:
    return {c.name: c for c in (load_file(p) for p in sorted(directory.glob("*.yml")))}


def campaign_dirs(data_dir: Path | str | None) -> list[Path]:
    """Where campaign files are read, later folders winning: the shipped examples, then the operator's."""
    return [CAMPAIGN_DIR] + ([Path(data_dir) / "campaigns"] if data_dir else [])


def campaign_file(name: str, dirs: list[Path]) -> Path | None:
    """The file of campaign ``name`` (the operator's first), only ever inside ``dirs``."""
    if not re.match(NAME_PATTERN, name or ""):
        return None
    for d in reversed(dirs):
        path = d / f"{name}.yml"
        if path.is_file() and path.resolve().parent == d.resolve():
            return path
    return None


def load_dirs(dirs: list[Path]) -> dict[str, Campaign]:
    """Every valid campaign file of ``dirs`` (later folders replace earlier ones by name); invalid ones skipped.

    A file's name (without ``.yml``) must match the pattern and the campaign's ``name`` if it gives one."""
    found: dict[str, Campaign] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.yml")):
            try:
                if not re.match(NAME_PATTERN, path.stem):
                    raise ValueError(f"file name must be {NAME_PATTERN}.yml")
                c = load_file(path)
                if c.name != path.stem:
                    raise ValueError(f"name {c.name!r} differs from the file name")
            except Exception as exc:  # one bad file must not hide the others
                log.warning("campaign file %s skipped: %s", path.name, str(exc).splitlines()[0][:300])
                continue
            found[c.name] = c
    return found


def audience_query(c: Campaign, channels: list[str] | None = None) -> dict:
    """MongoDB filter on contacts: subscribed, reachable, matching every audience filter."""
    a = c.audience
    q: dict = {"subscription.status": "subscribed", "reachable": {"$ne": False}}
    chans = a.channel or list(CHANNELS)
    if channels is not None:
        chans = [ch for ch in chans if ch in channels]
    q["channel"] = {"$in": chans}
    if a.segment:
        q["subscription.segment"] = {"$in": a.segment}
    if a.institution:
        q["subscription.institution"] = {"$in": a.institution}
    if a.language:
        q["language"] = {"$in": a.language}
    if a.subscribed_since:
        q["subscription.since"] = {"$gte": a.subscribed_since}
    if a.tags:
        q["tags"] = {"$all": a.tags}
    if a.region:
        import re

        q["subscription.region"] = {"$regex": "^(" + "|".join(re.escape(r) + r"(\.|$)" for r in a.region) + ")"}
    return q


class CampaignStore:
    """``campaigns``: one document per campaign (``_id`` = name) with its spec and where it came from."""

    def __init__(self, db, dirs: list[Path] | None = None):
        self.col = db["campaigns"]
        self.dirs = dirs or [CAMPAIGN_DIR]  # ``install`` adds $LAPOR_DATA_DIR/campaigns

    async def ensure_indexes(self) -> None:
        return None

    async def save(self, c: Campaign, source: str = "api") -> bool:
        """Insert or replace the spec; True when it was new."""
        res = await self.col.update_one(
            {"_id": c.name},
            {"$set": {"spec": c.model_dump(mode="json"), "source": source, "updated_at": utcnow()},
             "$setOnInsert": {"created_at": utcnow()}}, upsert=True)
        return res.upserted_id is not None

    async def get(self, name: str) -> Campaign | None:
        """The stored campaign, else the YAML file of that name. Raises InvalidName for a non-slug name."""
        named_file(CAMPAIGN_DIR, name)  # raises InvalidName: a name never becomes a path outside the folders
        doc = await self.col.find_one({"_id": name})
        if doc:
            return Campaign.model_validate(doc["spec"])
        path = campaign_file(name, self.dirs)
        if path is not None:
            c = load_dirs([path.parent]).get(name)  # validated like every file; an invalid one is skipped
            if c is not None:
                await self.save(c, "yaml")
            return c
        return None

    async def all(self) -> list[Campaign]:
        docs = await self.col.find({}).to_list(None)
        out = []
        for d in docs:
            try:
                out.append(Campaign.model_validate(d["spec"]))
            except Exception:  # a spec saved by an older version: skip, do not stop the scheduler
                continue
        return out

    async def sync_files(self, codes=None, directory: Path | None = None) -> list[str]:
        """Store every YAML campaign of ``directory`` or of ``self.dirs`` (files win over earlier copies of
        themselves) and create its codes."""
        names = []
        for c in load_dirs([directory] if directory else self.dirs).values():
            await self.save(c, "yaml")
            if codes is not None:
                await save_codes(codes, c)
            names.append(c.name)
        return names

    async def mark_run(self, run_id: str, **fields) -> None:
        await self.col.update_one({"_id": run_id.split("#")[0]}, {"$set": {f"runs.{run_id}.{k}": v
                                                                          for k, v in fields.items()}})

    async def exists(self, name: str) -> bool:
        """Whether a campaign of this name is stored."""
        return await self.col.find_one({"_id": name}) is not None

    async def origin(self, name: str) -> dict | None:
        """Where a stored campaign came from (``source``) and when it was last saved (``updated_at``)."""
        return await self.col.find_one({"_id": name}, {"source": 1, "updated_at": 1})

    async def set_run_status(self, name: str, run_id: str, status: str, only_from: list) -> bool:
        """Compare-and-set of a run's status (stamping ``<status>_at``); False when it was not in ``only_from``."""
        key = f"runs.{run_id}.status"
        res = await self.col.update_one({"_id": name, key: {"$in": only_from}},
                                        {"$set": {key: status, f"runs.{run_id}.{status}_at": utcnow()}})
        return res.modified_count == 1

    async def runs(self, name: str) -> dict:
        doc = await self.col.find_one({"_id": name}, {"runs": 1})
        return {k.replace("\uff0e", "."): v for k, v in ((doc or {}).get("runs") or {}).items()}


async def save_codes(codes, c: Campaign) -> None:
    for item in c.codes:
        await codes.upsert(item["code"], c.name, item.get("venue"), segment=item.get("segment") or "umum",
                           institution=item.get("institution"), region=item.get("region"))

"""Our report categories as Open311 services, and their definitions (our extension attributes).

Every category (``bot.nlu.interpret.CATEGORIES``) is a ``realtime`` service whose name is the category's
label (``templates/<lang>/labels.yml``). ``metadata`` is true for all: each accepts the optional attributes
``region`` (a Kemendagri region code such as ``53.71`` or a regency/city name), ``privacy``
(publik/anonim/rahasia) and ``type`` (pengaduan/aspirasi/permintaan_informasi), posted as
``attribute[region]`` etc. Their descriptions are in ``templates/publik/i18n/<lang>/open311.yml``.
"""
from __future__ import annotations

from bot import reports as domain
from bot.publik.i18n import translate


def categories() -> tuple[str, ...]:
    from bot.nlu.interpret import CATEGORIES

    return CATEGORIES


def _label(key: str, lang: str) -> str:
    from bot.backoffice.pages import label

    return label(key, lang)


def service_list(lang: str) -> list[dict]:
    return [{"service_code": c, "service_name": _label(f"category.{c}", lang),
             "description": translate(f"open311.service_{c}", lang), "metadata": True, "type": "realtime",
             "keywords": translate(f"open311.keywords_{c}", lang), "group": translate("open311.group", lang)}
            for c in categories()]


def definition(code: str, lang: str) -> dict | None:
    if code not in categories():
        return None

    def values(group: str, keys) -> list[dict]:
        return [{"key": k, "name": _label(f"{group}.{k}", lang)} for k in keys]

    return {"service_code": code, "attributes": [
        {"variable": True, "code": "region", "datatype": "string", "required": False,
         "datatype_description": translate("open311.region_format", lang), "order": 1,
         "description": translate("open311.region", lang)},
        {"variable": True, "code": "privacy", "datatype": "singlevaluelist", "required": False,
         "datatype_description": None, "order": 2, "description": translate("open311.privacy", lang),
         "values": values("privacy", domain.PRIVACY)},
        {"variable": True, "code": "type", "datatype": "singlevaluelist", "required": False,
         "datatype_description": None, "order": 3, "description": translate("open311.type", lang),
         "values": values("type", domain.TYPES)},
    ]}

"""Open311 bodies: JSON (UTF-8) or XML (UTF-8 with its declaration), shaped like the spec's examples.

A body is a list of dicts (services, service requests, errors) or one dict (discovery, a service
definition). XML names every list by its plural and each member by its singular (``<services><service>``,
``<service_requests><request>``, ``<errors><error>``); ``None`` is an empty element, booleans are
``true``/``false``. Errors are ``[{"code": HTTP status, "description": text}]`` with that HTTP status.
"""
from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from aiohttp import web

FORMATS = ("json", "xml")
CONTENT_TYPES = {"json": "application/json", "xml": "text/xml"}
# list element -> member element
MEMBERS = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
           "values": "value", "endpoints": "endpoint", "formats": "format", "lapor_history": "entry"}


class Open311Error(Exception):
    """Answered as the spec's error array with ``status`` as HTTP status and error code."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


def _text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _fill(parent: ET.Element, key: str, value) -> None:
    el = ET.SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _fill(el, k, v)
    elif isinstance(value, list):
        member = MEMBERS.get(key, "item")
        for v in value:
            _fill(el, member, v)
    else:
        el.text = _text(value)


def to_xml(root: str, body) -> bytes:
    el = ET.Element(root)
    if isinstance(body, list):
        member = MEMBERS[root]
        for item in body:
            _fill(el, member, item)
    else:
        for k, v in body.items():
            _fill(el, k, v)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(el, encoding="utf-8", xml_declaration=False)


def respond(fmt: str, root: str, body, *, status: int = 200, headers: dict | None = None) -> web.Response:
    if fmt == "xml":
        data = to_xml(root, body)
    else:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return web.Response(body=data, status=status, content_type=CONTENT_TYPES[fmt], charset="utf-8",
                        headers=headers)


def error(fmt: str, status: int, description: str) -> web.Response:
    return respond(fmt if fmt in FORMATS else "xml", "errors", [{"code": status, "description": description}],
                   status=status)


def check_format(fmt: str) -> str:
    fmt = (fmt or "").lower()
    if fmt not in FORMATS:
        raise Open311Error(400, "unsupported format: use .json or .xml")
    return fmt

"""Which connector serves an agency's upstream: one line per kind (a new upstream is one more module here)."""
from __future__ import annotations

from bot.forwarding.connector import Connector, UpstreamError
from bot.forwarding.open311_client import Open311Connector

KINDS = {"open311": Open311Connector}


def build(config: dict) -> Connector:
    """The connector for an agency's upstream configuration (``config['kind']`` names it)."""
    kind = KINDS.get(config.get("kind"))
    if kind is None:
        raise UpstreamError(f"no connector for upstream kind {config.get('kind')!r}")
    return kind(config)

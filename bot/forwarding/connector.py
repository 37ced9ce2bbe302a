"""What an upstream system must offer: the connector interface, and what travels through it.

A connector is one module per kind of upstream (``open311`` now; the national SP4N-LAPOR! API would be
another) exposing ``build(config) -> Connector``. It never sees a report document, only :class:`Outgoing`
(already in the agency's privacy scope), and answers :class:`UpstreamState`. Any failure, including an
answer it cannot read, is an :class:`UpstreamError`: the caller retries later, nothing is lost.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class UpstreamError(Exception):
    """The upstream did not take or answer the request (down, refused, or garbage). Retried with back-off."""


@dataclass(frozen=True)
class Outgoing:
    """A report as an upstream agency may receive it. ``reporter_name`` only for publik reports."""

    tracking_id: str
    category: str
    type: str | None
    description: str
    address: str | None
    region_code: str | None
    region_name: str | None
    latitude: float | None
    longitude: float | None
    privacy: str
    reporter_name: str | None


@dataclass(frozen=True)
class UpstreamState:
    upstream_id: str
    open: bool
    detail: str | None = None   # the upstream's own detailed status, when it has one
    notes: str | None = None    # its public answer


class Connector(Protocol):
    kind: str

    async def submit(self, report: Outgoing) -> str:
        """File the report upstream; its id there. Must be idempotent per ``report.tracking_id``."""

    async def states(self, upstream_ids: list[str]) -> list[UpstreamState]:
        """The current state of these requests (unknown ids are left out)."""

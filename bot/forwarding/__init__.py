"""Forwarding reports to an agency's own system and following their status back (docs/open311.md).

- ``upstreams``: which agency has an upstream (``laporbot staff upstream``);
- ``connector``: the interface a kind of upstream implements; ``open311_client`` the Open311 one;
- ``worker``: the durable forward outbox and the status poll (:class:`Forwarder`).

``start(runtime, staff)`` (called by ``bot.staff.services.register``) hooks the Forwarder into staff
transitions and starts its task, stopped with the runtime.
"""
from __future__ import annotations


def start(runtime, staff):
    from bot.forwarding.worker import Forwarder

    fwd = Forwarder(runtime, staff)
    staff.after_transition.append(fwd.on_transition)
    runtime.forwarding = fwd
    fwd.start()
    runtime.stop_hooks.append(fwd.stop)
    return fwd

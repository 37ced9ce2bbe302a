"""Every call to a provider's API spends the account's rate budget, not only the outbox's sends.

The outbox keeps one ``WindowLimiter`` per channel account (``bot/ratelimit.py``); a provider counts every
call against the same per-second limit (Telegram ~30/s per bot: ``editMessageText``, ``answerCallbackQuery``
and ``getFile`` as well as ``sendMessage``). ``within_budget`` takes a permit from that limiter, at reply
priority, around one such call, so a burst of button presses during a broadcast never exceeds the cap.
"""
from __future__ import annotations

from typing import Awaitable, Callable, TypeVar

T = TypeVar("T")
REPLY_PRIORITY = 0  # a citizen is waiting: ahead of campaign traffic


def account_limiter(runtime, channel: str):
    """The limiter the outbox uses for this channel's account, or None (no outbox, channel not registered)."""
    workers = getattr(getattr(runtime, "outbox", None), "workers", None) or {}
    return getattr(workers.get(channel), "limiter", None)


async def within_budget(runtime, channel: str, call: Callable[[], Awaitable[T]], *,
                        priority: int = REPLY_PRIORITY, retry_after: Callable[[Exception], float | None] = None) -> T:
    """Run ``call()`` inside one permit of the account's budget; a provider 'retry after N' pauses the budget."""
    limiter = account_limiter(runtime, channel)
    if limiter is None:
        return await call()
    await limiter.acquire(priority)
    try:
        return await call()
    except Exception as exc:
        wait = retry_after(exc) if retry_after else None
        if wait:
            limiter.pause(wait)
        raise
    finally:
        limiter.release()

"""The runtime's assembly: typed parts built in one place, nothing in the background until start."""
from bot.app import Runtime
from bot.sending import Outcome
from outreach.dispatch import CampaignCheck


async def test_open_assembles_every_part_without_background_work(settings):
    rt = Runtime(settings)
    try:
        await rt.open()
        assert rt.engine is not None and rt.staff is not None and rt.outreach is not None
        assert rt.staff.worker._task is None and rt.outreach_scheduler is None and rt.stop_hooks == []
        assert isinstance(rt.outbox.campaign_check, CampaignCheck)
        # the check answers an outcome for a campaign message to nobody subscribed, without any sender
        verdict = await rt.outbox.campaign_check.before_send(
            "telegram", {"_id": 1, "campaign": "uji", "contact_id": "missing"})
        assert verdict.outcome is Outcome.FAILED and verdict.error == "opted_out"
    finally:
        if rt.stores:
            await rt.stores.client.drop_database(settings.lapor_db)
        await rt.stop()

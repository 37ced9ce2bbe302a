"""Dashboard ``/staff/dashboard``: the monitoring figures for a period and scope, as plots and a table.

The figures come from :func:`bot.staff.stats.compute` with the filter parsed by
:func:`bot.staff.stats.parse_query`, exactly as ``GET /api/v1/stats`` does, so both show the same numbers.
Who sees what: admins everything; officers only their agency's reports (the agency filter is forced);
campaign staff only campaign figures (no report figures); coordinators nothing (403).
Plots are inline SVG and also served alone at ``/staff/dashboard/plot/<name>.svg`` with the same query.
"""
from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from bot.backoffice import plots
from bot.backoffice.i18n import translate
from bot.backoffice.pages import language, render
from bot.backoffice.principal import ADMIN, CAMPAIGN, OFFICER
from bot.appkeys import RUNTIME_KEY
from bot.messages import utcnow
from bot.staff import stats as stats_mod

PLOTS = ("over_time", "by_group", "channels", "sla", "campaigns")
STATUS_COLORS = {"diterima": plots.BLUE, "terverifikasi": plots.PURPLE, "diteruskan": plots.AMBER,
                 "ditanggapi": plots.TEAL, "selesai": plots.GREEN, "diarsipkan": plots.GREY}
MAX_GROUPS_PLOTTED = 20
DEFAULT_DAYS = 30


def _user(request: web.Request, *roles: str):
    user = request.get("staff")
    if user is None or not user.can(*roles):
        raise web.HTTPForbidden()
    return user


def _query(request: web.Request) -> dict:
    """The filter as the form shows it: the last 30 days when no period is given (dates, inclusive)."""
    q = {k: (request.query.get(k) or "").strip() for k in stats_mod.PARAMS}
    if not q["from"] and not q["to"]:
        today = utcnow().date()
        q["from"], q["to"] = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), today.isoformat()
    return q


async def report_figures(request: web.Request, user, q: dict) -> dict:
    f = stats_mod.parse_query(q)
    if user.role == OFFICER:
        if not user.agency:
            raise web.HTTPForbidden()  # an officer acts for one agency; without one there is nothing to show
        f["agency"] = user.agency  # an officer's figures are their agency's, whatever the URL says
    rt = request.config_dict[RUNTIME_KEY]
    return await stats_mod.compute(rt.stores, now=utcnow(), **f)


async def campaign_figures(request: web.Request) -> list[dict]:
    from outreach.dispatch import install
    from outreach.stats import campaign_stats

    rt = request.config_dict[RUNTIME_KEY]
    out = install(rt)
    rows = []
    for c in sorted(await out.campaigns.all(), key=lambda c: c.name):
        s = await campaign_stats(rt, c)
        rows.append({k: s[k] for k in ("campaign", "goal", "audience", "sent", "delivered", "read", "failed",
                                       "opted_out", "replies")}
                    | {"signups": s["attribution"]["signups"], "reports": s["attribution"]["reports"]})
    return rows


def _t(lang: str):
    return lambda key, **p: translate(key, lang, **p)


def channel_label(channel: str, lang: str) -> str:
    """A channel's name in the console's language; an unknown channel shows its code."""
    key = f"dashboard.channel_{channel}"
    text = translate(key, lang)
    return channel if text == key else text


def build_plots(result: dict | None, campaigns: list[dict] | None, lang: str) -> dict[str, str]:
    t = _t(lang)
    out: dict[str, str] = {}
    if result is not None:
        series = result["series"]
        out["over_time"] = plots.stacked_bars(
            t("dashboard.plot_over_time", every=t(f"dashboard.every_{series['every']}")),
            [b["start"] for b in series["buckets"]],
            [(t(f"dashboard.status_{s}"), [b["counts"][s] for b in series["buckets"]]) for s in series["statuses"]],
            colors=tuple(STATUS_COLORS.get(s, plots.GREY) for s in series["statuses"]))
        groups = plotted_groups(result)
        out["by_group"] = plots.bars(
            t("dashboard.plot_by_group", by=t(f"dashboard.by_{result['by']}")), [g["name"] for g in groups],
            [(t(f"dashboard.field_{k}"), [g[k] for g in groups])
             for k in ("received", "forwarded", "settled", "archived", "overdue")],
            colors=(plots.BLUE, plots.TEAL, plots.GREEN, plots.GREY, plots.RED))
        out["channels"] = plots.pie(t("dashboard.plot_channels"),
                                    [(channel_label(ch, lang), n) for ch, n in result["channels"].items()])
        tot = result["total"]
        out["sla"] = plots.bars(t("dashboard.plot_sla"), [t("dashboard.sla_verify"), t("dashboard.sla_followup")],
                                [(t("dashboard.sla_on_time"), [tot["sla_verify_on_time"], tot["sla_followup_on_time"]]),
                                 (t("dashboard.sla_late"), [tot["sla_verify_late"], tot["sla_followup_late"]])],
                                colors=(plots.GREEN, plots.RED))
    if campaigns is not None:
        out["campaigns"] = plots.bars(
            t("dashboard.plot_campaigns"), [c["campaign"] for c in campaigns],
            [(t(f"dashboard.campaign_{k}"), [c[k] for c in campaigns]) for k in ("sent", "delivered", "read", "failed")])
    return out


def plotted_groups(result: dict) -> list[dict]:
    """The groups drawn in the bar chart: the most received first, at most MAX_GROUPS_PLOTTED."""
    return sorted(result["groups"], key=lambda g: (-g["received"], g["name"]))[:MAX_GROUPS_PLOTTED]


async def _compute(request: web.Request):
    user = _user(request, OFFICER, CAMPAIGN)
    q = _query(request)
    result = campaigns = None
    if user.can(OFFICER):  # admins and officers
        result = await report_figures(request, user, q)
    if user.role in (ADMIN, CAMPAIGN):
        campaigns = await campaign_figures(request)
    return user, q, result, campaigns


async def dashboard(request: web.Request) -> web.Response:
    try:
        user, q, result, campaigns = await _compute(request)
    except ValueError as err:
        return render(request, "dashboard.html", status=400, error=str(err), q=_query(request),
                      result=None, campaigns=None, svgs={}, groups=[], categories=_categories(),
                      provinces=_provinces(), fields=stats_mod.FIELDS, sla_fields=stats_mod.SLA_FIELDS,
                      max_groups=MAX_GROUPS_PLOTTED, query_string="", channel_label=channel_label)
    svgs = build_plots(result, campaigns, language(request))
    return render(request, "dashboard.html", error=None, q=q, result=result, campaigns=campaigns,
                  svgs=svgs, groups=plotted_groups(result) if result else [], categories=_categories(),
                  provinces=_provinces(), fields=stats_mod.FIELDS, sla_fields=stats_mod.SLA_FIELDS,
                  max_groups=MAX_GROUPS_PLOTTED, query_string=request.query_string,
                  channel_label=channel_label)


async def plot(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in PLOTS:
        raise web.HTTPNotFound()
    try:
        _, _, result, campaigns = await _compute(request)
    except ValueError as err:
        raise web.HTTPBadRequest(reason=str(err)) from None
    svg = build_plots(result, campaigns, language(request)).get(name)
    if svg is None:
        raise web.HTTPNotFound()
    return web.Response(text=svg, content_type="image/svg+xml", charset="utf-8",
                        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                                 "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


def _categories() -> tuple[str, ...]:
    from bot.nlu.interpret import CATEGORIES

    return CATEGORIES


def _provinces() -> list[tuple[str, str]]:
    from bot.nlu.regions import all_regions

    return sorted((r.code, r.name) for r in all_regions() if r.kind == "provinsi")


def routes() -> list[web.RouteDef]:
    return [web.get("/dashboard", dashboard), web.get("/dashboard/plot/{name}.svg", plot)]

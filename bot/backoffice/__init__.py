"""The back office: a server-rendered web console under ``/staff`` for officers, admins, campaign staff and
volunteer coordinators (same process as the bot).

Contract every page module follows:
- ``request["staff"]`` is the signed-in :class:`bot.backoffice.principal.StaffUser` (set by the auth
  middleware; pages never see an anonymous request) and ``request["csrf_token"]`` the token every form posts
  back as ``csrf_token``.
- The console is an aiohttp sub-application mounted at ``/staff``. A page module exposes
  ``routes() -> list[aiohttp.web.RouteDef]`` with paths relative to it (``/dashboard`` is served at
  ``/staff/dashboard``); it reaches the runtime through ``request.config_dict[bot.http.RUNTIME_KEY]`` and renders
  with :func:`bot.backoffice.pages.render`. Role checks: ``request["staff"].can(...)`` (403 otherwise); a
  report outside an officer's agency is 404.
- Wording lives in ``templates/backoffice/i18n/<lang>/<area>.yml`` (key ``<area>.<key>``, ``t("area.key")``
  in templates); HTML in ``templates/backoffice/*.html`` extending ``base.html`` (blocks ``title``,
  ``content``). Autoescape is on: nothing a citizen wrote can run in a staff browser.
"""

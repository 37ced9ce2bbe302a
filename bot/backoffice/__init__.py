"""The back office: a server-rendered web console under ``/staff`` for officers, admins, campaign staff and
volunteer coordinators (same process as the bot).

Contract every page module follows:
- ``request["staff"]`` is the signed-in :class:`bot.backoffice.principal.StaffUser` (set by the auth
  middleware; pages never see an anonymous request) and ``request["csrf_token"]`` the token every form posts
  back as ``csrf_token``.
- The console is an aiohttp sub-application mounted at ``/staff``. A page module exposes
  ``routes() -> list[aiohttp.web.RouteDef]`` with paths relative to it (``/dashboard`` is served at
  ``/staff/dashboard``); it reaches the runtime through ``request.config_dict[bot.appkeys.RUNTIME_KEY]`` and renders
  with :func:`bot.backoffice.pages.render`. Role checks: ``request["staff"].can(...)`` (403 otherwise); a
  report outside an officer's agency is 404.
- Wording lives in ``templates/backoffice/i18n/<lang>/<area>.yml`` (key ``<area>.<key>``, ``t("area.key")``
  in templates); HTML in ``templates/backoffice/*.html`` extending ``base.html`` (blocks ``title``,
  ``content``; ``head`` for a page's own ``/staff/static/*.js``, CSP allows scripts from 'self' only).
  Autoescape is on: nothing a citizen wrote can run in a staff browser.
- Page modules are listed in ``bot.backoffice.app.PAGES`` (absent ones are skipped). Audit a staff action
  with ``await bot.backoffice.app.console(request).record(user, action, target, details)`` (actor
  ``staff:<id>``). CSRF is checked by middleware on every non-GET request; bodies over 64 KB are 413.
- Shared CSS (``templates/backoffice/static/backoffice.css``): ``card``, ``narrow``, ``stack`` (vertical
  form), ``row``, ``grid`` (filter form), ``cols`` (two columns on wide screens), ``alert``, ``notice``,
  ``hint``, ``meta``, ``empty``, ``badge`` (+ ``status-<status>``, ``warn``), ``table-wrap``, ``counts``,
  ``pager``, ``facts`` (a ``dl``), ``citizen-text`` (pre-wrapped text a citizen wrote), ``late``,
  ``tr.overdue``, buttons ``secondary`` / ``link``, ``form.inline``, ``sr`` (screen readers only).
- Tests: ``tests/backoffice/conftest.py`` ``signed_in(role, agency=None, *, email=None)`` returns a
  logged-in client (``.get``/``.post`` as aiohttp, ``.form(path, **fields)`` adds the CSRF token,
  ``.user``, ``.csrf``); ``rt`` is the runtime serving HTTP, ``anon`` a client without an account.
"""

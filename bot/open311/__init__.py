"""Open311 GeoReport v2: this bot as an Open311 server (``/open311/v2/``) for other apps.

- ``keys``: API keys per client app (``laporbot staff open311-key --name APP``), stored hashed;
- ``formats``: JSON and XML bodies as in the spec's examples, and its error array;
- ``services``: our report categories as Open311 services, with our extension attributes;
- ``intake``: ``POST requests``: validation, duplicates, filing through :func:`bot.filing.file_report`;
- ``requests``: a report as an Open311 service request (from :mod:`bot.publik.scope`, the public scope);
- ``server``: the aiohttp sub-application mounted by :func:`bot.http.build_app`.

See docs/open311.md.
"""

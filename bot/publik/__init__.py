"""What the public may see: the public scope of a report (``scope``) and the public page ``/publik`` (``pages``).

Both the Open311 server and the public page read reports only through :mod:`bot.publik.scope`.
"""

"""Citizens' data rights (UU No. 27/2022 PDP) and data minimisation.

- ``exif``: photos lose EXIF/XMP/GPS before they are stored.
- ``rights``: ``summary`` (what is stored about me) and ``erase`` (forget me), shared by chat and admin API.
- ``chat``: the "data saya" / "hapus data saya" command and its confirmation.
- ``api``: the admin routes ``/api/v1/contacts/{id}/data`` and ``/erase``.
- ``retention``: the periodic sweep that enforces each collection's retention.
See docs/privacy.md.
"""

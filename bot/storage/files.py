"""files: attachment bytes in GridFS (bucket ``fs``: ``fs.files`` + ``fs.chunks``).

Metadata kept with each file: channel, the channel's reference, MIME type, size, SHA-256 and the last three
characters of the sender's id (never the full id); web chat uploads also carry the visitor id, so a visitor
can attach only their own uploads.
"""
from __future__ import annotations

import hashlib

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile

from bot.privacy.exif import strip_metadata


class FileStore:
    def __init__(self, db):
        self.bucket = AsyncGridFSBucket(db)
        self.files = db["fs.files"]

    async def ensure_indexes(self) -> None:
        return None  # GridFS creates its own indexes on first upload

    async def store(self, data: bytes, *, filename: str, mime_type: str | None, channel: str, ref: str,
                    user_id: str | None = None, visitor: str | None = None):
        """Store an attachment's bytes, metadata stripped first (no GPS position or phone model is ever stored,
        docs/privacy.md); returns the file id."""
        data = strip_metadata(data, mime_type)
        meta = {"channel": channel, "ref": ref, "mime_type": mime_type, "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(), "user": (user_id or "")[-3:]}
        if visitor is not None:
            meta["visitor"] = visitor
        return await self.bucket.upload_from_stream(filename or ref, data, metadata=meta)

    async def read(self, file_id) -> bytes | None:
        """The file's bytes, or None when nothing is stored under that id."""
        try:
            stream = await self.bucket.open_download_stream(file_id)
        except NoFile:
            return None
        return await stream.read()

    async def visitor_upload(self, file_id, visitor: str) -> dict | None:
        """A web chat upload's file document, only if this visitor uploaded it."""
        return await self.files.find_one({"_id": file_id, "metadata.visitor": visitor})

    async def visitor_file_ids(self, visitor: str) -> set:
        """Ids of every file a web chat visitor uploaded."""
        return {f["_id"] async for f in self.files.find({"metadata.visitor": visitor}, {"_id": 1})}

    async def delete_many(self, file_ids) -> int:
        """Delete these files (those already gone are skipped); returns how many were deleted."""
        deleted = 0
        for fid in file_ids:
            try:
                await self.bucket.delete(fid)
                deleted += 1
            except NoFile:
                pass
        return deleted

    async def strip_uploader(self, file_ids: list) -> None:
        """Remove the uploader's traces (user id tail, visitor id) from these files' metadata."""
        await self.files.update_many({"_id": {"$in": file_ids}},
                                     {"$unset": {"metadata.user": "", "metadata.visitor": ""}})

    async def uploaded_before(self, cutoff, limit: int) -> list:
        """Ids of up to ``limit`` files uploaded before ``cutoff``."""
        return [f["_id"] for f in await self.files.find({"uploadDate": {"$lt": cutoff}}, {"_id": 1}).to_list(limit)]

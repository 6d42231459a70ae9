"""Attachments as files in one local directory (the default store; one file per key)."""

import asyncio
import os
import re
import tempfile
from pathlib import Path

from integrations.storage.port import StoredObjectMissing

KEY = re.compile(r"^[a-z0-9]{16,64}$")
"""Keys are generated ids: nothing a caller writes can name a path."""


class LocalDirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not KEY.fullmatch(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key[:2] / key

    async def put(self, key: str, data: bytes) -> None:
        """Written to a temporary file then renamed: a reader never sees half a file."""
        await asyncio.to_thread(self._put, self._path(key), data)

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise StoredObjectMissing(key) from None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

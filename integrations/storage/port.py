"""Where attachment bytes live: a port, so a bucket can replace the local directory."""

from typing import Protocol


class StoredObjectMissing(Exception):
    """The store has no object under that key (deleted, or a different store)."""


class AttachmentStore(Protocol):
    """Bytes by key; keys are chosen by the caller and never reused."""

    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

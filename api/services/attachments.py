"""Attachments (logs, screenshots) on an issue: a size limit, a type allow-list judged by
the bytes themselves (not by the name or the browser's word), and the same visibility as
the issue (another organisation's attachment is a 404 like its issue).

Attachments are data beside the issue, like its description: adding one changes no state,
so it does not go through the workflow.
"""

import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath, PureWindowsPath

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.errors import invalid, not_found
from api.services.issues import visible_issue
from config.settings import Settings
from db.models import AttachmentRow
from db.repositories import attachments as attachment_repo
from domain.enums import ActorKind
from integrations.storage.port import AttachmentStore, StoredObjectMissing


@dataclass(frozen=True)
class AllowedType:
    content_type: str
    extensions: frozenset[str]
    signature: bytes | None
    """The bytes a file of this type starts with (None: text, judged by decoding it)."""


ALLOWED_TYPES: tuple[AllowedType, ...] = (
    AllowedType("image/png", frozenset({".png"}), b"\x89PNG\r\n\x1a\n"),
    AllowedType("image/jpeg", frozenset({".jpg", ".jpeg"}), b"\xff\xd8\xff"),
    AllowedType("application/pdf", frozenset({".pdf"}), b"%PDF-"),
    AllowedType("application/zip", frozenset({".zip"}), b"PK\x03\x04"),
    AllowedType("application/gzip", frozenset({".gz", ".tgz"}), b"\x1f\x8b"),
    AllowedType("text/plain", frozenset({".txt", ".log", ".csv", ".json", ".xml"}), None),
)
ACCEPTED_EXTENSIONS = sorted(e for t in ALLOWED_TYPES for e in t.extensions)
FIELD = "body.file"


@dataclass(frozen=True)
class AttachmentView:
    id: str
    filename: str
    content_type: str
    size: int
    uploaded_by_name: str
    uploaded_at: datetime


def _view(row: AttachmentRow) -> AttachmentView:
    return AttachmentView(
        row.id, row.filename, row.content_type, row.size, row.uploaded_by_name, row.uploaded_at
    )


def clean_filename(raw: str) -> str:
    """The last path segment, without control characters, at most 200 characters."""
    name = PureWindowsPath(PurePosixPath(raw or "").name).name
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    name = re.sub(r"\s+", " ", name)
    if len(name) > 200:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[: 190 - len(suffix)] + dot + suffix) if dot else name[:200]
    return name


def content_type_of(filename: str, data: bytes) -> str | None:
    """The allowed type these bytes are, if their name's extension agrees; else None."""
    extension = PurePosixPath(filename.lower()).suffix
    for allowed in ALLOWED_TYPES:
        if extension not in allowed.extensions:
            continue
        if allowed.signature is not None:
            return allowed.content_type if data.startswith(allowed.signature) else None
        if b"\x00" in data:
            return None
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/plain; charset=utf-8"
    return None


async def add_attachment(
    session: AsyncSession,
    store: AttachmentStore,
    settings: Settings,
    principal: Principal,
    issue_id: str,
    filename: str,
    data: bytes,
) -> AttachmentView:
    """Store the file and describe it; 422 at `body.file` when it is empty, too large or
    not an allowed type; 404 when the caller may not see the issue."""
    row_issue = await visible_issue(session, principal, issue_id)
    name = clean_filename(filename)
    if not data or not name:
        raise invalid(FIELD, "choose a file to attach")
    if len(data) > settings.attachment_max_bytes:
        raise invalid(FIELD, f"the file is larger than {settings.attachment_max_bytes} bytes")
    content_type = content_type_of(name, data)
    if content_type is None:
        allowed = ", ".join(ACCEPTED_EXTENSIONS)
        raise invalid(FIELD, f"this kind of file cannot be attached (allowed: {allowed})")
    key = uuid.uuid4().hex
    await session.commit()  # no transaction held while the bytes are written
    await store.put(key, data)
    actor = principal.actor
    row = AttachmentRow(
        id=f"ATT-{uuid.uuid4().hex[:16].upper()}",
        issue_id=row_issue.id,
        filename=name,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_key=key,
        uploaded_by_kind=ActorKind(actor.kind),
        uploaded_by_name=actor.name,
        uploaded_at=datetime.now(UTC),
    )
    try:
        await attachment_repo.add_attachment(session, row)
        await session.commit()
    except BaseException:
        await session.rollback()
        await store.delete(key)  # nothing describes these bytes: do not keep them
        raise
    return _view(row)


async def list_attachments(
    session: AsyncSession, principal: Principal, issue_id: str
) -> list[AttachmentView]:
    await visible_issue(session, principal, issue_id)
    rows = await attachment_repo.list_attachments(session, issue_id)
    await session.commit()
    return [_view(r) for r in rows]


async def read_attachment(
    session: AsyncSession,
    store: AttachmentStore,
    principal: Principal,
    issue_id: str,
    attachment_id: str,
) -> tuple[AttachmentView, bytes]:
    await visible_issue(session, principal, issue_id)
    row = await attachment_repo.get_attachment(session, issue_id, attachment_id)
    await session.commit()
    if row is None:
        raise not_found(f"attachment {attachment_id}")
    try:
        data = await store.get(row.storage_key)
    except StoredObjectMissing:
        raise not_found(f"attachment {attachment_id}") from None
    return _view(row), data

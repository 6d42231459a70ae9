"""Notifier adapter that writes each message as one structured log line."""

import structlog

from integrations.notify.port import OutboundMessage

log = structlog.get_logger("itr.notify")


class LogNotifier:
    """Always available, so a fresh stack shows every notification in its log."""

    async def send(self, message: OutboundMessage) -> None:
        log.info(
            "notification",
            delivery_id=message.delivery_id,
            issue_id=message.issue_id,
            kind=message.kind,
            subject=message.subject,
            to=[r.email or r.name for r in message.recipients],
        )

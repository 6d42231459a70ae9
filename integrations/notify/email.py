"""Notifier adapter that sends each message as a plain-text e-mail over SMTP (stdlib only).

`deliver` is synchronous (smtplib): a Temporal worker calls it from a sync activity on its
thread pool; `send` satisfies the notifier port for async callers by running it in a thread.
The Message-ID is derived from the delivery id, so a receiver can drop a retried send.
"""

import asyncio
import re
import smtplib
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from pydantic import BaseModel, ConfigDict, SecretStr

from integrations.notify.port import NotificationFailed, OutboundMessage


class SmtpConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str
    port: int = 587
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "itr@localhost"
    starttls: bool = True
    timeout: float = 30.0


def render(message: OutboundMessage, sender: str) -> EmailMessage | None:
    """The e-mail for a message (None when no recipient has an address)."""
    to = [formataddr((r.name, r.email)) for r in message.recipients if r.email]
    if not to:
        return None
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.at)
    domain = sender.rpartition("@")[2] or "localhost"
    mail["Message-ID"] = f"<{re.sub(r'[^A-Za-z0-9._-]', '.', message.delivery_id)}@{domain}>"
    body = message.data.get("body")
    lines = [str(body)] if body else [f"{k}: {v}" for k, v in message.data.items()]
    mail.set_content("\n".join([*lines, "", message.issue_url]))
    return mail


class EmailNotifier:
    """Sends through one SMTP server; a refused or unreachable server is a NotificationFailed
    (the activity retries)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def deliver(self, message: OutboundMessage) -> bool:
        """Send now (blocking); False when nobody had an address."""
        mail = render(message, self.config.sender)
        if mail is None:
            return False
        c = self.config
        try:
            with smtplib.SMTP(c.host, c.port, timeout=c.timeout) as smtp:
                if c.starttls:
                    smtp.starttls()
                if c.username and c.password:
                    smtp.login(c.username, c.password.get_secret_value())
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotificationFailed(f"SMTP {c.host}:{c.port}: {exc}") from exc
        return True

    async def send(self, message: OutboundMessage) -> None:
        await asyncio.to_thread(self.deliver, message)

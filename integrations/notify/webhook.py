"""Notifier adapter that POSTs each message to a URL with an HMAC-SHA256-signed body."""

import hashlib
import hmac

import httpx

from integrations.notify.port import NotificationFailed, OutboundMessage

SIGNATURE_HEADER = "X-ITR-Signature"
DELIVERY_HEADER = "X-ITR-Delivery"


def sign(body: bytes, secret: str) -> str:
    """The signature header value receivers recompute to trust the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, signature: str) -> bool:
    return hmac.compare_digest(sign(body, secret), signature)


class WebhookNotifier:
    """Delivers at least once; receivers deduplicate on the X-ITR-Delivery header."""

    def __init__(self, url: str, secret: str, timeout: float = 10.0) -> None:
        self._url = url
        self._secret = secret
        self._timeout = timeout

    async def send(self, message: OutboundMessage) -> None:
        body = message.model_dump_json().encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, self._secret),
            DELIVERY_HEADER: message.delivery_id,
        }
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise NotificationFailed(f"webhook {self._url} unreachable: {exc!r}") from exc
        if response.status_code >= 300:
            raise NotificationFailed(f"webhook {self._url} answered {response.status_code}")

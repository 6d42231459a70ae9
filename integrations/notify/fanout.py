"""Sends one message through several notifiers; a failure in any fails the whole send."""

from collections.abc import Sequence

from integrations.notify.port import Notifier, OutboundMessage


class FanoutNotifier:
    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self._notifiers = tuple(notifiers)

    async def send(self, message: OutboundMessage) -> None:
        for notifier in self._notifiers:
            await notifier.send(message)

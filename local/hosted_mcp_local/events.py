"""Local event subscribers: the one-machine twin of the EventBridge bus.

`publish` fans each event (status changes, restarts) out to in-process listeners (plain callables) and to
subscriptions (bounded queues read by the `GET /events` stream; a subscription gets restart events only when it
asks for them, so readers written for status events alone keep working). A slow subscription loses its oldest
events rather than blocking the pump.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from aws_lambda_powertools import Logger

from hosted_mcp.models.events import ServerEvent, StatusChanged
from hosted_mcp.ports import StatusEvents

logger = Logger(service="hosted-mcp-events")
QUEUE_SIZE = 1000


class Subscription:
    """Events for one reader on an asyncio loop; `get` waits for the next one."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, server_id: str | None = None, *, restarts: bool = False
    ) -> None:
        self.loop = loop
        self.server_id = server_id
        self.restarts = restarts
        self.queue: asyncio.Queue[ServerEvent] = asyncio.Queue(QUEUE_SIZE)

    def offer(self, event: ServerEvent) -> None:
        if self.server_id and event.detail.serverId != self.server_id:
            return
        if not self.restarts and not isinstance(event, StatusChanged):
            return
        self.loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: ServerEvent) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(event)

    async def get(self) -> ServerEvent:
        return await self.queue.get()


class LocalStatusEvents(StatusEvents):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Callable[[ServerEvent], None]] = []
        self._subscriptions: set[Subscription] = set()

    def publish(self, event: ServerEvent) -> None:
        with self._lock:
            listeners = list(self._listeners)
            subscriptions = list(self._subscriptions)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # one broken listener must not stop the others; it is logged with its trace
                logger.exception("status listener failed", correlation_id=event.correlationId)
        for subscription in subscriptions:
            try:
                subscription.offer(event)
            except RuntimeError:  # its loop is closed: the reader went away
                self.unsubscribe(subscription)

    def add_listener(self, listener: Callable[[ServerEvent], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def subscribe(
        self, loop: asyncio.AbstractEventLoop, server_id: str | None = None, *, restarts: bool = False
    ) -> Subscription:
        subscription = Subscription(loop, server_id, restarts=restarts)
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

"""Multi round-trip requests (MCP 2026-07-28) over a 2025 server: parked exchanges and the sealed state naming them.

A 2025 server asks its client something (sampling, elicitation, roots) in the middle of answering, and waits. A
2026-07-28 client expects instead an `input_required` result and retries the request with its answers. So the
gateway parks the upstream exchange where it stopped and hands the client a `requestState` sealed with the
gateway's key: it names the parked exchange, the caller and the request (method and name), and expires. The
retry's answers go to the server as JSON-RPC responses and the parked stream is read on from there. A parked
exchange lives in one gateway process, for at most `STATE_TTL_SECONDS`; one that expires is cancelled upstream.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from hosted_mcp_gateway import jsonrpc
from hosted_mcp_gateway.asgi import background
from hosted_mcp_gateway.forwarder import UpstreamPool
from hosted_mcp_gateway.sealing import Sealer
from hosted_mcp_gateway.upstream import Exchange, UpstreamSession

STATE_PURPOSE = "mrtr-request-state"
STATE_TTL_SECONDS = 600.0
MAX_PARKED = 10_000
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"


@dataclass
class Parked:
    """An upstream request waiting for the client's answers to the server's question."""

    session: UpstreamSession
    upstream_id: str
    exchange: Exchange
    caller_key: str
    digest: str  # the request's method and name: a state is good only for a retry of the same request
    question: jsonrpc.Message
    expiry: asyncio.TimerHandle | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return f"q{self.question['id']}"


class ParkedExchanges:
    def __init__(self, pool: UpstreamPool, key: bytes) -> None:
        self.pool = pool
        self.states = Sealer(key, STATE_PURPOSE)
        self.owner = uuid.uuid4().hex  # which gateway process parked an exchange
        self._parked: OrderedDict[str, Parked] = OrderedDict()

    def park(self, parked: Parked, client_id: Any) -> jsonrpc.Message:
        """Keep the exchange; the client's `input_required` answer, with the server's question in it."""
        park_id = uuid.uuid4().hex
        parked.expiry = asyncio.get_running_loop().call_later(STATE_TTL_SECONDS, self._expire, park_id)
        self._parked[park_id] = parked
        while len(self._parked) > MAX_PARKED:
            _, oldest = self._parked.popitem(last=False)
            self._release(oldest)
        state = {"p": park_id, "o": self.owner, "c": parked.caller_key, "d": parked.digest}
        question = {"method": parked.question["method"]}
        if "params" in parked.question:
            question["params"] = parked.question["params"]
        result = {
            "resultType": "input_required",
            "inputRequests": {parked.key: question},
            "requestState": self.states.seal(state, STATE_TTL_SECONDS),
            "_meta": {SERVER_INFO_META: parked.session.server_info},
        }
        return {"jsonrpc": "2.0", "id": client_id, "result": result}

    def resume(self, caller_key: str, digest: str, token: Any) -> Parked | None:
        """The parked exchange a retry continues, when its state is ours, this caller's and this request's."""
        if not isinstance(token, str):
            return None
        state = self.states.open(token)
        if state is None or state.get("c") != caller_key or state.get("d") != digest:
            return None
        parked = self._parked.pop(str(state.get("p")), None)
        if parked is None or parked.caller_key != caller_key:
            return None
        if parked.expiry is not None:
            parked.expiry.cancel()
        return parked

    async def deliver_answers(self, parked: Parked, responses: Any) -> None:
        """The client's answer to the server's question, as the JSON-RPC response the server waits for."""
        value = responses.get(parked.key) if isinstance(responses, dict) else None
        reply = (
            {"jsonrpc": "2.0", "id": parked.question["id"], "result": value}
            if isinstance(value, dict)
            else jsonrpc.error(parked.question["id"], jsonrpc.INVALID_PARAMS, "The client gave no answer")
        )
        await parked.session.send(self.pool, reply)

    def close(self) -> None:
        for parked in list(self._parked.values()):
            self._release(parked)
        self._parked.clear()

    def _expire(self, park_id: str) -> None:
        parked = self._parked.pop(park_id, None)
        if parked is not None:
            self._release(parked)

    def _release(self, parked: Parked) -> None:
        if parked.expiry is not None:
            parked.expiry.cancel()
        parked.exchange.abort()
        cancelled = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": parked.upstream_id}}
        background(parked.session.send(self.pool, cancelled))

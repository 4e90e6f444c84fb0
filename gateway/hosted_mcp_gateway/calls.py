"""Rule: every request passes the server's call limits and tool policy before the server sees it, and every call is
counted, timed and recorded on its way back.

One module: admission and the watches on the answer share one `Admission`, ended once however it ends.

The data plane asks `CallGate.admit` once per POSTed message, after the mirrored headers were validated and a
replica chosen, and forwards only what it admits; it wraps the answer with `Admission.watch` and calls
`Admission.end` when the exchange is over, however it ended. GET streams are watched by `watch_stream`. In order:

1. **Rate** (`limits.RateLimiter`): a JSON-RPC request over its caller's rate is answered 429 with `Retry-After`.
2. **Tool policy** (`hosted_mcp.auth.tool_access.allows`, the decision the AWS authorizer takes too): a request
   about a tool, prompt or resource outside the caller's grant is answered 403 with a JSON-RPC error (code
   `FORBIDDEN`) the client shows for that request. For MCP 2026-07-28 requests the target is the validated
   `Mcp-Method` / `Mcp-Name` headers; for the 2025 revisions, the body. A batch (2025-03-26) that holds a governed
   request is refused: calls are admitted one by one. So is a body declared in another charset than UTF-8 (415),
   and, for a restricted caller, one that is not JSON yet may name a governed method.
3. **Concurrency** (`limits.ConcurrencyLimiter`): a call over its replica's cap is answered 429.
4. **Answers**: `tools/list`, `prompts/list`, `resources/list` answers lose what the caller may not use (JSON bodies
   are held whole to do that; event streams event by event); GET streams of a restricted caller get the same
   treatment for any list answer they carry (resumed streams, and the SSE transport's stream, where answers come).
5. **Record**: a call (`tools/call`, `prompts/get`, `resources/read`), refused or answered, is counted in
   `CallMetrics` and, when the server's `auditCalls` is on, written to the audit trail with its outcome, duration
   and bytes. Its audit entry is the gateway's span: the server receives the caller's trace continued with it.

On the SSE transport a POST is answered 202 and its answer comes on the session's stream; so a refusal is written
on that stream when it is in this process (the client shows it as that request's error), and a call is complete
when its answer passes on the stream. A stream in another process (another router task) cannot be reached: the
refusal is then the POST's own 403/429, and the call is recorded as `incomplete` after `PENDING_SECONDS`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.types import Message, Send

from hosted_mcp.auth.tool_access import (
    CALLS,
    KIND_OF,
    LISTS,
    Grant,
    Target,
    allows,
    grant_for,
    target_of,
    target_of_headers,
)
from hosted_mcp.models.calls import CallOutcome, CallRecord
from hosted_mcp.models.domain import Caller, ServerRecord
from hosted_mcp_gateway import jsonrpc
from hosted_mcp_gateway.answers import (
    EventSplitter,
    event_message,
    event_parts,
    filtered,
    outcome_of,
    rewritten_event,
)
from hosted_mcp_gateway.asgi import JSON_HEADERS, answer
from hosted_mcp_gateway.call_metrics import CallMetrics
from hosted_mcp_gateway.call_recorder import CallRecorder
from hosted_mcp_gateway.limits import ConcurrencyLimiter, RateLimiter, retry_after
from hosted_mcp_gateway.mcp_headers import McpRequest
from hosted_mcp_gateway.sse_endpoint import ENDPOINT_PARAM
from hosted_mcp_gateway.trace_context import Span, hand_on, random_hex, start_span

FORBIDDEN = -32003  # JSON-RPC error code of a request outside the server's tool policy
TOO_MANY_REQUESTS = -32029  # of a request over the server's call limits
CLASSIFY_LIMIT = 1 << 20  # an answer (or event) larger than this is not read for its outcome: it counts as ok
LIST_LIMIT = 16 << 20  # a JSON list answer to cut is held whole up to this; larger ones are refused (502)
PENDING_SECONDS = 600.0
MAX_STREAMS = 10_000
GOVERNED = frozenset({*KIND_OF, *CALLS, *LISTS, "completion/complete"})
# How a body could spell a method name without its plain UTF-8 bytes: a JSON escape, or UTF-16/32 (NULs).
DISGUISES = (b"\\/", b"\\u", b"\x00")
CALL_BYTES = (*(m.encode() for m in CALLS), *DISGUISES)
GOVERNED_BYTES = (*(m.encode() for m in GOVERNED), *DISGUISES)
CHARSET = re.compile(r";\s*charset\s*=\s*\"?([^\s;\"]+)", re.IGNORECASE)
SINGULAR = {"tools": "tool", "prompts": "prompt", "resources": "resource"}


class CallGate:
    """One per data plane (gateway process): the limits' state, the metrics, the audit writer, the SSE streams."""

    def __init__(
        self,
        *,
        recorder: CallRecorder | None = None,
        metrics: CallMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.recorder = recorder
        self.metrics = metrics or CallMetrics()
        self.rates = RateLimiter(clock)
        self.slots = ConcurrencyLimiter()
        self.clock = clock
        self.now = now
        self.streams: OrderedDict[str, StreamWatch] = OrderedDict()  # SSE transport: endpoint token -> its stream
        self.pending: dict[tuple[str, Any], Admission] = {}  # SSE transport: (token, request id) -> the call

    def admit(
        self,
        record: ServerRecord,
        caller: Caller,
        replica: str,
        request: McpRequest,
        headers: MutableMapping[str, str],
        *,
        endpoint: str | None = None,
    ) -> Verdict:
        """The verdict on one POSTed message (see the module's documentation for the order of the rules).

        A 2025-revision body is parsed only when it may matter: when the server limits its callers' rate (every
        request counts), or when its bytes may hold a call (or, with a tool policy, any governed method). A method
        name is hidden from that search only by an escape (`\\/`, `\\u`), UTF-16/32 or a charset other than UTF-8,
        each of which makes the body parsed too."""
        spec, body, utf8 = record.spec, request.body, _utf8(headers.get("content-type"))
        if request.era == "legacy" and spec.callLimits.ratePerSecond is None and utf8:
            needles = GOVERNED_BYTES if spec.toolPolicy is not None else CALL_BYTES
            if not any(needle in body for needle in needles):
                return PASSED  # relayed as bytes, as if there were no gate
        message = request.message
        if not utf8:  # the server may decode another charset differently than the gate did
            admission = Admission(self, record, caller, "", None, None, None, len(body), None)
            text = "Send JSON-RPC as UTF-8"
            return admission.refuse_with(415, jsonrpc.INVALID_REQUEST, text, None, "denied")
        if message is None:
            return self._unparsed(record, caller, body)
        method = message.get("method")
        if "id" not in message or not isinstance(method, str):
            return PASSED  # a notification, or the client's answer to the server: free, never governed
        if request.era == "modern" and method in CALLS:
            target = target_of_headers(headers.get("mcp-method"), headers.get("mcp-name"))
        else:
            target = target_of(method, message.get("params"))
        admission = Admission(self, record, caller, replica, method, target, message["id"], len(body), endpoint)
        if method in CALLS and spec.auditCalls and self.recorder is not None:
            admission.span = start_span(headers, message)  # the call's audit entry is the gateway's span
        wait = self.rates.take(record.id, f"{caller.credentialType}:{caller.username}", spec.callLimits)
        if wait is not None:
            limits = spec.callLimits
            text = f"Too many requests: at most {limits.ratePerSecond:g}/s (burst {limits.bucket_size}) per caller"
            return admission.refuse_with(429, TOO_MANY_REQUESTS, text, CallOutcome.LIMITED, "rate", retry_after(wait))
        if not allows(spec.toolPolicy, caller.groups, target):
            assert target is not None
            what = f"{SINGULAR[target.kind]} {target.name!r}" if target.name is not None else f"this {method}"
            text = f"Not allowed: {what} is outside what this server's tool policy lets you use"
            return admission.refuse_with(403, FORBIDDEN, text, CallOutcome.DENIED, "denied")
        if method in LISTS and spec.toolPolicy is not None:
            grant = grant_for(spec.toolPolicy, caller.groups)
            if not grant.of(LISTS[method]).everything:
                admission.grant = grant
        if method in CALLS:
            if not self.slots.acquire(replica, spec.callLimits):
                text = "Too many calls in flight on this server: try again shortly"
                return admission.refuse_with(429, TOO_MANY_REQUESTS, text, CallOutcome.LIMITED, "concurrency", 1)
            admission.holds_slot = True
            if admission.span is not None:
                admission.body = hand_on(admission.span, headers, message, body)
            if endpoint is not None:
                self._await_on_stream(admission, endpoint)
        return admission

    def _unparsed(self, record: ServerRecord, caller: Caller, body: bytes) -> Verdict:
        """A body that is no single JSON-RPC object: a batch, or not JSON. Refused when it could hide what the policy
        governs (a batch holding a governed request, or unreadable JSON from a restricted caller)."""
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            parsed = None
        restricted = not grant_for(record.spec.toolPolicy, caller.groups).unrestricted
        governed = GOVERNED if restricted else CALLS
        batch_governed = isinstance(parsed, list) and any(
            isinstance(m, dict) and m.get("method") in governed for m in parsed
        )
        if batch_governed or (parsed is None and restricted):
            admission = Admission(self, record, caller, "", None, None, None, len(body), None)
            text = "Send each call as a request of its own" if batch_governed else "The body is not JSON-RPC"
            return admission.refuse_with(400, jsonrpc.INVALID_REQUEST, text, None, "denied")
        return PASSED

    def _await_on_stream(self, admission: Admission, endpoint: str) -> None:
        key = (endpoint, admission.request_id)
        self.pending[key] = admission
        admission.pending_key = key
        asyncio.get_running_loop().call_later(PENDING_SECONDS, admission.expire)

    def watch_stream(self, record: ServerRecord, caller: Caller, send: Send, *, sse_transport: bool) -> Send:
        """A GET stream's `send`: list answers cut for a restricted caller; on the SSE transport, also the answers
        to calls POSTed to its endpoint, and the refusals of its requests."""
        grant = grant_for(record.spec.toolPolicy, caller.groups)
        if grant.unrestricted and not sse_transport:
            return send
        return StreamWatch(self, None if grant.unrestricted else grant, send)


class Verdict:
    """What the gate says of a message it does not govern: let it through, untouched and unwatched."""

    refused = False

    def forwarded(self, body: bytes) -> bytes:
        return body

    def watch(self, send: Send) -> Send:
        return send

    async def refuse(self, send: Send, grant: list[tuple[bytes, bytes]]) -> None:
        raise AssertionError("nothing to refuse")

    def end(self) -> None:
        """The exchange is over (the data plane calls this however it ended)."""


PASSED = Verdict()


class Admission(Verdict):
    """The gate's verdict on one request, and the call's record while it runs."""

    def __init__(
        self,
        gate: CallGate,
        record: ServerRecord,
        caller: Caller,
        replica: str,
        method: str | None,
        target: Target | None,
        request_id: Any,
        request_bytes: int,
        endpoint: str | None,
    ) -> None:
        self.gate, self.record, self.caller, self.replica = gate, record, caller, replica
        self.method, self.target, self.request_id = method, target, request_id
        self.is_call = method in CALLS
        self.request_bytes, self.response_bytes = request_bytes, 0
        self.endpoint = endpoint
        self.at = gate.now()
        self.started = gate.clock()
        self.refusal: tuple[int, jsonrpc.Message, list[tuple[bytes, bytes]]] | None = None
        self.grant: Grant | None = None  # set when list answers must be cut to it
        self.span: Span | None = None
        self.body: bytes | None = None  # set when the request was rewritten (trace context)
        self.holds_slot = False
        self.pending_key: tuple[str, Any] | None = None
        self.status: int | None = None  # of the answer, once it started
        self.done = False

    @property
    def refused(self) -> bool:  # type: ignore[override]
        return self.refusal is not None

    def refuse_with(
        self,
        status: int,
        code: int,
        text: str,
        outcome: CallOutcome | None,
        reason: str,
        retry: int | None = None,
    ) -> Admission:
        data: dict[str, Any] | None = None
        if self.target is not None:
            data = {"method": self.method, "name": self.target.name}
        if retry is not None:
            data = {**(data or {}), "retryAfterSeconds": retry}
        headers = [(b"retry-after", str(retry).encode())] if retry is not None else []
        self.refusal = (status, jsonrpc.error(self.request_id, code, text, data), headers)
        self.gate.metrics.refused(self.record.normalizedName, reason)
        if outcome is not None and self.is_call:
            self.response_bytes = len(jsonrpc.dumps(self.refusal[1]))
            self.complete(outcome, forwarded=False)
        return self

    async def refuse(self, send: Send, grant: list[tuple[bytes, bytes]]) -> None:
        """Answer the refusal: on the SSE transport, as the request's error on its session's stream."""
        assert self.refusal is not None
        status, error, headers = self.refusal
        stream = self.gate.streams.get(self.endpoint) if self.endpoint is not None else None
        if stream is not None and await stream.inject(error):
            await answer(send, 202, grant, b"")
            return
        await answer(send, status, [*JSON_HEADERS, *headers, *grant], jsonrpc.dumps(error))

    def forwarded(self, body: bytes) -> bytes:
        """The body to send the server: the request's own, or with the gateway's span in `_meta`."""
        return self.body if self.body is not None else body

    def watch(self, send: Send) -> Send:
        """The answer's `send`, watched when the call is counted or its list answer must be cut."""
        if not self.is_call and self.grant is None:
            return send
        return AnswerWatch(self, send)

    def complete(self, outcome: CallOutcome, *, forwarded: bool = True) -> None:
        """The call is over: free its slot, count it, record it (once)."""
        if self.done:
            return
        self.done = True
        gate, record = self.gate, self.record
        if self.holds_slot:
            gate.slots.release(self.replica)
        if self.pending_key is not None:
            gate.pending.pop(self.pending_key, None)
        if not self.is_call:
            return
        seconds = gate.clock() - self.started
        name = self.target.name if self.target is not None else None
        gate.metrics.call(record.normalizedName, str(self.method), name, outcome, seconds if forwarded else None)
        if gate.recorder is None or not record.spec.auditCalls:
            return
        span = self.span
        gate.recorder.add(
            CallRecord(
                id=random_hex(128),
                serverId=record.id,
                at=self.at,
                caller=self.caller.username,
                credentialType=self.caller.credentialType,
                method=str(self.method),
                name=name,
                outcome=outcome,
                durationMs=round(seconds * 1000, 3),
                requestBytes=self.request_bytes,
                responseBytes=self.response_bytes,
                traceId=span.trace_id if span else None,
                spanId=span.span_id if span else None,
                parentSpanId=span.parent_id if span else None,
            )
        )

    def end(self) -> None:
        if self.done or (self.pending_key is not None and self.status == 202):
            return  # complete already, or its answer is still to come on the SSE transport's stream
        failed = self.status is not None and self.status >= 400
        self.complete(CallOutcome.FAILED if failed else CallOutcome.INCOMPLETE)

    def expire(self) -> None:
        self.complete(CallOutcome.INCOMPLETE)


class AnswerWatch:
    """The `send` of one call's answer: counts its bytes, finds its response (and so its outcome), cuts lists."""

    def __init__(self, admission: Admission, send: Send) -> None:
        self.admission = admission
        self.send = send
        self.status = 0
        self.events: EventSplitter | None = None
        self.parts: list[bytes] = []
        self.kept = 0
        self.held: Message | None = None  # the start of a JSON list answer, sent once its body is cut
        self.answered = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = self.admission.status = message["status"]
            content_type = _header(message.get("headers", []), b"content-type")
            if content_type.startswith(b"text/event-stream"):
                self.events = EventSplitter()
            elif self.admission.grant is not None:
                self.held = message
                return
            await self.send(message)
            return
        if message["type"] != "http.response.body":
            await self.send(message)
            return
        chunk, more = message.get("body", b""), message.get("more_body", False)
        if self.events is not None:
            out = b"".join(self._event(event) for event in self.events.feed(chunk))
            if not more:
                out += self.events.rest()
            self.admission.response_bytes += len(out)
            if out or not more:
                await self.send({"type": "http.response.body", "body": out, "more_body": more})
        else:
            limit = LIST_LIMIT if self.held is not None else CLASSIFY_LIMIT  # a list to cut is read whole
            if self.kept + len(chunk) <= limit:
                self.parts.append(chunk)
            self.kept += len(chunk)
            if self.held is None:
                self.admission.response_bytes += len(chunk)
                await self.send(message)
            if not more:
                await self._whole(b"".join(self.parts) if self.kept <= limit else None)
        if not more:
            self._over()

    def _event(self, event: bytes) -> bytes:
        if len(event) > CLASSIFY_LIMIT and self.admission.grant is None:
            if self.admission.is_call:  # too large to read for its outcome: the result (notifications are small)
                self.answered = True
                self.admission.complete(CallOutcome.OK)
            return event
        found = event_message(event)
        if found is None or not jsonrpc.is_response(found) or found.get("id") != self.admission.request_id:
            return event
        self.answered = True
        if self.admission.is_call:
            self.admission.complete(outcome_of(found))
        if self.admission.grant is not None and (cut := filtered(found, self.admission.grant)) is not None:
            return rewritten_event(event, cut)
        return event

    async def _whole(self, body: bytes | None) -> None:
        found = jsonrpc.parse(body) if body is not None else None
        if found is not None and jsonrpc.is_response(found):
            self.answered = True
            if self.admission.is_call and self.status < 400:
                self.admission.complete(outcome_of(found))
        if self.held is None:
            return
        held = self.held
        if body is None:  # a list answer too large to cut: refused rather than passed on whole
            error = jsonrpc.error(self.admission.request_id, jsonrpc.INTERNAL_ERROR, "The list is too large to filter")
            held, body = {**held, "status": 502, "headers": JSON_HEADERS}, jsonrpc.dumps(error)
        elif found is not None and self.admission.grant is not None:
            cut = filtered(found, self.admission.grant)
            body = jsonrpc.dumps(cut) if cut is not None else body
        out = body or b""
        headers = [(k, v) for k, v in held.get("headers", []) if k.lower() != b"content-length"]
        self.admission.response_bytes += len(out)
        await self.send({**held, "headers": [*headers, (b"content-length", str(len(out)).encode())]})
        await self.send({"type": "http.response.body", "body": out, "more_body": False})

    def _over(self) -> None:
        if self.admission.is_call:
            if self.status == 202 and self.admission.pending_key is not None:
                return
            if self.status >= 400:
                self.admission.complete(CallOutcome.FAILED)
            elif not self.answered:
                self.admission.complete(CallOutcome.FAILED if self.kept <= CLASSIFY_LIMIT else CallOutcome.OK)


class StreamWatch:
    """The `send` of a GET stream: list answers cut for a restricted caller (`grant`), the SSE transport's calls
    completed as their answers pass, and refusals for them written in between whole events."""

    def __init__(self, gate: CallGate, grant: Grant | None, send: Send) -> None:
        self.gate = gate
        self.grant = grant
        self.send = send
        self.events: EventSplitter | None = None
        self.endpoint: str | None = None
        self.lock = asyncio.Lock()
        self.open = True

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if _header(message.get("headers", []), b"content-type").startswith(b"text/event-stream"):
                self.events = EventSplitter()
        elif message["type"] == "http.response.body" and self.events is not None:
            more = message.get("more_body", False)
            out = b"".join(self._event(event) for event in self.events.feed(message.get("body", b"")))
            if not more:
                out += self.events.rest()
                self._close()
            message = {"type": "http.response.body", "body": out, "more_body": more}
            if not out and more:
                return
        async with self.lock:
            await self.send(message)

    def _event(self, event: bytes) -> bytes:
        name, data = event_parts(event)
        if name == b"endpoint" and data is not None:
            self._learn_endpoint(data)
            return event
        found = jsonrpc.parse(data) if name == b"message" and data is not None else None
        if found is None or not jsonrpc.is_response(found):
            return event
        if self.endpoint is not None:
            call = self.gate.pending.get((self.endpoint, found.get("id")))
            if call is not None:
                call.response_bytes += len(event)
                call.complete(outcome_of(found))
        if self.grant is not None and (cut := filtered(found, self.grant)) is not None:
            return rewritten_event(event, cut)
        return event

    def _learn_endpoint(self, data: bytes) -> None:
        """The gateway's endpoint for this session (`messages/?endpoint=<token>`): POSTs there name this stream."""
        tokens = parse_qs(urlsplit(data.strip().decode("utf-8", "replace")).query).get(ENDPOINT_PARAM)
        if tokens:
            self.endpoint = tokens[0]
            self.gate.streams[self.endpoint] = self
            while len(self.gate.streams) > MAX_STREAMS:
                self.gate.streams.popitem(last=False)

    def _close(self) -> None:
        self.open = False
        if self.endpoint is not None and self.gate.streams.get(self.endpoint) is self:
            del self.gate.streams[self.endpoint]

    async def inject(self, message: jsonrpc.Message) -> bool:
        """Write `message` as an event of this stream, between whole events; False if the stream is gone."""
        if not self.open:
            return False
        try:
            async with self.lock:
                await self.send({"type": "http.response.body", "body": jsonrpc.sse_event(message), "more_body": True})
        except Exception:  # the client went away: the caller answers on the POST instead
            self._close()
            return False
        return True


def _utf8(content_type: str | None) -> bool:
    """Whether a body is declared UTF-8 (no charset, or utf-8): the only encoding the byte search understands."""
    found = CHARSET.search(content_type or "")
    return found is None or found.group(1).lower() in ("utf-8", "utf8")


def _header(headers: Any, name: bytes) -> bytes:
    for key, value in headers:
        if key.lower() == name:
            return bytes(value)
    return b""

"""What the gateway keeps between requests so that a data-plane call costs neither a SQLite read nor an RSA check.

- `RecordCache`: server records by name, valid only while the store's write generation is unchanged. The store
  bumps its generation when a write commits, in the writing thread, so the very next request after a status
  change (a stop, a group change, a delete) reads the record again; there is no window where a stale record is
  served after the write returned.
- `CachingAuthenticator`: a verified JWT's caller, keyed by a SHA-256 of the token, for at most `JWT_CACHE_SECONDS`
  and never past the token's own `exp` (with the configured clock skew, as in the full check). API keys are not
  cached: each request looks the key up again, so a revoked key is refused on the next request.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from hosted_mcp.auth import Authenticator
from hosted_mcp.models.domain import AuditEntry, Caller, ServerRecord
from hosted_mcp.ports import Page, ServerStore
from hosted_mcp_local.store import SqliteServerStore

JWT_CACHE_SECONDS = 30.0
JWT_CACHE_ENTRIES = 4096
RECORD_CACHE_ENTRIES = 4096


class RecordCache(ServerStore):
    """The store, with `get_by_name` answered from memory until the next committed write."""

    def __init__(self, store: SqliteServerStore) -> None:
        self.store = store
        self._by_name: dict[str, tuple[int, ServerRecord | None]] = {}
        self._lock = threading.Lock()

    def get_by_name(self, normalized_name: str) -> ServerRecord | None:
        generation = self.store.generation  # read before the record: a write in between only forces a re-read
        cached = self._by_name.get(normalized_name)
        if cached is not None and cached[0] == generation:
            return cached[1]
        record = self.store.get_by_name(normalized_name)
        with self._lock:
            if len(self._by_name) >= RECORD_CACHE_ENTRIES:
                self._by_name.clear()
            self._by_name[normalized_name] = (generation, record)
        return record

    def create(self, record: ServerRecord, audit: AuditEntry) -> None:
        self.store.create(record, audit)

    def get(self, server_id: str) -> ServerRecord | None:
        return self.store.get(server_id)

    def list_page(self, limit: int, next_token: str | None = None) -> Page:
        return self.store.list_page(limit, next_token)

    def replace(self, expected: ServerRecord, new: ServerRecord, audit: AuditEntry | None) -> None:
        self.store.replace(expected, new, audit)

    def remove(self, expected: ServerRecord, audit: AuditEntry) -> None:
        self.store.remove(expected, audit)

    def audit_trail(self, server_id: str) -> list[AuditEntry]:
        return self.store.audit_trail(server_id)


class CachingAuthenticator(Authenticator):
    """The same rules as `Authenticator`; a JWT that verified recently is not verified again until it expires."""

    def __init__(self, inner: Authenticator, *, wall_clock: Callable[[], float] = time.time) -> None:
        super().__init__(inner.settings, inner.jwks, inner.api_keys, clock=inner.clock)
        self._wall_clock = wall_clock
        self._jwts: OrderedDict[bytes, tuple[float, Caller]] = OrderedDict()
        self._lock = threading.Lock()

    def verify_jwt(self, token: str) -> Caller:
        key = hashlib.sha256(token.encode()).digest()
        now = self._wall_clock()
        cached = self._jwts.get(key)
        if cached is not None and now < cached[0]:
            return cached[1]
        claims = self._verified_claims(token)
        caller = self._caller_from(claims)
        # Valid until the earlier of the cache horizon and the moment the full check would call it expired
        # (PyJWT refuses once exp <= now - leeway).
        until = min(now + JWT_CACHE_SECONDS, float(claims["exp"]) + self.settings.clock_skew_seconds)
        with self._lock:
            self._jwts[key] = (until, caller)
            self._jwts.move_to_end(key)
            while len(self._jwts) > JWT_CACHE_ENTRIES:
                self._jwts.popitem(last=False)
        return caller

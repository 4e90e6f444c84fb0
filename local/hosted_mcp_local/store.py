"""The embedded store: SQLite (standard library) with the same conditional semantics as the DynamoDB store.

One module: every table of the platform's one SQLite file, its schema and connection rules in one place.

Every write of a record appends its old and new images to the `change_feed` table in the same transaction, the
local twin of a DynamoDB stream with NEW_AND_OLD_IMAGES. Consumers read the feed after their checkpoint and are
woken by a condition when a write commits, never by sleeping.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hosted_mcp.auth.api_keys import ApiKeyRecord, ApiKeyStore
from hosted_mcp.errors import ConcurrentModification, InvalidRequest, NameConflict, NotFound
from hosted_mcp.models.calls import CallRecord
from hosted_mcp.models.domain import AuditEntry, ServerRecord
from hosted_mcp.ports import CallAudit, CallPage, Page, ServerStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS servers (
    id TEXT PRIMARY KEY,
    normalized_name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS servers_by_created ON servers (created_at, id);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_server ON audit (server_id, seq);
CREATE TABLE IF NOT EXISTS change_feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id TEXT NOT NULL,
    old_image TEXT,
    new_image TEXT,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS failed_changes (
    seq INTEGER NOT NULL,
    consumer TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (consumer, seq)
);
"""


@dataclass(frozen=True)
class FeedEntry:
    """One committed change of one record: the images before and after (None for insert / remove)."""

    seq: int
    server_id: str
    old: ServerRecord | None
    new: ServerRecord | None


def _image(record: ServerRecord | None) -> str | None:
    return record.model_dump_json() if record is not None else None


def _record(image: str | None) -> ServerRecord | None:
    return ServerRecord.model_validate_json(image) if image else None


def _page_token(created_at: str, server_id: str) -> str:
    """Where the next page starts: the sort key of the last record returned (opaque to clients)."""
    return base64.urlsafe_b64encode(json.dumps([created_at, server_id]).encode()).decode()


def _page_after(token: str) -> tuple[str, str]:
    try:
        created_at, server_id = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidRequest.of("nextToken", "nextToken is not a token this API issued") from exc
    if not isinstance(created_at, str) or not isinstance(server_id, str):
        raise InvalidRequest.of("nextToken", "nextToken is not a token this API issued")
    return created_at, server_id


class SqliteServerStore(ServerStore):
    """ServerStore over one SQLite file; safe to share between threads (one connection, one lock)."""

    def __init__(self, path: Path | str) -> None:
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._lock = threading.RLock()
        self._written = threading.Condition(self._lock)
        self.generation = 0  # bumped when a write commits: readers' caches compare it, never a clock
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self.generation += 1
            self._written.notify_all()

    # -- ServerStore ------------------------------------------------------------------------------------------

    def create(self, record: ServerRecord, audit: AuditEntry) -> None:
        with self._transaction() as conn:
            try:
                conn.execute(
                    "INSERT INTO servers (id, normalized_name, created_at, version, status, body)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        record.id,
                        record.normalizedName,
                        record.createdAt.isoformat(),
                        record.version,
                        record.status.value,
                        record.model_dump_json(),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise NameConflict() from exc
            self._append(conn, record.id, None, record, audit)

    def get(self, server_id: str) -> ServerRecord | None:
        with self._lock:
            row = self._conn.execute("SELECT body FROM servers WHERE id = ?", (server_id,)).fetchone()
        return _record(row[0]) if row else None

    def get_by_name(self, normalized_name: str) -> ServerRecord | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT body FROM servers WHERE normalized_name = ?", (normalized_name,)
            ).fetchone()
        return _record(row[0]) if row else None

    def list_page(self, limit: int, next_token: str | None = None) -> Page:
        """Keyset pagination over the (created_at, id) index: a page costs the same at any depth and table size."""
        with self._lock:
            if next_token:
                rows = self._conn.execute(
                    "SELECT body, created_at, id FROM servers WHERE (created_at, id) > (?, ?)"
                    " ORDER BY created_at, id LIMIT ?",
                    (*_page_after(next_token), limit + 1),
                ).fetchall()
            else:
                rows = self._conn.execute(
                    "SELECT body, created_at, id FROM servers ORDER BY created_at, id LIMIT ?", (limit + 1,)
                ).fetchall()
        records = [r for r in (_record(row[0]) for row in rows[:limit]) if r is not None]
        more = len(rows) > limit
        return Page(records=records, next_token=_page_token(rows[limit - 1][1], rows[limit - 1][2]) if more else None)

    def all_records(self) -> list[ServerRecord]:
        with self._lock:
            rows = self._conn.execute("SELECT body FROM servers ORDER BY created_at, id").fetchall()
        return [r for r in (_record(row[0]) for row in rows) if r is not None]

    def replace(self, expected: ServerRecord, new: ServerRecord, audit: AuditEntry | None) -> None:
        with self._transaction() as conn:
            changed = conn.execute(
                "UPDATE servers SET version = ?, status = ?, body = ? WHERE id = ? AND version = ? AND status = ?",
                (new.version, new.status.value, new.model_dump_json(), expected.id, expected.version, expected.status),
            ).rowcount
            if changed != 1:
                raise ConcurrentModification()
            self._append(conn, new.id, expected, new, audit)

    def remove(self, expected: ServerRecord, audit: AuditEntry) -> None:
        with self._transaction() as conn:
            changed = conn.execute(
                "DELETE FROM servers WHERE id = ? AND version = ? AND status = ?",
                (expected.id, expected.version, expected.status),
            ).rowcount
            if changed != 1:
                raise ConcurrentModification()
            self._append(conn, expected.id, expected, None, audit)

    def audit_trail(self, server_id: str) -> list[AuditEntry]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT body FROM audit WHERE server_id = ? ORDER BY seq", (server_id,)
            ).fetchall()
        return [AuditEntry.model_validate_json(row[0]) for row in rows]

    def _append(
        self,
        conn: sqlite3.Connection,
        server_id: str,
        old: ServerRecord | None,
        new: ServerRecord | None,
        audit: AuditEntry | None,
    ) -> None:
        if audit is not None:
            conn.execute("INSERT INTO audit (server_id, body) VALUES (?, ?)", (server_id, audit.model_dump_json()))
        conn.execute(
            "INSERT INTO change_feed (server_id, old_image, new_image, at) VALUES (?, ?, ?, ?)",
            (server_id, _image(old), _image(new), datetime.now(UTC).isoformat()),
        )

    # -- change feed ------------------------------------------------------------------------------------------

    def read_feed(self, after: int, limit: int = 100) -> list[FeedEntry]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, server_id, old_image, new_image FROM change_feed WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [FeedEntry(seq=row[0], server_id=row[1], old=_record(row[2]), new=_record(row[3])) for row in rows]

    def wait_for_feed(self, after: int, timeout: float | None = None) -> bool:
        """Block until the feed holds an entry after `after` (True) or `timeout` passes / `wake` is called."""
        with self._written:
            if self._last_seq() > after:
                return True
            self._written.wait(timeout)
            return self._last_seq() > after

    def wake(self) -> None:
        """Wake every consumer waiting on the feed (used on shutdown)."""
        with self._written:
            self._written.notify_all()

    def _last_seq(self) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM change_feed").fetchone()
        return int(row[0])

    def checkpoint(self, consumer: str) -> int:
        with self._lock:
            row = self._conn.execute("SELECT seq FROM checkpoints WHERE consumer = ?", (consumer,)).fetchone()
        return int(row[0]) if row else 0

    def save_checkpoint(self, consumer: str, seq: int) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO checkpoints (consumer, seq) VALUES (?, ?)"
                " ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq",
                (consumer, seq),
            )

    def record_failure(self, consumer: str, seq: int, reason: str) -> None:
        """The failure destination: a change a consumer gave up on, kept for an operator to inspect."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO failed_changes (seq, consumer, reason, at) VALUES (?, ?, ?, ?)",
                (seq, consumer, reason, datetime.now(UTC).isoformat()),
            )

    def failures(self, consumer: str) -> list[tuple[int, str]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, reason FROM failed_changes WHERE consumer = ? ORDER BY seq", (consumer,)
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]


API_KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    body TEXT NOT NULL
);
"""


class SqliteApiKeyStore(ApiKeyStore):
    """API keys (hashed, never the key) in the platform's SQLite file, beside the servers."""

    def __init__(self, store: SqliteServerStore) -> None:
        self._store = store
        with store._lock:
            store._conn.executescript(API_KEYS_SCHEMA)

    def put(self, record: ApiKeyRecord) -> None:
        with self._store._lock:
            try:
                self._store._conn.execute(
                    "INSERT INTO api_keys (key_id, created_at, body) VALUES (?, ?, ?)",
                    (record.keyId, record.createdAt.isoformat(), record.model_dump_json()),
                )
            except sqlite3.IntegrityError as exc:
                raise ValueError("key id already exists") from exc

    def get(self, key_id: str) -> ApiKeyRecord | None:
        with self._store._lock:
            row = self._store._conn.execute("SELECT body FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return ApiKeyRecord.model_validate_json(row[0]) if row else None

    def list(self) -> list[ApiKeyRecord]:
        with self._store._lock:
            rows = self._store._conn.execute("SELECT body FROM api_keys ORDER BY created_at, key_id").fetchall()
        return [ApiKeyRecord.model_validate_json(row[0]) for row in rows]

    def revoke(self, key_id: str, at: datetime) -> ApiKeyRecord:
        with self._store._lock:
            record = self.get(key_id)
            if record is None:
                raise NotFound("No such API key")
            if record.revokedAt is None:
                record = record.evolve(revokedAt=at)
                self._store._conn.execute(
                    "UPDATE api_keys SET body = ? WHERE key_id = ?", (record.model_dump_json(), key_id)
                )
            return record


CALLS_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    serverId TEXT NOT NULL,
    at TEXT NOT NULL,
    caller TEXT NOT NULL,
    credentialType TEXT NOT NULL,
    method TEXT NOT NULL,
    name TEXT,
    outcome TEXT NOT NULL,
    durationMs REAL NOT NULL,
    requestBytes INTEGER NOT NULL,
    responseBytes INTEGER NOT NULL,
    traceId TEXT,
    spanId TEXT,
    parentSpanId TEXT
);
CREATE INDEX IF NOT EXISTS calls_by_server ON calls (serverId, at, seq);
"""
CALL_COLUMNS = CallRecord.field_names()


class SqliteCallAudit(CallAudit):
    """The data-plane audit trail in the platform's SQLite file, on a connection of its own.

    Its writes never count as the store's commits (`SqliteServerStore.generation`), so a stream of calls does not
    make the gateway read server records again. Entries older than `retention`, and the oldest beyond `max_rows`,
    are removed by `prune` (the platform calls it from the audit writer)."""

    def __init__(self, path: Path | str, *, retention: timedelta, max_rows: int = 1_000_000) -> None:
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._lock = threading.Lock()
        self.retention = retention
        self.max_rows = max_rows
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(CALLS_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def record(self, calls: Sequence[CallRecord]) -> None:
        rows = [
            (
                c.id,
                c.serverId,
                _utc(c.at),
                c.caller,
                c.credentialType,
                c.method,
                c.name,
                c.outcome.value,
                c.durationMs,
                c.requestBytes,
                c.responseBytes,
                c.traceId,
                c.spanId,
                c.parentSpanId,
            )
            for c in calls
        ]
        columns = ", ".join(CALL_COLUMNS)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    f"INSERT INTO calls ({columns}) VALUES ({', '.join('?' * len(CALL_COLUMNS))})",  # noqa: S608
                    rows,
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def calls(self, server_id: str, limit: int, next_token: str | None = None) -> CallPage:
        """Newest first; the token is the position (time, sequence) after the last one returned."""
        columns = ", ".join(CALL_COLUMNS)
        with self._lock:
            if next_token:
                at, seq = _call_position(next_token)
                rows = self._conn.execute(
                    f"SELECT {columns}, seq FROM calls WHERE serverId = ? AND (at, seq) < (?, ?)"  # noqa: S608
                    " ORDER BY at DESC, seq DESC LIMIT ?",
                    (server_id, at, seq, limit + 1),
                ).fetchall()
            else:
                rows = self._conn.execute(
                    f"SELECT {columns}, seq FROM calls WHERE serverId = ?"  # noqa: S608
                    " ORDER BY at DESC, seq DESC LIMIT ?",
                    (server_id, limit + 1),
                ).fetchall()
        records = [CallRecord.from_data(dict(zip(CALL_COLUMNS, row, strict=False))) for row in rows[:limit]]
        if len(rows) <= limit:
            return CallPage(records=records, next_token=None)
        last = rows[limit - 1]
        return CallPage(records=records, next_token=_page_token(last[2], str(last[-1])))

    def prune(self, now: datetime) -> int:
        """Remove what retention no longer keeps; how many entries went."""
        with self._lock:
            removed = self._conn.execute("DELETE FROM calls WHERE at < ?", (_utc(now - self.retention),)).rowcount
            removed += self._conn.execute(
                "DELETE FROM calls WHERE seq <= (SELECT MAX(seq) FROM calls) - ?", (self.max_rows,)
            ).rowcount
        return int(removed)


def _utc(at: datetime) -> str:
    """A sortable UTC timestamp (fixed width, microseconds)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _call_position(token: str) -> tuple[str, int]:
    at, seq = _page_after(token)
    if not seq.isdigit():
        raise InvalidRequest.of("nextToken", "nextToken is not a token this API issued")
    return at, int(seq)

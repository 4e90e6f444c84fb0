"""API keys: issued once, stored only as a hash, looked up by their id, verified in constant time.

A key reads `hmk_<keyId>_<secret>`: `keyId` (16 hex characters) finds the stored record, `secret` (256 random
bits) proves possession. The store keeps SHA-256 of the whole key, never the key itself; with 256 bits of
entropy a fast hash is enough (nothing to brute-force), and the comparison uses `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from abc import ABC, abstractmethod
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from hosted_mcp.errors import NotFound

KEY_PREFIX = "hmk_"
_KEY_SHAPE = re.compile(r"^hmk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


class ApiKeyRecord(BaseModel):
    """What the platform stores about an API key (never the key)."""

    model_config = ConfigDict(frozen=True)

    keyId: str = Field(pattern=r"^[0-9a-f]{16}$")
    name: str = Field(min_length=1, max_length=100)
    owner: str = Field(min_length=1, max_length=256, description="The identity the key acts as.")
    groups: tuple[str, ...] = ()
    createdBy: str
    createdAt: datetime
    expiresAt: datetime
    revokedAt: datetime | None = None
    secretHash: str = Field(pattern=r"^[0-9a-f]{64}$", repr=False)

    def usable_at(self, now: datetime) -> bool:
        return self.revokedAt is None and now < self.expiresAt

    def evolve(self, **changes: object) -> ApiKeyRecord:
        return self.model_copy(update=changes)


class IssuedKey(BaseModel):
    """A freshly issued key: the only moment the secret exists outside the caller's hands."""

    model_config = ConfigDict(frozen=True)

    record: ApiKeyRecord
    secret: str = Field(repr=False)


class ApiKeyStore(ABC):
    """Stored API keys. `put` never overwrites; `revoke` is idempotent and keeps the record for audit."""

    @abstractmethod
    def put(self, record: ApiKeyRecord) -> None: ...

    @abstractmethod
    def get(self, key_id: str) -> ApiKeyRecord | None: ...

    @abstractmethod
    def list(self) -> list[ApiKeyRecord]: ...

    @abstractmethod
    def revoke(self, key_id: str, at: datetime) -> ApiKeyRecord:
        """Mark the key revoked (NotFound when there is no such key); a second revoke keeps the first time."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_api_key(credential: str) -> bool:
    return credential.startswith(KEY_PREFIX)


def split_key(key: str) -> str | None:
    """The key id of a well-formed key, else None."""
    match = _KEY_SHAPE.match(key)
    return match.group(1) if match else None


def new_key(
    *, name: str, owner: str, groups: tuple[str, ...], created_by: str, now: datetime, expires_at: datetime
) -> IssuedKey:
    key_id = secrets.token_hex(8)
    secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    record = ApiKeyRecord(
        keyId=key_id,
        name=name,
        owner=owner,
        groups=groups,
        createdBy=created_by,
        createdAt=now,
        expiresAt=expires_at,
        secretHash=hash_key(secret),
    )
    return IssuedKey(record=record, secret=secret)


def verify_key(store: ApiKeyStore, key: str, now: datetime) -> ApiKeyRecord | None:
    """The record of a valid, unexpired, unrevoked key; None otherwise (without saying which check failed)."""
    key_id = split_key(key)
    if key_id is None:
        return None
    record = store.get(key_id)
    # Hash and compare even when the id is unknown, so timing does not reveal which ids exist.
    expected = record.secretHash if record else "0" * 64
    matches = hmac.compare_digest(hash_key(key), expected)
    if record is None or not matches or not record.usable_at(now):
        return None
    return record


class InMemoryApiKeyStore(ApiKeyStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, ApiKeyRecord] = {}

    def put(self, record: ApiKeyRecord) -> None:
        with self._lock:
            if record.keyId in self._keys:
                raise ValueError("key id already exists")
            self._keys[record.keyId] = record

    def get(self, key_id: str) -> ApiKeyRecord | None:
        return self._keys.get(key_id)

    def list(self) -> list[ApiKeyRecord]:
        return sorted(self._keys.values(), key=lambda r: (r.createdAt, r.keyId))

    def revoke(self, key_id: str, at: datetime) -> ApiKeyRecord:
        with self._lock:
            record = self._keys.get(key_id)
            if record is None:
                raise NotFound("No such API key")
            if record.revokedAt is None:
                record = record.evolve(revokedAt=at)
                self._keys[key_id] = record
            return record

"""Sealed tokens: data the gateway hands a client and must get back unchanged (MRTR `requestState`, session ids).

AES-256-GCM with a random nonce: the client can neither read nor alter what is inside, and every gateway that
holds the key (each AWS router task, the local gateway) can open what another sealed. A token carries its own
expiry; an expired, altered or foreign token opens to None.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "hm1."
NONCE_BYTES = 12


class Sealer:
    def __init__(self, key: bytes, purpose: str) -> None:
        if len(key) != 32:
            raise ValueError("a sealing key is 32 bytes")
        self._aead = AESGCM(key)
        self._purpose = purpose.encode()  # bound under the tag: a session id never opens as a requestState

    @classmethod
    def generate_key(cls) -> bytes:
        return AESGCM.generate_key(bit_length=256)

    def seal(self, payload: dict[str, Any], ttl_seconds: float, *, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + ttl_seconds)
        plain = json.dumps({**payload, "exp": expires}, separators=(",", ":")).encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, plain, self._purpose)
        return PREFIX + base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, token: str, *, now: float | None = None) -> dict[str, Any] | None:
        if not isinstance(token, str) or not token.startswith(PREFIX) or len(token) > 8192:
            return None
        raw = token.removeprefix(PREFIX)
        try:
            sealed = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            plain = self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], self._purpose)
            payload = json.loads(plain)
        except (ValueError, InvalidTag):
            return None
        if not isinstance(payload, dict) or payload.get("exp", 0) < (time.time() if now is None else now):
            return None
        return payload

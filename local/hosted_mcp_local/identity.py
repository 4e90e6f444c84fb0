"""The local token issuer: an RSA key in the data directory signs short-lived RS256 JWTs the gateway accepts.

The private key never leaves `<data-dir>/identity/signing-key.pem` (mode 0600). The gateway verifies tokens
with the shared `Authenticator` against this key's public half (a static key set), exactly as the Lambda
authorizer verifies an IdP's tokens against its JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hosted_mcp.auth import AuthSettings, StaticJwksSource

ISSUER = "urn:hosted-mcp:local"
AUDIENCE = "hosted-mcp"
GROUPS_CLAIM = "groups"
ADMIN_GROUP = "admin"
DEFAULT_TTL = timedelta(hours=1)
MAX_TTL = timedelta(days=7)
KEY_FILE = Path("identity") / "signing-key.pem"


def local_auth_settings() -> AuthSettings:
    return AuthSettings(
        issuer=ISSUER,
        audience=(AUDIENCE,),
        algorithms=("RS256",),
        groups_claim=GROUPS_CLAIM,
        username_claim=("sub",),
        admin_group=ADMIN_GROUP,
    )


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class NoSigningKey(LookupError):
    """The data directory has no signing key: no platform has run there."""


class LocalIssuer:
    """Loads (or creates, once, unless told not to) the signing key under `data_dir` and mints tokens with it."""

    def __init__(self, data_dir: Path, *, create: bool = True) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        path = data_dir / KEY_FILE
        if not path.exists() and not create:
            raise NoSigningKey(f"{path} does not exist")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            # Created with 0600 from the start (O_EXCL: two processes never both write it).
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(pem)
        os.chmod(path, 0o600)
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key")
        self._key = loaded
        numbers = loaded.public_key().public_numbers()
        self._jwk_core = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
        # RFC 7638 thumbprint: a stable kid that changes only when the key does.
        canonical = '{"e":"%s","kty":"RSA","n":"%s"}' % (self._jwk_core["e"], self._jwk_core["n"])  # noqa: UP031
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
        self.key_path = path

    def public_jwk(self) -> dict[str, Any]:
        return {**self._jwk_core, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def jwks(self) -> StaticJwksSource:
        return StaticJwksSource([self.public_jwk()])

    def mint(self, user: str, groups: list[str], *, admin: bool, ttl: timedelta, now: datetime) -> str:
        import jwt

        if not user:
            raise ValueError("user must not be empty")
        if ttl <= timedelta(0) or ttl > MAX_TTL:
            raise ValueError(f"ttl must be between 1 second and {int(MAX_TTL.total_seconds())} seconds")
        all_groups = list(dict.fromkeys([*groups, *([ADMIN_GROUP] if admin else [])]))
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user,
            GROUPS_CLAIM: all_groups,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})


GATEWAY_KEY_FILE = Path("identity") / "gateway.key"


def gateway_key(data_dir: Path) -> bytes:
    """The gateway's sealing key (session ids, SSE endpoints, MRTR state), created once with mode 0600."""
    path = data_dir / GATEWAY_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(os.urandom(32))
    key = path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"{path} is not a 32-byte key")
    return key


def server_secret(gateway_key: bytes, server_id: str) -> str:
    """A server's own secret, the same for each of its replicas and for no other server (HMAC of the gateway's
    key): what they seal MCP `requestState` with, so a retry may land on any replica. Never stored or logged."""
    return hmac.new(gateway_key, b"request-state:" + server_id.encode(), hashlib.sha256).hexdigest()

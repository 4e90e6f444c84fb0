"""Where the issuer's signing keys come from: a port, an HTTP source (AWS) and a cached, rate-limited refresher."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger

logger = Logger(service="hosted-mcp-auth", child=True)

SIGNING_KEY_TYPES = frozenset({"RSA", "EC"})
MAX_JWKS_BYTES = 512 * 1024
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class JwksSource(ABC):
    """The issuer's public signing keys, by `kid`."""

    @abstractmethod
    def get_key(self, kid: str) -> dict[str, Any] | None:
        """The JWK for `kid`, or None when this source does not (yet) know it."""

    @abstractmethod
    def refresh(self) -> None:
        """Fetch the key set again (key rotation)."""


def usable_keys(keys: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Signing keys with a `kid`, by `kid`. Encryption keys and symmetric keys are dropped."""
    result: dict[str, dict[str, Any]] = {}
    for key in keys:
        if not isinstance(key, dict):
            continue
        kid = key.get("kid")
        if not isinstance(kid, str) or not kid or key.get("kty") not in SIGNING_KEY_TYPES:
            continue
        if key.get("use", "sig") != "sig":
            continue
        result[kid] = dict(key)
    return result


class StaticJwksSource(JwksSource):
    """A fixed key set held in memory (tests, a local token issuer); `set_keys` simulates rotation."""

    def __init__(self, keys: Iterable[dict[str, Any]] = ()) -> None:
        self._published = list(keys)
        self._keys = usable_keys(self._published)
        self.refreshes = 0

    def set_keys(self, keys: Iterable[dict[str, Any]]) -> None:
        """Publish a new key set; callers see it after the next refresh, as with a real issuer."""
        self._published = list(keys)

    def get_key(self, kid: str) -> dict[str, Any] | None:
        return self._keys.get(kid)

    def refresh(self) -> None:
        self.refreshes += 1
        self._keys = usable_keys(self._published)


class HttpJwksSource(JwksSource):
    """The issuer's `jwks.json` over HTTPS (plain HTTP only on loopback), fetched lazily with the stdlib."""

    def __init__(self, url: str, *, timeout: float = 3.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
            raise ValueError("jwks_url must use https")
        self._url = url
        self._timeout = timeout
        self._keys: dict[str, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def get_key(self, kid: str) -> dict[str, Any] | None:
        if self._keys is None:
            self.refresh()
        return (self._keys or {}).get(kid)

    def refresh(self) -> None:
        request = urllib.request.Request(self._url, headers={"Accept": "application/json"})  # noqa: S310 (scheme checked)
        with self._lock, urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
            body = response.read(MAX_JWKS_BYTES + 1)
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError("key set too large")
        document = json.loads(body)
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise ValueError("key set has no keys")
        self._keys = usable_keys(keys)


class RefreshingJwks(JwksSource):
    """Keys cached per container; an unknown `kid` triggers at most one refresh per `min_refresh_seconds`.

    A flood of tokens with made-up `kid`s therefore costs the issuer one fetch a minute, not one per request.
    A failed fetch keeps the keys already known (and logs without any key material) and fails closed for the
    unknown `kid`.
    """

    def __init__(
        self,
        source: JwksSource,
        *,
        min_refresh_seconds: float = 60.0,
        max_age_seconds: float = 3600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._min_refresh = min_refresh_seconds
        self._max_age = max_age_seconds
        self._now = monotonic
        self._last_refresh: float | None = None
        self._lock = threading.Lock()

    def get_key(self, kid: str) -> dict[str, Any] | None:
        if self._last_refresh is None or self._now() - self._last_refresh >= self._max_age:
            self._try_refresh(force=True)
        key = self._source.get_key(kid)
        if key is None and self._try_refresh(force=False):
            key = self._source.get_key(kid)
        return key

    def refresh(self) -> None:
        self._try_refresh(force=True)

    def _try_refresh(self, *, force: bool) -> bool:
        with self._lock:
            now = self._now()
            if not force and self._last_refresh is not None and now - self._last_refresh < self._min_refresh:
                return False
            self._last_refresh = now
            try:
                self._source.refresh()
            except (OSError, ValueError) as error:  # network, HTTP or JSON failure: keep the old keys
                logger.warning("jwks refresh failed", error_type=type(error).__name__)
                return False
            return True

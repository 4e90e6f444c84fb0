"""The JWT attacks of the security stance as data: each one a token built from a real issuer's ingredients.

A builder takes the issuer the gateway trusts (`TestIdp`, which can also wrap the local platform's signing key)
and an attacker's keys, and returns the token to send. Every one must be rejected with 401 while a token the same
issuer mints honestly is accepted: tests/unit/auth/test_jwt_attacks.py runs them against the Authenticator
in-process, tests/e2e/test_auth_local.py against the local gateway over HTTP.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.tokens import DROP, TestIdp, b64url, forge, public_jwk, sign_hs256, sign_raw

Builder = Callable[[TestIdp, TestIdp, str], str]


@dataclass(frozen=True)
class Attack:
    """`build(idp, attacker, admin_group)`: a token that claims the admin group wherever the attack allows."""

    name: str
    build: Builder


def _alg_none(alg: str, signature: bytes) -> Builder:
    def build(idp: TestIdp, attacker: TestIdp, admin: str) -> str:
        return forge({"alg": alg, "typ": "JWT", "kid": idp.rsa_kid}, idp.claims("mallory", [admin]), signature)

    return build


def _hs256_with(secret_of: Callable[[TestIdp], bytes]) -> Builder:
    def build(idp: TestIdp, attacker: TestIdp, admin: str) -> str:
        return sign_hs256({"alg": "HS256", "kid": idp.rsa_kid}, idp.claims("mallory", [admin]), secret_of(idp))

    return build


def _jwk_json(idp: TestIdp) -> bytes:
    return json.dumps(public_jwk(idp.rsa_key, idp.rsa_kid, "RS256")).encode()


def _jwk_sorted(idp: TestIdp) -> bytes:
    return json.dumps(public_jwk(idp.rsa_key, idp.rsa_kid, "RS256"), sort_keys=True, separators=(",", ":")).encode()


def _jwk_modulus(idp: TestIdp) -> bytes:
    modulus = public_jwk(idp.rsa_key, idp.rsa_kid, "RS256")["n"]
    return base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4))


def _claims(**overrides: Any) -> Builder:
    """An honestly signed token whose claims break a rule; a callable value gets (idp, now)."""

    def build(idp: TestIdp, attacker: TestIdp, admin: str) -> str:
        now = int(time.time())
        values = {k: (v(idp, now) if callable(v) else v) for k, v in overrides.items()}
        return idp.mint("bob", [], **values)

    return build


def _groups(value: Any) -> Builder:
    def build(idp: TestIdp, attacker: TestIdp, admin: str) -> str:
        claims = {**idp.claims("bob", []), idp.groups_claim: value}
        claims = {k: v for k, v in claims.items() if v is not DROP}
        return jwt.encode(claims, idp.rsa_key, "RS256", headers={"kid": idp.rsa_kid})

    return build


def _kid(kid: Any) -> Builder:
    def build(idp: TestIdp, attacker: TestIdp, admin: str) -> str:
        header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"} | ({} if kid is DROP else {"kid": kid})
        return sign_raw(header, idp.claims(), idp.rsa_key)

    return build


def _attacker_key(alg: str) -> Builder:
    def build(idp: TestIdp, attacker: TestIdp, admin: str) -> str:
        key = attacker.ec_key if alg.startswith("ES") else attacker.rsa_key
        return idp.mint("mallory", [admin], alg=alg, key=key)

    return build


def _self_named_key(header: str, known_kid: bool) -> Builder:
    def build(idp: TestIdp, attacker: TestIdp, admin: str) -> str:
        value: Any = {
            "jku": "https://attacker.example/jwks.json",
            "x5u": "https://attacker.example/cert.pem",
            "jwk": public_jwk(attacker.rsa_key, "attacker-1", "RS256"),
            "x5c": ["MIIBattackerCertificate"],
        }[header]
        headers = {header: value, "kid": idp.rsa_kid if known_kid else "attacker-1"}
        return jwt.encode(idp.claims("mallory", [admin]), attacker.rsa_key, "RS256", headers=headers)

    return build


def _tampered(change: str) -> Builder:
    def build(idp: TestIdp, attacker: TestIdp, admin: str) -> str:
        head, _, signature = idp.mint("bob", ["finance"]).split(".")
        claims = idp.claims("bob", ["finance"])
        claims.update(
            {
                "groups": {idp.groups_claim: [admin]},
                "username": {"cognito:username": "alice", "sub": "alice"},
                "exp": {"exp": 2**40},
            }[change]
        )
        body = b64url(json.dumps(claims, separators=(",", ":")).encode())
        return f"{head}.{body}.{signature}"

    return build


def _signature(cut: str) -> Builder:
    def build(idp: TestIdp, attacker: TestIdp, admin: str) -> str:
        signing_input, signature = idp.mint().rsplit(".", 1)
        bad = {
            "empty": "",
            "truncated": signature[: len(signature) // 2],
            "one-char-short": signature[:-1],
            "flipped": ("A" if signature[0] != "A" else "B") + signature[1:],
        }[cut]
        return f"{signing_input}.{bad}"

    return build


def _outside_allow_list(alg: str) -> Builder:
    """Properly signed by the issuer's own key (or a fresh P-384 key for ES384), with an algorithm not allowed."""

    def build(idp: TestIdp, attacker: TestIdp, admin: str) -> str:
        if alg == "ES384":
            return jwt.encode(idp.claims(), ec.generate_private_key(ec.SECP384R1()), alg, headers={"kid": idp.ec_kid})
        return jwt.encode(idp.claims(), idp.rsa_key, alg, headers={"kid": idp.rsa_kid})

    return build


def _other_family(idp: TestIdp, attacker: TestIdp, admin: str) -> str:
    return jwt.encode(idp.claims(), idp.ec_key, "ES256", headers={"kid": idp.rsa_kid})


def _literal(token: str) -> Builder:
    return lambda idp, attacker, admin: token


def _oversize(idp: TestIdp, attacker: TestIdp, admin: str) -> str:
    return idp.mint("bob", ["finance"], padding="x" * 10_000)


def _no_username(idp: TestIdp, attacker: TestIdp, admin: str) -> str:
    return idp.mint(sub=DROP, **{"cognito:username": DROP})


MALFORMED_TOKENS = (
    "abc",
    "a.b",
    "a.b.c.d",
    "...",
    "!!!.###.$$$",
    b64url(b"not json") + "." + b64url(b"{}") + ".sig",
    b64url(b"[1,2]") + "." + b64url(b"{}") + ".sig",
    b64url(b'{"alg":"RS256","kid":"rsa-1"}') + "." + b64url(b"not json") + ".sig",
    b64url(b'{"alg":"RS256","kid":"rsa-1"}') + "." + b64url(b"[]") + ".sig",
)

# Authorization header values that are not a bearer credential at all.
MALFORMED_AUTHORIZATION = ("Bearer", "Bearer ", "Basic YWxpY2U6cGFzcw==", "Token abc", "eyJhbGciOi")

ATTACKS: tuple[Attack, ...] = (
    *(
        Attack(f"alg-{alg}-{sig or 'unsigned'}", _alg_none(alg, sig.encode()))
        for alg in ("none", "None", "NONE", "nOnE")
        for sig in ("", "sig")
    ),
    Attack("hs256-rsa-public-pem", _hs256_with(lambda idp: idp.rsa_public_pem())),
    Attack("hs256-rsa-public-jwk-json", _hs256_with(_jwk_json)),
    Attack("hs256-rsa-public-jwk-sorted", _hs256_with(_jwk_sorted)),
    Attack("hs256-rsa-public-jwk-modulus", _hs256_with(_jwk_modulus)),
    Attack(
        "expired", _claims(iat=lambda _, now: now - 7200, nbf=lambda _, now: now - 7200, exp=lambda _, now: now - 3600)
    ),
    Attack("nbf-in-the-future", _claims(nbf=lambda _, now: now + 3600)),
    Attack("iat-in-the-future", _claims(iat=lambda _, now: now + 3600)),
    *(Attack(f"missing-{claim}", _claims(**{claim: DROP})) for claim in ("exp", "iss", "aud", "iat", "nbf")),
    Attack("wrong-aud", _claims(aud="someone-else")),
    Attack("wrong-aud-list", _claims(aud=["someone-else", "another"])),
    Attack("empty-aud", _claims(aud="")),
    Attack("wrong-iss", _claims(iss="https://evil.example/pool-1")),
    Attack("iss-with-trailing-slash", _claims(iss=lambda idp, _: idp.issuer + "/")),
    Attack("iss-of-another-pool", _claims(iss=lambda idp, _: idp.issuer + "-2")),
    Attack("empty-iss", _claims(iss="")),
    Attack("unknown-kid", _kid("unknown")),
    Attack("empty-kid", _kid("")),
    Attack("missing-kid", _kid(DROP)),
    Attack("numeric-kid", _kid(42)),
    Attack("attacker-rsa-key-under-known-kid", _attacker_key("RS256")),
    Attack("attacker-ec-key-under-known-kid", _attacker_key("ES256")),
    *(
        Attack(f"{header}-header-{'known' if known else 'attacker'}-kid", _self_named_key(header, known))
        for header in ("jku", "x5u", "jwk", "x5c")
        for known in (True, False)
    ),
    *(Attack(f"tampered-{change}", _tampered(change)) for change in ("groups", "username", "exp")),
    *(Attack(f"signature-{cut}", _signature(cut)) for cut in ("empty", "truncated", "one-char-short", "flipped")),
    *(
        Attack(f"alg-{alg}-outside-allow-list", _outside_allow_list(alg))
        for alg in ("RS384", "RS512", "PS256", "ES384")
    ),
    Attack("es256-signed-under-the-rsa-kid", _other_family),
    *(Attack(f"malformed-{i}", _literal(token)) for i, token in enumerate(MALFORMED_TOKENS)),
    Attack("oversize", _oversize),
    Attack("groups-claim-null", _groups(None)),
    Attack("groups-claim-missing", _groups(DROP)),
    *(
        Attack(f"groups-claim-{label}", _groups(value))
        for label, value in (
            ("string", "admins"),
            ("object", {"admins": True}),
            ("number", 7),
            ("nested-list", [["admins"]]),
            ("numbers", [1, 2]),
            ("empty-name", [""]),
            ("long-name", ["x" * 300]),
            ("too-many", ["g"] * 201),
            ("null-member", [None]),
        )
    ),
    Attack("no-username-claim", _no_username),
)

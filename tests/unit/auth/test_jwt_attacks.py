"""Every JWT attack from the security stance is rejected with 401, while a valid control token is accepted.

Each test mints its attack from a valid token's ingredients; the `accepted_control` fixture proves in every test
that the same authenticator accepts an honest token, so a rejection is about the attack and not the setup.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from hosted_mcp.auth import Authenticator
from hosted_mcp.errors import Unauthorized
from hosted_mcp.models.domain import Caller
from tests.support.jwt_attacks import ATTACKS, MALFORMED_AUTHORIZATION, MALFORMED_TOKENS, Attack
from tests.support.tokens import ADMIN_GROUP, DROP, TestIdp, b64url, forge, public_jwk, sign_hs256, sign_raw


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_rejected(authenticator: Authenticator, token: str) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        authenticator.authenticate(bearer(token))
    assert token not in caught.value.message
    return caught.value


@pytest.fixture(autouse=True)
def accepted_control(authenticator: Authenticator, idp: TestIdp) -> Caller:
    caller = authenticator.authenticate(bearer(idp.mint("bob", ["finance"])))
    assert caller == Caller(username="bob", groups=("finance",), isAdmin=False, credentialType="jwt")
    return caller


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", [b"", b"not-a-signature"])
def test_alg_none_in_any_case_is_rejected(
    authenticator: Authenticator, idp: TestIdp, alg: str, signature: bytes
) -> None:
    # Given a token that claims to need no signature, with admin groups
    token = forge({"alg": alg, "typ": "JWT", "kid": idp.rsa_kid}, idp.claims("mallory", ["admins"]), signature)
    # Then it is rejected
    assert_rejected(authenticator, token)


def test_hs256_signed_with_the_rsa_public_key_pem_is_rejected(authenticator: Authenticator, idp: TestIdp) -> None:
    # Given an HMAC token whose secret is the issuer's public key in PEM (the classic key-confusion attack)
    token = sign_hs256({"alg": "HS256", "kid": idp.rsa_kid}, idp.claims("mallory", ["admins"]), idp.rsa_public_pem())
    assert_rejected(authenticator, token)


@pytest.mark.parametrize("form", ["json", "json-sorted", "modulus"])
def test_hs256_signed_with_the_rsa_public_jwk_is_rejected(
    authenticator: Authenticator, idp: TestIdp, form: str
) -> None:
    jwk = public_jwk(idp.rsa_key, idp.rsa_kid, "RS256")
    secret = {
        "json": json.dumps(jwk).encode(),
        "json-sorted": json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode(),
        "modulus": base64.urlsafe_b64decode(jwk["n"] + "=" * (-len(jwk["n"]) % 4)),
    }[form]
    token = sign_hs256({"alg": "HS256", "kid": idp.rsa_kid}, idp.claims("mallory", ["admins"]), secret)
    assert_rejected(authenticator, token)


def test_expired_token_is_rejected(authenticator: Authenticator, idp: TestIdp) -> None:
    now = int(time.time())
    error = assert_rejected(authenticator, idp.mint(iat=now - 7200, nbf=now - 7200, exp=now - 3600))
    assert error.message == "Token expired"


def test_expiry_within_the_clock_skew_is_tolerated(authenticator: Authenticator, idp: TestIdp) -> None:
    now = int(time.time())
    caller = authenticator.authenticate(bearer(idp.mint("bob", [], exp=now - 10)))
    assert caller.username == "bob"


def test_nbf_in_the_future_is_rejected(authenticator: Authenticator, idp: TestIdp) -> None:
    assert_rejected(authenticator, idp.mint(nbf=int(time.time()) + 3600))


def test_iat_in_the_future_is_rejected(authenticator: Authenticator, idp: TestIdp) -> None:
    assert_rejected(authenticator, idp.mint(iat=int(time.time()) + 3600))


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "iat", "nbf"])
def test_missing_required_claim_is_rejected(authenticator: Authenticator, idp: TestIdp, claim: str) -> None:
    assert_rejected(authenticator, idp.mint(**{claim: DROP}))


def test_missing_nbf_is_accepted_when_the_idp_never_sends_it(make_authenticator: Any, idp: TestIdp) -> None:
    cognito_like = make_authenticator(require_nbf=False)
    assert cognito_like.authenticate(bearer(idp.mint("bob", [], nbf=DROP))).username == "bob"
    assert_rejected(cognito_like, idp.mint(exp=DROP, nbf=DROP))


@pytest.mark.parametrize("aud", ["someone-else", ["someone-else", "another"], ""])
def test_wrong_audience_is_rejected(authenticator: Authenticator, idp: TestIdp, aud: Any) -> None:
    assert_rejected(authenticator, idp.mint(aud=aud))


@pytest.mark.parametrize(
    "iss", ["https://evil.example/pool-1", "https://idp.example.test/pool-1/", "https://idp.example.test/pool-2", ""]
)
def test_wrong_issuer_is_rejected(authenticator: Authenticator, idp: TestIdp, iss: str) -> None:
    assert_rejected(authenticator, idp.mint(iss=iss))


@pytest.mark.parametrize("kid", ["unknown", "", DROP, 42])
def test_unknown_or_missing_kid_is_rejected(authenticator: Authenticator, idp: TestIdp, kid: Any) -> None:
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"} | ({} if kid is DROP else {"kid": kid})
    token = sign_raw(header, idp.claims(), idp.rsa_key)
    assert_rejected(authenticator, token)


def test_attacker_key_under_a_known_kid_is_rejected(
    authenticator: Authenticator, idp: TestIdp, attacker: TestIdp
) -> None:
    # Given a token signed by another key pair but naming the issuer's kid
    token = idp.mint("mallory", ["admins"], key=attacker.rsa_key)
    assert_rejected(authenticator, token)
    assert_rejected(authenticator, idp.mint("mallory", ["admins"], alg="ES256", key=attacker.ec_key))


@pytest.mark.parametrize("header", ["jku", "x5u", "jwk", "x5c"])
@pytest.mark.parametrize("kid", ["known", "attacker"])
def test_token_naming_its_own_key_is_rejected(
    authenticator: Authenticator, idp: TestIdp, attacker: TestIdp, header: str, kid: str
) -> None:
    # Given a token signed by the attacker's key, whose header points at that key
    attacker_jwk = public_jwk(attacker.rsa_key, "attacker-1", "RS256")
    value: Any = {
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "jwk": attacker_jwk,
        "x5c": ["MIIBattackerCertificate"],
    }[header]
    headers = {header: value, "kid": idp.rsa_kid if kid == "known" else "attacker-1"}
    token = jwt.encode(idp.claims("mallory", ["admins"]), attacker.rsa_key, "RS256", headers=headers)
    # Then the key in the token is never used
    assert_rejected(authenticator, token)


@pytest.mark.parametrize("change", ["groups", "username", "exp"])
def test_tampered_payload_is_rejected(authenticator: Authenticator, idp: TestIdp, change: str) -> None:
    head, _, signature = idp.mint("bob", ["finance"]).split(".")
    claims = idp.claims("bob", ["finance"])
    claims.update(
        {"groups": {"cognito:groups": ["admins"]}, "username": {"cognito:username": "alice"}, "exp": {"exp": 2**40}}[
            change
        ]
    )
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    assert_rejected(authenticator, f"{head}.{body}.{signature}")


@pytest.mark.parametrize("cut", ["empty", "truncated", "one-char-short", "flipped"])
def test_truncated_or_empty_signature_is_rejected(authenticator: Authenticator, idp: TestIdp, cut: str) -> None:
    token = idp.mint()
    signing_input, signature = token.rsplit(".", 1)
    bad = {
        "empty": "",
        "truncated": signature[: len(signature) // 2],
        "one-char-short": signature[:-1],
        "flipped": ("A" if signature[0] != "A" else "B") + signature[1:],
    }[cut]
    assert_rejected(authenticator, f"{signing_input}.{bad}")


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256", "ES384"])
def test_algorithm_outside_the_allow_list_is_rejected(authenticator: Authenticator, idp: TestIdp, alg: str) -> None:
    # Given a token properly signed by the issuer's own key, with an algorithm the platform does not allow
    key = idp.rsa_key if alg[:2] in ("RS", "PS") else idp.ec_key
    kid = idp.rsa_kid if key is idp.rsa_key else idp.ec_kid
    token = jwt.encode(idp.claims(), key, alg, headers={"kid": kid}) if alg != "ES384" else None
    if token is None:  # ES384 needs a P-384 key: sign with one, publish nothing new
        from cryptography.hazmat.primitives.asymmetric import ec

        token = jwt.encode(idp.claims(), ec.generate_private_key(ec.SECP384R1()), alg, headers={"kid": kid})
    assert_rejected(authenticator, token)


def test_allowed_algorithm_with_a_key_of_the_other_family_is_rejected(
    authenticator: Authenticator, idp: TestIdp
) -> None:
    # ES256 is allowed, but the kid names the RSA key
    token = jwt.encode(idp.claims(), idp.ec_key, "ES256", headers={"kid": idp.rsa_kid})
    assert_rejected(authenticator, token)


def test_narrower_allow_list_rejects_a_valid_es256_token(make_authenticator: Any, idp: TestIdp) -> None:
    rs_only = make_authenticator(algorithms=["RS256"])
    assert rs_only.authenticate(bearer(idp.mint())).username == "bob"
    assert_rejected(rs_only, idp.mint(alg="ES256"))


def test_symmetric_algorithms_cannot_even_be_configured(idp: TestIdp) -> None:
    for alg in ("HS256", "none"):
        with pytest.raises(ValueError, match="algorithms"):
            idp.settings(algorithms=[alg])


@pytest.mark.parametrize("token", MALFORMED_TOKENS)
def test_malformed_token_is_rejected(authenticator: Authenticator, token: str) -> None:
    assert_rejected(authenticator, token)


@pytest.mark.parametrize("value", MALFORMED_AUTHORIZATION)
def test_malformed_authorization_header_is_rejected(authenticator: Authenticator, value: str) -> None:
    with pytest.raises(Unauthorized):
        authenticator.authenticate({"Authorization": value})


def test_oversize_token_is_rejected_before_parsing(authenticator: Authenticator, idp: TestIdp) -> None:
    # Given a token correctly signed by the issuer, but padded past the size limit
    token = idp.mint("bob", ["finance"], padding="x" * 10_000)
    assert len(token) > authenticator.settings.max_token_bytes
    assert_rejected(authenticator, token)


def test_missing_groups_claim_is_rejected(authenticator: Authenticator, idp: TestIdp) -> None:
    token = jwt.encode({**idp.claims(), "cognito:groups": None}, idp.rsa_key, "RS256", headers={"kid": idp.rsa_kid})
    assert_rejected(authenticator, token)
    assert_rejected(authenticator, idp.mint(**{"cognito:groups": DROP}))


@pytest.mark.parametrize(
    "groups", ["admins", {"admins": True}, 7, [["admins"]], [1, 2], [""], ["x" * 300], ["g"] * 201, [None]]
)
def test_malformed_groups_claim_is_rejected(authenticator: Authenticator, idp: TestIdp, groups: Any) -> None:
    assert_rejected(authenticator, idp.mint(**{"cognito:groups": groups}))


def test_groups_claim_path_is_configurable(make_authenticator: Any, idp: TestIdp) -> None:
    nested = make_authenticator(groups_claim="realm_access.roles")
    token = idp.mint("dana", **{"cognito:groups": DROP, "realm_access": {"roles": ["admins", "finance"]}})
    caller = nested.authenticate(bearer(token))
    assert caller.groups == ("admins", "finance")
    assert caller.isAdmin


def test_token_without_any_username_claim_is_rejected(authenticator: Authenticator, idp: TestIdp) -> None:
    assert_rejected(authenticator, idp.mint(sub=DROP, **{"cognito:username": DROP}))


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_every_attack_of_the_shared_catalogue_is_rejected(
    authenticator: Authenticator, idp: TestIdp, attacker: TestIdp, attack: Attack
) -> None:
    # The catalogue the local gateway's end-to-end suite sends over HTTP: the same attacks, rejected here too
    assert_rejected(authenticator, attack.build(idp, attacker, ADMIN_GROUP))


# -- lifetime: capped when verifying, not only when minting -------------------------------------------------------

TEN_YEARS = 10 * 365 * 24 * 3600


def test_a_validly_signed_token_living_ten_years_is_rejected(authenticator: Authenticator, idp: TestIdp) -> None:
    # Given a token signed with the issuer's real key, issued now and valid for ten years
    now = int(time.time())
    token = idp.mint("mallory", ["admins"], iat=now, nbf=now, exp=now + TEN_YEARS)
    # Then it is rejected, and says why
    assert "lifetime" in assert_rejected(authenticator, token).message


def test_a_token_issued_in_the_future_cannot_shorten_its_lifetime(authenticator: Authenticator, idp: TestIdp) -> None:
    # Given a token whose iat is pushed years ahead so exp - iat looks short
    now = int(time.time())
    token = idp.mint("mallory", ["admins"], iat=now + TEN_YEARS - 600, nbf=now, exp=now + TEN_YEARS)
    assert_rejected(authenticator, token)


@pytest.mark.parametrize(("lifetime", "accepted"), [(3600, True), (86400, True), (86400 + 1, False)])
def test_the_lifetime_cap_is_a_setting(make_authenticator: Any, idp: TestIdp, lifetime: int, accepted: bool) -> None:
    # Given a platform that accepts tokens living at most a day (AWS's default, Cognito's own cap)
    authenticator = make_authenticator(max_token_lifetime_seconds=86400)
    now = int(time.time())
    token = idp.mint("bob", ["finance"], iat=now, nbf=now, exp=now + lifetime)
    # Then a token lives up to the cap and not a second more
    if accepted:
        assert authenticator.authenticate(bearer(token)).username == "bob"
    else:
        assert_rejected(authenticator, token)

// The user's credential: a pasted bearer token or API key (one machine), or an IdP sign-in with the
// authorization code flow and PKCE (AWS). Kept in sessionStorage unless the user asks to be remembered.

const STORE_KEY = "hosted-mcp.credential";
const PKCE_KEY = "hosted-mcp.pkce";
export const API_KEY_PREFIX = "hmk_";

let current = null;
let onSignOut = () => {};

export function onSignedOut(callback) {
  onSignOut = callback;
}

function b64urlDecode(segment) {
  const padded = segment.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(segment.length / 4) * 4, "=");
  return decodeURIComponent(
    Array.from(atob(padded), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join(""),
  );
}

function b64urlEncode(bytes) {
  let binary = "";
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The claims of a JWT, unverified: only to greet the user and notice expiry. The API verifies. */
export function jwtClaims(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    return JSON.parse(b64urlDecode(parts[1]));
  } catch {
    return null;
  }
}

function describe(secret, source) {
  const trimmed = secret.trim();
  if (trimmed.startsWith(API_KEY_PREFIX)) {
    return { kind: "apiKey", secret: trimmed, source, label: "API key", expiresAt: null };
  }
  const claims = jwtClaims(trimmed) || {};
  const label = claims["cognito:username"] || claims.username || claims.preferred_username || claims.sub || "token";
  return { kind: "bearer", secret: trimmed, source, label, expiresAt: claims.exp ? claims.exp * 1000 : null };
}

export function credential() {
  if (!current) {
    const raw = sessionStorage.getItem(STORE_KEY) || localStorage.getItem(STORE_KEY);
    if (raw) {
      try {
        current = JSON.parse(raw);
      } catch {
        current = null;
      }
    }
  }
  if (current?.expiresAt && current.expiresAt <= Date.now()) {
    forget();
    return null;
  }
  if (!current) return null;
  const headers =
    current.kind === "apiKey" ? { "X-Api-Key": current.secret } : { Authorization: `Bearer ${current.secret}` };
  return { ...current, headers };
}

export function useSecret(secret, { remember = false, source = "pasted" } = {}) {
  if (!secret || !secret.trim()) throw new Error("Paste a token or an API key first.");
  current = describe(secret, source);
  forget(false);
  (remember ? localStorage : sessionStorage).setItem(STORE_KEY, JSON.stringify(current));
  return current;
}

function forget(clearCurrent = true) {
  sessionStorage.removeItem(STORE_KEY);
  localStorage.removeItem(STORE_KEY);
  if (clearCurrent) current = null;
}

export function signOut(reason) {
  forget();
  onSignOut(reason || "");
}

// -- IdP sign-in: authorization code + PKCE ------------------------------------------------------------

async function discovery(oidc) {
  const authority = oidc.authority.replace(/\/+$/, "");
  const response = await fetch(`${authority}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`The identity provider's configuration could not be read (HTTP ${response.status})`);
  return response.json();
}

function redirectUri(oidc) {
  return oidc.redirectUri || `${location.origin}${location.pathname}`;
}

export async function beginSignIn(oidc) {
  const meta = await discovery(oidc);
  const verifier = b64urlEncode(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64urlEncode(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = b64urlEncode(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, returnTo: location.hash }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: oidc.clientId,
    redirect_uri: redirectUri(oidc),
    scope: oidc.scope || "openid profile email",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(`${meta.authorization_endpoint}?${query}`);
}

/** Finish a sign-in when the IdP sent the browser back with ?code=...&state=...; true when it did. */
export async function completeSignIn(oidc) {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return false;
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  sessionStorage.removeItem(PKCE_KEY);
  history.replaceState(null, "", `${location.pathname}${saved?.returnTo || ""}`);
  if (params.has("error")) throw new Error(params.get("error_description") || params.get("error"));
  if (!saved || saved.state !== params.get("state")) throw new Error("The sign-in answer did not match this browser's request.");
  const meta = await discovery(oidc);
  const response = await fetch(meta.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: redirectUri(oidc),
      client_id: oidc.clientId,
      code_verifier: saved.verifier,
    }),
  });
  const tokens = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(tokens.error_description || tokens.error || `Token exchange failed (HTTP ${response.status})`);
  const token = tokens[oidc.tokenType || "id_token"] || tokens.id_token || tokens.access_token;
  useSecret(token, { source: "idp" });
  return true;
}

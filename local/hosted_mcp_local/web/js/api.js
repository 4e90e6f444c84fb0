// The REST API, with the user's credential. Every error becomes an ApiError carrying the API's own body.

import { credential, signOut } from "./auth.js";

let apiBase = "";

export function setApiBase(base) {
  apiBase = (base || "").replace(/\/+$/, "");
}

export function apiUrl(path) {
  return `${apiBase}${path}`;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `Request failed with HTTP ${status}`);
    this.status = status;
    this.code = body?.code || "";
    this.field = body?.field || null;
    // [{field, message}]: one per invalid field, as the API reports them.
    this.errors = body?.errors || (body?.field ? [{ field: body.field, message: body.message }] : []);
  }
}

/** A plain-text answer (the one-machine platform's server logs); null when this deployment has no such route. */
export async function requestText(path) {
  const cred = credential();
  const response = await fetch(apiUrl(path), { headers: { ...(cred?.headers || {}) }, cache: "no-store" });
  if (response.status === 404 || response.status === 403) return null;
  if (!response.ok) throw new ApiError(response.status, { message: (await response.text()).slice(0, 500) });
  return response.text();
}

export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const cred = credential();
  if (cred) Object.assign(headers, cred.headers);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(apiUrl(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, { code: "NetworkError", message: `The API could not be reached (${error.message})` });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text.slice(0, 500) };
    }
  }
  if (!response.ok) {
    if (response.status === 401) signOut("Your credential was refused or has expired. Sign in again.");
    throw new ApiError(response.status, data);
  }
  return data;
}

export async function listServers() {
  const items = [];
  let token = null;
  for (let page = 0; page < 100; page += 1) {
    const query = new URLSearchParams({ limit: "100" });
    if (token) query.set("nextToken", token);
    const data = await request("GET", `/mcp?${query}`);
    items.push(...(data.Items || []));
    token = data.nextToken;
    if (!token) break;
  }
  return items;
}

export const getServer = (id) => request("GET", `/mcp/${encodeURIComponent(id)}`);
export const getAudit = (id) => request("GET", `/mcp/${encodeURIComponent(id)}/audit`);
export const getCalls = (id, limit = 50) => request("GET", `/mcp/${encodeURIComponent(id)}/audit?kind=call&limit=${limit}`);
export const createServer = (body) => request("POST", "/mcp", body);
export const updateServer = (id, body) => request("PUT", `/mcp/${encodeURIComponent(id)}`, body);
export const deleteServer = (id) => request("DELETE", `/mcp/${encodeURIComponent(id)}`);
export const getLogs = (id) => requestText(`/mcp/${encodeURIComponent(id)}/logs?tail=200`);
export const listConnections = () => request("GET", "/connections?placeholder=true");

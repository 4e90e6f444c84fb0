// What the page knows: the lifecycle rules, the servers (refreshed by polling), and the actions it follows.

import { apiUrl, listServers } from "./api.js";
import { credential } from "./auth.js";

export const rules = { statuses: [], transitional: [], operations: {}, memoryByCpu: {} };

export async function loadRules() {
  const response = await fetch("rules.json", { cache: "no-cache" });
  Object.assign(rules, await response.json());
}

export const isTransitional = (status) => rules.transitional.includes(status);

// A Failed server is fixed with the same calls: an edit or a start (PUT /mcp/{id}) redeploys it.
const THROUGH_REDEPLOY = ["update", "start"];

const statusesFor = (operation) => [
  ...(rules.operations[operation] || []),
  ...(THROUGH_REDEPLOY.includes(operation) ? rules.operations.redeploy || [] : []),
];

/** Whether `operation` (update, stop, start, delete) is allowed for a server in `status`. */
export const allows = (operation, status) => statusesFor(operation).includes(status);

export const allowedFrom = (operation) => statusesFor(operation).join(", ");

export const cpuChoices = () => Object.keys(rules.memoryByCpu).map(Number);

export const memoryChoices = (cpu) => rules.memoryByCpu[String(cpu)] || [];

// -- servers and live refresh ------------------------------------------------------------------------------

const FAST_MS = 2000; // while something is in progress
const SLOW_MS = 15000; // otherwise
const STREAM_MS = 30000; // when the platform pushes status events, polling is only a safety net
const RETRY_STREAM_MS = 5000;

export const servers = {
  items: [],
  loaded: false,
  error: null,
  listeners: new Set(),
  timer: null,
  watchers: 0,
};

export function subscribe(listener) {
  servers.listeners.add(listener);
  return () => servers.listeners.delete(listener);
}

function notify() {
  for (const listener of servers.listeners) listener(servers);
}

export async function refresh() {
  try {
    servers.items = await listServers();
    servers.error = null;
  } catch (error) {
    servers.error = error;
  }
  servers.loaded = true;
  notify();
  schedule();
}

export function hasWork() {
  return servers.items.some((s) => isTransitional(s.status)) || servers.watchers > 0;
}

function schedule() {
  clearTimeout(servers.timer);
  if (!servers.polling) return;
  let delay = hasWork() ? FAST_MS : SLOW_MS;
  if (servers.streaming) delay = hasWork() ? STREAM_MS / 3 : STREAM_MS;
  else if (document.hidden) delay = SLOW_MS * 2;
  servers.timer = setTimeout(refresh, delay);
}

export function startPolling() {
  servers.polling = true;
  refresh();
  followStatusEvents();
}

export function stopPolling() {
  servers.polling = false;
  clearTimeout(servers.timer);
  servers.stream?.abort();
}

/** Signing out: nothing of the previous user's view survives into the next one. */
export function forgetServers() {
  servers.items = [];
  servers.loaded = false;
  servers.error = null;
  servers.watchers = 0;
  servers.listeners.clear();
}

/**
 * The one-machine platform streams status events (`GET /events`, server-sent events). Each event triggers a
 * read of the list, so the table changes as soon as a status does. Where there is no stream (AWS: the events
 * go to EventBridge), polling alone keeps the table current.
 */
async function followStatusEvents() {
  const cred = credential();
  if (!cred || servers.stream) return;
  const controller = new AbortController();
  servers.stream = controller;
  let pending = null;
  try {
    const response = await fetch(apiUrl("/events"), {
      headers: { ...cred.headers, Accept: "text/event-stream" },
      signal: controller.signal,
      cache: "no-store",
    });
    if (!response.ok || !response.body) return; // no stream here: polling it is
    servers.streaming = true;
    schedule();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (value.includes("event: status")) {
        clearTimeout(pending);
        pending = setTimeout(refresh, 150);
      }
    }
  } catch {
    // The stream ended (platform restarted, network): fall back to polling, then try again.
  } finally {
    const wasStreaming = servers.streaming;
    servers.streaming = false;
    servers.stream = null;
    if (servers.polling && wasStreaming && !controller.signal.aborted) {
      schedule();
      setTimeout(followStatusEvents, RETRY_STREAM_MS);
    }
  }
}

document.addEventListener("visibilitychange", () => {
  if (servers.polling && !document.hidden) refresh();
});

/** Follow something until it is done: refresh faster meanwhile. Returns a function to call when done. */
export function watch() {
  servers.watchers += 1;
  schedule();
  let done = false;
  return () => {
    if (!done) servers.watchers = Math.max(0, servers.watchers - 1);
    done = true;
  };
}

// What the page knows: the lifecycle rules, the servers (refreshed by polling), and the actions it follows.

import { listServers } from "./api.js";

export const rules = { transitional: [], operations: {}, memoryByCpu: {} };

export async function loadRules() {
  const response = await fetch("rules.json", { cache: "no-cache" });
  Object.assign(rules, await response.json());
}

export const isTransitional = (status) => rules.transitional.includes(status);

/** Whether `operation` (update, stop, start, delete) is allowed for a server in `status`. */
export const allows = (operation, status) => (rules.operations[operation] || []).includes(status);

export const allowedFrom = (operation) => (rules.operations[operation] || []).join(", ");

export const cpuChoices = () => Object.keys(rules.memoryByCpu).map(Number);

export const memoryChoices = (cpu) => rules.memoryByCpu[String(cpu)] || [];

// -- servers and live refresh ------------------------------------------------------------------------------

const FAST_MS = 2000; // while something is in progress
const SLOW_MS = 15000; // otherwise

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
  servers.timer = setTimeout(refresh, document.hidden ? SLOW_MS * 2 : hasWork() ? FAST_MS : SLOW_MS);
}

export function startPolling() {
  servers.polling = true;
  refresh();
}

export function stopPolling() {
  servers.polling = false;
  clearTimeout(servers.timer);
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
    if (!done) servers.watchers -= 1;
    done = true;
  };
}

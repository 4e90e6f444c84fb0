// Actions on one or many servers, each followed by a banner until every server it touched has settled.

import { createServer, deleteServer, updateServer } from "./api.js";
import { announce, h } from "./dom.js";
import { isTransitional, refresh, servers, subscribe, watch } from "./state.js";

const VERBS = {
  create: ["Creating", "created", "InService"],
  update: ["Updating", "updated", null],
  start: ["Starting", "started", "InService"],
  stop: ["Stopping", "stopped", "Stopped"],
  delete: ["Deleting", "deleted", null],
};

let bannerCount = 0;

class Banner {
  constructor(operation, targets) {
    bannerCount += 1;
    this.operation = operation;
    this.items = targets.map((t) => ({ ...t, state: "pending", message: "sending request…" }));
    this.list = h("ul.banner-items");
    this.title = h("strong");
    this.el = h(
      "section.banner.info",
      { "aria-label": `Action ${bannerCount}`, dataset: { operation } },
      h("span.spinner", { "aria-hidden": "true" }),
      h("div.banner-text", this.title, this.list),
      h("button.link.dismiss", { type: "button", "aria-label": "Dismiss", onclick: () => this.dismiss() }, "×"),
    );
    document.getElementById("banners").prepend(this.el);
    this.render();
  }

  render() {
    const [progressive, past] = VERBS[this.operation];
    const names = this.items.length === 1 ? `“${this.items[0].name}”` : `${this.items.length} servers`;
    const failed = this.items.filter((i) => i.state === "failed").length;
    const pending = this.items.filter((i) => i.state === "pending").length;
    let kind = "info";
    if (pending) this.title.textContent = `${progressive} ${names}…`;
    else if (failed) {
      kind = "error";
      this.title.textContent = failed === this.items.length ? `${progressive} ${names} failed` : `${failed} of ${this.items.length} failed`;
    } else {
      kind = "success";
      this.title.textContent = `${names[0].toUpperCase()}${names.slice(1)} ${past}.`;
    }
    this.el.className = `banner ${kind}`;
    this.el.setAttribute("role", kind === "error" ? "alert" : "status");
    this.el.querySelector(".spinner").hidden = !pending;
    this.list.replaceChildren(
      ...this.items.map((i) =>
        h(`li.${i.state}`, { dataset: { serverId: i.id || "" } }, h("span.item-name", i.name), ": ", h("span.item-message", i.message)),
      ),
    );
    if (!pending && !this.announced) {
      this.announced = true;
      announce(this.title.textContent);
    }
  }

  dismiss() {
    this.stop?.();
    this.el.remove();
  }
}

/** The outcome of following `item` given the server's current record (or undefined once it is gone). */
export function judge(item, server) {
  // A list read before the API accepted the action says nothing about its outcome.
  if (server && item.acceptedVersion && server.version < item.acceptedVersion) return { state: "pending", message: `${server.status}…` };
  if (item.operation === "delete") {
    if (!server) return { state: "done", message: "deleted" };
    if (server.status === "Failed") return { state: "failed", message: server.lastError || "deletion failed" };
    return { state: "pending", message: `${server.status}…` };
  }
  if (!server) {
    return item.seen ? { state: "failed", message: "the server no longer exists" } : { state: "pending", message: "accepted…" };
  }
  item.seen = true;
  if (isTransitional(server.status)) return { state: "pending", message: `${server.status}…` };
  if (server.status === "Failed") return { state: "failed", message: server.lastError || "failed without a reason" };
  const expected = item.expected || item.before?.status;
  if (expected && server.status !== expected) {
    return { state: "failed", message: `ended ${server.status}: ${server.lastError || "the change was rolled back"}` };
  }
  if (server.lastError && server.lastError !== item.before?.lastError && server.version > (item.acceptedVersion || 0)) {
    return { state: "failed", message: `not applied, ${server.status} with the previous configuration: ${server.lastError}` };
  }
  return { state: "done", message: server.status };
}

function follow(banner) {
  const stopWatching = watch();
  const check = () => {
    for (const item of banner.items) {
      if (item.state !== "pending" || !item.accepted) continue;
      const outcome = judge(item, servers.items.find((s) => s.id === item.id));
      item.state = outcome.state;
      item.message = outcome.message;
    }
    banner.render();
    if (!banner.items.some((i) => i.state === "pending")) banner.stop();
  };
  const unsubscribe = subscribe(check);
  banner.stop = () => {
    unsubscribe();
    stopWatching();
  };
  check();
}

async function send(operation, server, body) {
  if (operation === "delete") return deleteServer(server.id);
  if (operation === "start") return updateServer(server.id, { enabled: true });
  if (operation === "stop") return updateServer(server.id, { enabled: false });
  return updateServer(server.id, body);
}

/** Run `operation` on every server in `targets` (ServerViews); the banner follows each to its end. */
export async function runOnServers(operation, targets, body) {
  const banner = new Banner(
    operation,
    targets.map((s) => ({ id: s.id, name: s.name, before: s, operation, expected: VERBS[operation][2] })),
  );
  await Promise.all(
    banner.items.map(async (item) => {
      try {
        const accepted = await send(operation, item.before, body);
        item.accepted = true;
        item.acceptedVersion = accepted?.version;
        item.message = `${accepted?.status || "accepted"}…`;
      } catch (error) {
        item.state = "failed";
        item.message = error.message;
      }
    }),
  );
  banner.render();
  follow(banner);
  await refresh();
  return banner;
}

/** Create a server; throws the ApiError (for the wizard to place next to its fields) when the API refuses. */
export async function create(body) {
  const accepted = await createServer(body);
  const banner = new Banner("create", [{ id: accepted.id, name: accepted.name, operation: "create", expected: "InService" }]);
  Object.assign(banner.items[0], { accepted: true, acceptedVersion: accepted.version, message: `${accepted.status}…` });
  banner.render();
  follow(banner);
  refresh();
  return accepted;
}

/** Update a server's configuration; throws the ApiError when refused, otherwise follows it with a banner. */
export async function update(server, body) {
  const accepted = await updateServer(server.id, body);
  const banner = new Banner("update", [{ id: server.id, name: server.name, before: server, operation: "update" }]);
  Object.assign(banner.items[0], { accepted: true, acceptedVersion: accepted.version, message: `${accepted.status}…` });
  banner.render();
  follow(banner);
  refresh();
  return accepted;
}

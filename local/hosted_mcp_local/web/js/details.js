// Server details (configuration, audit history, MCP URL, client snippet) and the non-admin "my servers" view.

import { runOnServers } from "./actions.js";
import { ApiError, apiUrl, getAudit, getCalls, getLogs, getServer, listConnections } from "./api.js";
import { confirmDialog, copyText, displayGroups, formatTime, h, setChildren } from "./dom.js";
import { callsTable, describeLimits, describePolicy } from "./policy.js";
import { allowedFrom, allows, isTransitional, servers, subscribe } from "./state.js";
import { statusBadge } from "./table.js";

export function mcpUrl(server) {
  if (server.url) return server.url;
  return new URL(apiUrl(`/mcp/${server.normalizedName}/mcp`), location.href).href;
}

/** A client configuration for MCP clients that read an `mcpServers` map (streamable HTTP, bearer token). */
export function clientSnippet(key, url) {
  return JSON.stringify(
    { mcpServers: { [key]: { type: "http", url, headers: { Authorization: "Bearer ${HOSTED_MCP_TOKEN}" } } } },
    null,
    2,
  );
}

function copyBlock(label, text, id) {
  const button = h("button", { type: "button", "aria-label": `Copy ${label}` }, "Copy");
  button.addEventListener("click", () => copyText(text, button));
  return h("div.copy-block", {}, h("pre.code", { id, tabindex: "0", "aria-label": label }, text), button);
}

function connectionSection(name, key, url, sseUrl) {
  return h(
    "section.card",
    { "aria-labelledby": `conn-${key}` },
    h("h2", { id: `conn-${key}` }, "Connect"),
    h("p", "MCP URL (streamable HTTP): ", h("code.mcp-url", url)),
    sseUrl ? h("p", "SSE URL: ", h("code", sseUrl)) : null,
    h("p.hint", "Client configuration: set HOSTED_MCP_TOKEN to your own token or API key; the platform checks your groups."),
    copyBlock(`client configuration for ${name}`, clientSnippet(key, url), `snippet-${key}`),
  );
}

function configList(server) {
  const scaling = server.autoScalingConfig || {};
  const lb = server.loadBalancerConfig?.healthCheckConfig || {};
  const ct = server.containerHealthCheckConfig || {};
  const rows = [
    ["Description", server.description || "—"],
    ["Type", server.serverType],
    ["Start command", server.startCommand],
    ["Artifact path", server.s3Path || "—"],
    ["Image", server.image || "—"],
    ["Port", server.port],
    ["CPU / memory", `${server.cpu} / ${server.memoryLimitMiB} MiB`],
    ["Tasks", `${scaling.minCapacity} to ${scaling.maxCapacity}${scaling.metricName ? `, ${scaling.metricName} target ${scaling.targetValue}` : ""}`],
    ["Load balancer health check", `${lb.path} every ${lb.interval}s, timeout ${lb.timeout}s, healthy ${lb.healthyThresholdCount}, unhealthy ${lb.unhealthyThresholdCount}`],
    ["Container health check", `${ct.command ? JSON.stringify(ct.command) : "MCP call (default)"} every ${ct.interval}s, start period ${ct.startPeriod}s, timeout ${ct.timeout}s, retries ${ct.retries}`],
    ["Environment", Object.keys(server.environment || {}).join(", ") || "—"],
    ["Groups", displayGroups(server.groups)],
    ["Tool policy", describePolicy(server.toolPolicy)],
    ["Call limits", describeLimits(server.callLimits)],
    ["Call audit", server.auditCalls === false ? "off" : "every call recorded"],
    ["Owner", server.owner],
    ["Stack name", server.stack_name || "—"],
    ["Created", formatTime(server.createdAt)],
    ["Updated", formatTime(server.updatedAt)],
    ["Restarts", server.restarts],
    ["Last error", server.lastError || "—"],
  ];
  if (server.pendingChanges) rows.push(["Being applied", JSON.stringify(server.pendingChanges)]);
  return h("dl.config", {}, rows.map(([k, v]) => [h("dt", k), h("dd", { dataset: { key: k } }, v)]));
}

function auditTable(entries) {
  return h(
    "table.audit",
    {},
    h("caption.visually-hidden", "Audit history"),
    h("thead", {}, h("tr", {}, ["Version", "When", "Who", "From", "To", "Why"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      entries.map((e) =>
        h(
          "tr",
          {},
          h("td", e.version),
          h("td", formatTime(e.at)),
          h("td", e.actor),
          h("td", e.fromStatus || "—"),
          h("td", e.toStatus || "(removed)"),
          h("td", e.reason),
        ),
      ),
    ),
  );
}

export function renderDetails(main, serverId, { navigate }) {
  let server = servers.items.find((s) => s.id === serverId) || null;
  let audit = [];
  let lastAuditVersion = -1;
  let gone = false;

  const actionButtons = () => {
    if (!server) return null;
    const op = (operation, label, cls = "") =>
      h(`button${cls}`, {
        type: "button",
        disabled: !allows(operation, server.status),
        title: `${label} is possible in ${allowedFrom(operation)}`,
        onclick: () => act(operation, label),
      }, label);
    return h(
      "div.toolbar",
      { role: "toolbar", "aria-label": "Server actions" },
      h("button", { type: "button", disabled: !allows("update", server.status), title: `Edit is possible in ${allowedFrom("update")}`, onclick: () => navigate(`#/servers/${server.id}/edit`) }, "Edit"),
      op("start", "Start"),
      op("stop", "Stop"),
      op("delete", "Delete", ".danger"),
    );
  };

  async function act(operation, label) {
    if (operation === "delete" || operation === "stop") {
      const ok = await confirmDialog({
        title: `${label} ${server.name}?`,
        body: h("p", operation === "delete" ? "Deleting removes the deployment and the record. It cannot be undone." : "Clients lose access until it is started again."),
        confirmLabel: label,
      });
      if (!ok) return;
    }
    await runOnServers(operation, [server]);
    if (operation === "delete") navigate("#/");
  }

  async function load() {
    try {
      server = await getServer(serverId);
      if (server.version !== lastAuditVersion) {
        audit = (await getAudit(serverId)).Items || [];
        lastAuditVersion = server.version;
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) gone = true;
      else throw error;
    }
    draw();
  }

  function draw() {
    if (gone) {
      setChildren(main, h("div.page-head", {}, h("h1", "Server not found"), h("p", "It may have been deleted. ", h("a", { href: "#/" }, "Back to all servers"))));
      return;
    }
    if (!server) {
      setChildren(main, h("p.loading", "Loading…"));
      return;
    }
    const focusedLabel = main.contains(document.activeElement) ? document.activeElement.textContent : null;
    setChildren(main,
      h("nav.crumbs", { "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "All servers"), " / ", server.name),
      h("div.page-head", {}, h("h1", server.name), h("p", "Status: ", statusBadge(server.status), isTransitional(server.status) ? h("span.muted", " (updating live)") : null)),
      actionButtons(),
      connectionSection(server.name, server.normalizedName, mcpUrl(server), server.sseUrl),
      h("section.card", { "aria-labelledby": "config-title" }, h("h2#config-title", "Configuration"), configList(server)),
      h("section.card", { "aria-labelledby": "audit-title" }, h("h2#audit-title", "Audit history"), h("div.table-wrap", { tabindex: "0", role: "region", "aria-label": "Audit history table" }, auditTable(audit))),
      callsSection,
      logsSection,
    );
    if (focusedLabel) [...main.querySelectorAll("button, a")].find((b) => b.textContent === focusedLabel)?.focus();
  }

  const callsWrap = h("div.table-wrap", { tabindex: "0", role: "region", "aria-label": "Recent calls table" }, h("p.loading", "Loading…"));
  const callsSection = h(
    "section.card.calls-card",
    { "aria-labelledby": "calls-title" },
    h("h2#calls-title", "Recent calls"),
    h("p.hint", "Every tool call, prompt and resource read through the gateway, newest first: who, how it ended, how long it took. Never arguments or results."),
    h("button", { type: "button", onclick: () => showCalls() }, "Refresh calls"),
    callsWrap,
  );

  async function showCalls() {
    try {
      callsWrap.replaceChildren(callsTable((await getCalls(serverId)).Items || []));
    } catch (error) {
      callsWrap.replaceChildren(h("p.error-text", `Could not read the calls: ${error.message}`));
    }
  }

  const logsText = h("pre.code.logs", { tabindex: "0", "aria-label": "Server logs" }, "");
  const logsSection = h(
    "details.card.logs-card",
    { ontoggle: (e) => e.target.open && showLogs() },
    h("summary", "Recent logs"),
    h("button", { type: "button", onclick: () => showLogs() }, "Refresh logs"),
    logsText,
  );

  async function showLogs() {
    logsText.textContent = "Loading…";
    try {
      const text = await getLogs(serverId);
      logsText.textContent =
        text === null
          ? "This deployment has no log endpoint: on AWS, the server's logs are in the CloudWatch log group of its stack."
          : text || "(no output yet)";
    } catch (error) {
      logsText.textContent = `Could not read the logs: ${error.message}`;
    }
  }

  draw();
  load();
  showCalls();
  // The list poll tells when this server changed; then the details and audit are read again.
  return subscribe(() => {
    const listed = servers.items.find((s) => s.id === serverId);
    if (!listed || !server || listed.version !== server.version) load();
  });
}

// -- non-admin view ----------------------------------------------------------------------------------------

function connectionItems(data) {
  const items = Array.isArray(data) ? data : data?.Items || data?.connections || data?.items || [];
  return items.map((c) => ({
    name: c.name,
    key: c.normalizedName || c.serverId || c.id || c.name,
    description: c.description || "",
    url: c.url,
    groups: c.groups || [],
    status: c.status || "active",
  }));
}

export async function renderMyServers(main, { username }) {
  setChildren(main, h("div.page-head", {}, h("h1", "My MCP servers"), h("p.muted", "Servers you may use with your credential.")), h("p.loading", "Loading…"));
  let items;
  try {
    items = connectionItems(await listConnections());
  } catch (error) {
    setChildren(main, h("div.page-head", {}, h("h1", "My MCP servers")), h("p.error-box", { role: "alert" }, `Could not load your servers: ${error.message}`));
    return;
  }
  const list = items.length
    ? h(
        "ul.cards",
        { "aria-label": "Servers you may use" },
        items.map((c) =>
          h(
            "li.card.connection",
            { dataset: { name: c.name } },
            h("h2", c.name, " ", h(`span.status.status-${c.status === "active" ? "inservice" : "stopped"}`, c.status)),
            c.description ? h("p", c.description) : null,
            h("p.muted", `Groups: ${displayGroups(c.groups)}`),
            connectionSection(c.name, c.key, c.url, null),
          ),
        ),
      )
    : h("p.empty", `No server is available to ${username} yet. Ask an admin to add one of your groups to a server.`);
  setChildren(main, h("div.page-head", {}, h("h1", "My MCP servers"), h("p.muted", "Servers you may use with your credential.")), list);
}

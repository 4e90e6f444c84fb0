// The servers table: sorting, filtering, column preferences that persist, export, selection and bulk actions.

import { runOnServers } from "./actions.js";
import { confirmDialog, displayGroups, download, formatTime, h, setChildren, toCsv } from "./dom.js";
import { allowedFrom, allows, isTransitional, refresh, rules, servers, subscribe } from "./state.js";

const PREFS_KEY = "hosted-mcp.table-prefs";

export const COLUMNS = [
  { key: "name", label: "Name", value: (s) => s.name, always: true },
  { key: "status", label: "Status", value: (s) => s.status },
  { key: "serverType", label: "Type", value: (s) => s.serverType },
  { key: "stack_name", label: "Stack name", value: (s) => s.stack_name || "" },
  { key: "owner", label: "Owner", value: (s) => s.owner },
  { key: "groups", label: "Groups", value: (s) => displayGroups(s.groups) },
  { key: "createdAt", label: "Created", value: (s) => s.createdAt, format: formatTime },
  { key: "updatedAt", label: "Updated", value: (s) => s.updatedAt, format: formatTime },
  { key: "lastError", label: "Last error", value: (s) => s.lastError || "" },
];

function loadPrefs() {
  const defaults = { hidden: [], sortKey: "name", sortDir: "asc" };
  try {
    return { ...defaults, ...JSON.parse(localStorage.getItem(PREFS_KEY) || "{}") };
  } catch {
    return defaults;
  }
}

function savePrefs(prefs) {
  localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
}

export function statusBadge(status) {
  const busy = isTransitional(status);
  return h(
    `span.status.status-${status.toLowerCase()}`,
    { dataset: { status }, title: busy ? `${status}: in progress` : status },
    busy ? h("span.spinner.small", { "aria-hidden": "true" }) : null,
    status,
    busy ? h("span.visually-hidden", " (in progress)") : null,
  );
}

export function renderServersView(main, { navigate }) {
  const prefs = loadPrefs();
  const state = { filter: "", statusFilter: "", selected: new Set() };

  const visibleColumns = () => COLUMNS.filter((c) => c.always || !prefs.hidden.includes(c.key));

  const filterInput = h("input#filter", {
    type: "search",
    placeholder: "Filter by any column",
    "aria-controls": "servers-table",
    oninput: (e) => {
      state.filter = e.target.value.trim().toLowerCase();
      draw();
    },
  });
  const statusSelect = h(
    "select#status-filter",
    {
      onchange: (e) => {
        state.statusFilter = e.target.value;
        draw();
      },
    },
    h("option", { value: "" }, "Any status"),
    rules.statuses.map((s) => h("option", { value: s }, s)),
  );

  const buttons = {
    create: h("button.primary", { type: "button", onclick: () => navigate("#/create") }, "Create hosted MCP server"),
    edit: h("button", { type: "button", onclick: () => onEdit() }, "Edit"),
    start: h("button", { type: "button", onclick: () => onBulk("start") }, "Start"),
    stop: h("button", { type: "button", onclick: () => onBulk("stop") }, "Stop"),
    delete: h("button.danger", { type: "button", onclick: () => onBulk("delete") }, "Delete"),
  };
  const selectionInfo = h("span#selection-info.muted", { "aria-live": "polite" });

  const prefsPanel = h(
    "details.prefs",
    {},
    h("summary", "Preferences"),
    h(
      "fieldset",
      {},
      h("legend", "Visible columns"),
      COLUMNS.filter((c) => !c.always).map((c) =>
        h(
          "label.check",
          {},
          h("input", {
            type: "checkbox",
            name: "column",
            value: c.key,
            checked: !prefs.hidden.includes(c.key),
            onchange: (e) => {
              prefs.hidden = e.target.checked ? prefs.hidden.filter((k) => k !== c.key) : [...prefs.hidden, c.key];
              savePrefs(prefs);
              draw();
            },
          }),
          c.label,
        ),
      ),
    ),
    h(
      "div.export",
      { role: "group", "aria-label": "Export" },
      h("button", { type: "button", onclick: () => exportRows("csv") }, "Export CSV"),
      h("button", { type: "button", onclick: () => exportRows("json") }, "Export JSON"),
    ),
  );

  const table = h("table#servers-table", { "aria-describedby": "servers-caption" });
  const empty = h("p.empty", { hidden: true });
  const errorBox = h("p.error-box", { role: "alert", hidden: true });

  setChildren(main,
    h(
      "div.page-head",
      {},
      h("h1", "MCP Management"),
      h("p#servers-caption.muted", "Hosted MCP servers on this platform. Statuses update live."),
    ),
    h(
      "div.toolbar",
      { role: "toolbar", "aria-label": "Server actions" },
      buttons.create,
      buttons.edit,
      buttons.start,
      buttons.stop,
      buttons.delete,
      selectionInfo,
    ),
    h(
      "div.filters",
      {},
      h("label", { for: "filter" }, "Filter"),
      filterInput,
      h("label", { for: "status-filter" }, "Status"),
      statusSelect,
      prefsPanel,
    ),
    errorBox,
    h("div.table-wrap", { tabindex: "0", role: "region", "aria-label": "Servers table" }, table),
    empty,
  );

  function rows() {
    const column = COLUMNS.find((c) => c.key === prefs.sortKey) || COLUMNS[0];
    const dir = prefs.sortDir === "desc" ? -1 : 1;
    return servers.items
      .filter((s) => !state.statusFilter || s.status === state.statusFilter)
      .filter(
        (s) =>
          !state.filter ||
          COLUMNS.some((c) => String(c.format ? c.format(c.value(s)) : c.value(s)).toLowerCase().includes(state.filter)),
      )
      .sort((a, b) => dir * String(column.value(a)).localeCompare(String(column.value(b)), undefined, { numeric: true }));
  }

  function selectedServers() {
    return servers.items.filter((s) => state.selected.has(s.id));
  }

  function exportRows(format) {
    const data = rows();
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    if (format === "json") {
      download(`hosted-mcp-servers-${stamp}.json`, "application/json", JSON.stringify(data, null, 2));
    } else {
      const cols = visibleColumns();
      download(
        `hosted-mcp-servers-${stamp}.csv`,
        "text/csv",
        toCsv([["id", ...cols.map((c) => c.label)], ...data.map((s) => [s.id, ...cols.map((c) => c.value(s))])]),
      );
    }
  }

  function sortButton(column) {
    const active = prefs.sortKey === column.key;
    return h(
      "button.sort",
      {
        type: "button",
        onclick: () => {
          prefs.sortDir = active && prefs.sortDir === "asc" ? "desc" : "asc";
          prefs.sortKey = column.key;
          savePrefs(prefs);
          draw();
        },
      },
      column.label,
      h("span.sort-mark", { "aria-hidden": "true" }, active ? (prefs.sortDir === "asc" ? " ▲" : " ▼") : ""),
    );
  }

  /** A redraw (every refresh) must not take the keyboard focus away: find the same control again. */
  function focusKey() {
    const el = document.activeElement;
    if (!table.contains(el)) return null;
    return el.getAttribute("aria-label") || el.closest("th")?.dataset.key || null;
  }

  function restoreFocus(key) {
    if (!key) return;
    const target =
      [...table.querySelectorAll("[aria-label]")].find((el) => el.getAttribute("aria-label") === key) ||
      table.querySelector(`th[data-key="${CSS.escape(key)}"] button`);
    target?.focus();
  }

  function draw() {
    const focused = focusKey();
    const list = rows();
    const cols = visibleColumns();
    for (const id of [...state.selected]) if (!servers.items.some((s) => s.id === id)) state.selected.delete(id);
    const allSelected = list.length > 0 && list.every((s) => state.selected.has(s.id));
    const head = h(
      "thead",
      {},
      h(
        "tr",
        {},
        h(
          "th.select",
          { scope: "col" },
          h("input", {
            type: "checkbox",
            "aria-label": "Select all servers shown",
            checked: allSelected,
            onchange: (e) => {
              for (const s of list) e.target.checked ? state.selected.add(s.id) : state.selected.delete(s.id);
              draw();
            },
          }),
        ),
        cols.map((c) =>
          h(
            "th",
            {
              scope: "col",
              dataset: { key: c.key },
              "aria-sort": prefs.sortKey === c.key ? (prefs.sortDir === "asc" ? "ascending" : "descending") : "none",
            },
            sortButton(c),
          ),
        ),
      ),
    );
    const body = h(
      "tbody",
      {},
      list.map((s) =>
        h(
          "tr",
          { dataset: { serverId: s.id, status: s.status }, class: state.selected.has(s.id) ? "selected" : "" },
          h(
            "td.select",
            {},
            h("input", {
              type: "checkbox",
              "aria-label": `Select ${s.name}`,
              checked: state.selected.has(s.id),
              onchange: (e) => {
                e.target.checked ? state.selected.add(s.id) : state.selected.delete(s.id);
                draw();
              },
            }),
          ),
          cols.map((c) => {
            if (c.key === "name") return h("th", { scope: "row", dataset: { col: c.key } }, h("a", { href: `#/servers/${s.id}` }, s.name));
            if (c.key === "status") return h("td", { dataset: { col: c.key } }, statusBadge(s.status));
            const value = c.value(s);
            return h(`td${c.key === "lastError" && value ? ".error-text" : ""}`, { dataset: { col: c.key } }, c.format ? c.format(value) : value);
          }),
        ),
      ),
    );
    table.replaceChildren(h("caption.visually-hidden", "Hosted MCP servers"), head, body);
    restoreFocus(focused);

    errorBox.hidden = !servers.error;
    errorBox.textContent = servers.error ? `Could not load servers: ${servers.error.message}` : "";
    empty.hidden = !servers.loaded || list.length > 0;
    empty.textContent = servers.items.length ? "No server matches the filter." : "No hosted MCP servers yet. Create one to get started.";
    updateActions();
  }

  function updateActions() {
    const picked = selectedServers();
    const can = (op) => picked.filter((s) => allows(op, s.status));
    buttons.edit.disabled = !(picked.length === 1 && allows("update", picked[0].status));
    buttons.edit.title =
      picked.length === 1 ? `Edit is possible in ${allowedFrom("update")}` : "Select exactly one server to edit";
    for (const op of ["start", "stop", "delete"]) {
      buttons[op].disabled = can(op).length === 0;
      buttons[op].title = `${op[0].toUpperCase()}${op.slice(1)} is possible in ${allowedFrom(op)}`;
    }
    selectionInfo.textContent = picked.length ? `${picked.length} selected` : "";
  }

  function onEdit() {
    const [server] = selectedServers();
    if (server) navigate(`#/servers/${server.id}/edit`);
  }

  async function onBulk(operation) {
    const picked = selectedServers();
    const eligible = picked.filter((s) => allows(operation, s.status));
    const skipped = picked.filter((s) => !allows(operation, s.status));
    if (!eligible.length) return;
    if (operation === "delete" || operation === "stop") {
      const verb = operation === "delete" ? "Delete" : "Stop";
      const ok = await confirmDialog({
        title: `${verb} ${eligible.length === 1 ? "this server" : `${eligible.length} servers`}?`,
        body: [
          h(
            "p",
            operation === "delete"
              ? "Deleting removes the deployment and the record. It cannot be undone."
              : "Stopping takes the servers offline; clients lose access until they are started again.",
          ),
          h("ul", {}, eligible.map((s) => h("li", s.name))),
          skipped.length
            ? h("p.muted", `Skipped (not possible in their status): ${skipped.map((s) => `${s.name} (${s.status})`).join(", ")}`)
            : null,
        ],
        confirmLabel: verb,
      });
      if (!ok) return;
    }
    for (const s of eligible) state.selected.delete(s.id);
    await runOnServers(operation, eligible);
  }

  const unsubscribe = subscribe(draw);
  draw();
  if (!servers.loaded) refresh();
  return unsubscribe;
}

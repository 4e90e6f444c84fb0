// Who may use which tools, prompts and resources of a server (its tool policy), its call limits and its call
// audit: the editor the wizard and the edit form share, how the details page describes them, and its recent calls.

import { displayGroups, formatTime, h, uid } from "./dom.js";

const KINDS = [
  ["tools", "Tools"],
  ["prompts", "Prompts"],
  ["resources", "Resources"],
];
const EVERYONE_ELSE = "*";

const shownGroup = (key) => (key === EVERYONE_ELSE ? EVERYONE_ELSE : displayGroups([key]));
const splitList = (text) =>
  text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);

/** One kind of one rule: all of it, only the listed names (globs with *), or none. */
function kindControl(kind, label, value, n) {
  const mode = value === undefined || value === null ? "all" : value.length ? "some" : "none";
  const choice = h(
    "select.kind-mode",
    { "aria-label": `Rule ${n}: ${label}`, dataset: { kind } },
    [["all", `All ${label.toLowerCase()}`], ["some", "Only these"], ["none", `No ${label.toLowerCase()}`]].map(([v, text]) =>
      h("option", { value: v, selected: v === mode }, text),
    ),
  );
  const names = h("input.kind-names", {
    type: "text",
    value: mode === "some" ? value.join(", ") : "",
    placeholder: kind === "resources" ? "docs://public/*" : "search, report_*",
    "aria-label": `Rule ${n}: ${label} allowed (comma-separated, * matches anything)`,
    disabled: mode !== "some",
    autocomplete: "off",
  });
  choice.addEventListener("change", () => {
    names.disabled = choice.value !== "some";
    if (!names.disabled) names.focus();
  });
  const el = h("div.kind", {}, choice, names);
  el.collect = () => (choice.value === "all" ? undefined : choice.value === "none" ? [] : splitList(names.value));
  return el;
}

/** The tool policy, call limits and call audit of a server (or of the one being created); `field` is the form's
 * labelled-control helper (it wires the API's field errors to the control). */
export function policyFields(server, field) {
  const rows = h("div.policy-rules");
  const addRule = (key = "", rule = {}) => {
    const n = rows.children.length + 1;
    const group = h("input.rule-group", {
      type: "text",
      value: key ? shownGroup(key) : "",
      placeholder: "group, or * for everyone else",
      "aria-label": `Rule ${n}: group`,
      autocomplete: "off",
    });
    const kinds = KINDS.map(([kind, label]) => kindControl(kind, label, rule[kind], n));
    const row = h(
      "fieldset.policy-rule",
      {},
      h("legend", `Rule ${n}`),
      group,
      kinds,
      h("button.link", { type: "button", "aria-label": `Remove rule ${n}`, onclick: () => row.remove() }, "Remove"),
    );
    row.collect = () => {
      const body = {};
      kinds.forEach((k, i) => {
        const value = k.collect();
        if (value !== undefined) body[KINDS[i][0]] = value;
      });
      return [group.value.trim(), body];
    };
    rows.append(row);
    return row;
  };
  for (const [key, rule] of Object.entries(server?.toolPolicy || {})) addRule(key, rule);

  const limits = server?.callLimits || {};
  const number = (name, label, hint, value, step = "1") =>
    field({ name, label, hint, control: h("input", { type: "number", inputmode: "decimal", min: "0", step, value: value ?? "" }) });
  const audit = h("input", { type: "checkbox", checked: server?.auditCalls !== false, id: uid("audit") });
  const errorId = uid("policy-error");
  const el = h(
    "fieldset.policy",
    { dataset: { fieldWrap: "toolPolicy" }, "aria-describedby": errorId },
    h("legend", "Tools, prompts and resources by group"),
    h(
      "p.hint",
      "Without rules, everyone who may use the server may use all of it. With rules, members of a listed group may ",
      "use what its rule allows (several groups: what any allows); callers in no listed group follow the * rule, ",
      "or may use everything if there is none.",
    ),
    rows,
    h("button", { type: "button", onclick: () => addRule().querySelector("input").focus() }, "Add rule"),
    h("p.field-error", { id: errorId, dataset: { errorFor: "toolPolicy" }, hidden: true }),
    h(
      "fieldset.limits",
      { dataset: { fieldWrap: "callLimits" } },
      h("legend", "Call limits"),
      number("callLimits.ratePerSecond", "Requests per second, per caller (optional)", "Excess gets 429 with Retry-After.", limits.ratePerSecond, "any"),
      number("callLimits.burst", "Burst (optional)", "Requests a caller may make at once; default one second's worth.", limits.burst),
      number("callLimits.maxConcurrentPerReplica", "Calls at once, per replica (optional)", "A stdio server's replica is one process.", limits.maxConcurrentPerReplica),
      h("p.field-error", { dataset: { errorFor: "callLimits" }, hidden: true }),
    ),
    h("label.check", { for: audit.id }, audit, "Record every call (tool, prompt, resource) in the audit trail"),
  );
  /** {toolPolicy, auditCalls}: the limits are named controls, collected with the rest of the form. */
  el.collect = () => {
    const toolPolicy = {};
    for (const row of rows.children) {
      const [group, rule] = row.collect();
      if (group) toolPolicy[group] = rule;
    }
    return { toolPolicy, auditCalls: audit.checked };
  };
  return el;
}

/** A policy as the API returns it, keyed by group as a person writes it (for comparing with the editor's). */
export function policyAsWritten(policy) {
  return Object.fromEntries(Object.entries(policy || {}).map(([key, rule]) => [shownGroup(key), rule]));
}

function describeKind(value, label) {
  if (value === undefined || value === null) return `all ${label}`;
  return value.length ? `${label} ${value.join(", ")}` : `no ${label}`;
}

export function describePolicy(policy) {
  const entries = Object.entries(policy || {});
  if (!entries.length) return "none: every caller may use everything";
  return entries
    .map(([key, rule]) => `${shownGroup(key)}: ${KINDS.map(([kind]) => describeKind(rule[kind], kind)).join("; ")}`)
    .join(" · ");
}

export function describeLimits(limits) {
  const parts = [];
  if (limits?.ratePerSecond) parts.push(`${limits.ratePerSecond}/s per caller${limits.burst ? `, burst ${limits.burst}` : ""}`);
  if (limits?.maxConcurrentPerReplica) parts.push(`${limits.maxConcurrentPerReplica} calls at once per replica`);
  return parts.join("; ") || "none";
}

/** The latest calls through the gateway, newest first. */
export function callsTable(calls) {
  if (!calls.length) return h("p.empty", "No calls recorded yet.");
  return h(
    "table.calls",
    {},
    h("caption.visually-hidden", "Recent calls"),
    h("thead", {}, h("tr", {}, ["When", "Caller", "Credential", "Method", "Name", "Outcome", "ms", "Bytes in / out"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      calls.map((c) =>
        h(
          "tr",
          { dataset: { outcome: c.outcome } },
          h("td", formatTime(c.at)),
          h("td", c.caller),
          h("td", c.credentialType),
          h("td", c.method),
          h("td", c.name ?? ""),
          h("td", c.outcome),
          h("td", String(c.durationMs)),
          h("td", `${c.requestBytes} / ${c.responseBytes}`),
        ),
      ),
    ),
  );
}

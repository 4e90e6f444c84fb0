// The create wizard and the edit form. Both send exactly what the user entered; what the API refuses comes
// back as its own 4xx field errors, shown next to the field they name.

import { create, update } from "./actions.js";
import { ApiError } from "./api.js";
import { displayGroups, h, setChildren, uid } from "./dom.js";
import { describeLimits, describePolicy, policyAsWritten, policyFields } from "./policy.js";
import { allowedFrom, allows, cpuChoices, memoryChoices } from "./state.js";

// The defaults the API applies when a field is left out (shown, so nobody has to guess).
const HEALTH_DEFAULTS = {
  lb: { path: "/mcp", interval: 30, timeout: 5, healthyThresholdCount: 2, unhealthyThresholdCount: 3 },
  container: { interval: 30, startPeriod: 10, timeout: 5, retries: 3 },
};
const STDIO_PORT = 8080;
const DEFAULT_HTTP_PORT = 8000;

/** One labelled control with a place for its error; `name` is the API's field path. */
function field({ name, label, hint, control }) {
  const id = uid("f");
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  control.id = id;
  control.name = name;
  control.dataset.field = name;
  control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  // A field the API refused stays marked until the user changes it.
  const clear = () => {
    if (control.getAttribute("aria-invalid") !== "true") return;
    control.removeAttribute("aria-invalid");
    const error = document.getElementById(errorId);
    error.hidden = true;
    error.textContent = "";
  };
  control.addEventListener("input", clear);
  control.addEventListener("change", clear);
  return h(
    "div.field",
    { dataset: { fieldWrap: name } },
    h("label", { for: id }, label),
    control,
    hint ? h("p.hint", { id: hintId }, hint) : null,
    h("p.field-error", { id: errorId, dataset: { errorFor: name }, hidden: true }),
  );
}

const input = (attrs) => h("input", { type: "text", ...attrs });
const number = (attrs) => h("input", { type: "number", inputmode: "numeric", ...attrs });

function select(options, value) {
  return h(
    "select",
    {},
    options.map(([v, text]) => h("option", { value: String(v), selected: String(v) === String(value) }, text)),
  );
}

function envEditor(initial) {
  const rows = h("div.env-rows");
  const addRow = (key = "", value = "") => {
    const n = rows.children.length + 1;
    const row = h(
      "div.env-row",
      {},
      h("input.env-key", { type: "text", value: key, "aria-label": `Variable ${n} name`, placeholder: "NAME", autocomplete: "off" }),
      h("input.env-value", { type: "text", value, "aria-label": `Variable ${n} value`, placeholder: "value", autocomplete: "off" }),
      h("button.link", { type: "button", "aria-label": `Remove variable ${n}`, onclick: () => row.remove() }, "Remove"),
    );
    rows.append(row);
    return row;
  };
  for (const [k, v] of Object.entries(initial || {})) addRow(k, v);
  const errorId = uid("env-error");
  const el = h(
    "fieldset.env",
    { dataset: { fieldWrap: "environment" }, "aria-describedby": errorId },
    h("legend", "Environment variables"),
    h("p.hint", "Do not put secrets here: fetch them from a secret store in your server code."),
    rows,
    h("button", { type: "button", onclick: () => addRow().querySelector("input").focus() }, "Add variable"),
    h("p.field-error", { id: errorId, dataset: { errorFor: "environment" }, hidden: true }),
  );
  el.collect = () => {
    const env = {};
    for (const row of rows.children) {
      const key = row.querySelector(".env-key").value.trim();
      if (key || row.querySelector(".env-value").value) env[key] = row.querySelector(".env-value").value;
    }
    return env;
  };
  return el;
}

function sizeFields(cpu, memory) {
  const cpuSelect = select(cpuChoices().map((c) => [c, `${c} (${c / 1024} vCPU)`]), cpu);
  const memorySelect = h("select");
  const fill = (keep) => {
    const choices = memoryChoices(Number(cpuSelect.value));
    const chosen = choices.includes(Number(keep)) ? Number(keep) : choices[0];
    memorySelect.replaceChildren(
      ...choices.map((m) => h("option", { value: String(m), selected: m === chosen }, `${m} MiB (${m / 1024} GB)`)),
    );
  };
  fill(memory);
  cpuSelect.addEventListener("change", () => fill(memorySelect.value));
  return [
    field({ name: "cpu", label: "CPU units", control: cpuSelect }),
    field({
      name: "memoryLimitMiB",
      label: "Memory",
      hint: "Only the memory sizes valid for the chosen CPU are offered.",
      control: memorySelect,
    }),
  ];
}

function scalingFields(config = {}) {
  return [
    field({ name: "autoScalingConfig.minCapacity", label: "Minimum tasks", control: number({ min: 1, value: config.minCapacity ?? 1, required: true }) }),
    field({ name: "autoScalingConfig.maxCapacity", label: "Maximum tasks", hint: "At least the minimum.", control: number({ min: 1, value: config.maxCapacity ?? 1, required: true }) }),
    field({ name: "autoScalingConfig.metricName", label: "Custom metric name (optional)", control: input({ value: config.metricName ?? "" }) }),
    field({ name: "autoScalingConfig.targetValue", label: "Metric target value (optional)", control: number({ step: "any", value: config.targetValue ?? "" }) }),
    field({ name: "autoScalingConfig.duration", label: "Look-back window in seconds (optional)", control: number({ value: config.duration ?? "" }) }),
    field({ name: "autoScalingConfig.cooldown", label: "Cooldown in seconds (optional)", control: number({ value: config.cooldown ?? "" }) }),
  ];
}

function healthFields(lb = HEALTH_DEFAULTS.lb, container = HEALTH_DEFAULTS.container) {
  const d = HEALTH_DEFAULTS;
  const p = "loadBalancerConfig.healthCheckConfig";
  const c = "containerHealthCheckConfig";
  const command = Array.isArray(container.command) ? JSON.stringify(container.command) : container.command ?? "";
  return [
    h(
      "fieldset",
      {},
      h("legend", "Load balancer health check"),
      field({ name: `${p}.path`, label: "Path", hint: `Default ${d.lb.path}`, control: input({ value: lb.path ?? d.lb.path }) }),
      field({ name: `${p}.interval`, label: "Interval (s)", hint: `Default ${d.lb.interval}`, control: number({ value: lb.interval ?? d.lb.interval }) }),
      field({ name: `${p}.timeout`, label: "Timeout (s)", hint: `Default ${d.lb.timeout}; less than the interval`, control: number({ value: lb.timeout ?? d.lb.timeout }) }),
      field({ name: `${p}.healthyThresholdCount`, label: "Healthy threshold", hint: `Default ${d.lb.healthyThresholdCount}`, control: number({ value: lb.healthyThresholdCount ?? d.lb.healthyThresholdCount }) }),
      field({ name: `${p}.unhealthyThresholdCount`, label: "Unhealthy threshold", hint: `Default ${d.lb.unhealthyThresholdCount}`, control: number({ value: lb.unhealthyThresholdCount ?? d.lb.unhealthyThresholdCount }) }),
    ),
    h(
      "fieldset",
      {},
      h("legend", "Container health check"),
      field({
        name: `${c}.command`,
        label: "Command (optional)",
        hint: "Default: a real MCP call (initialize + tools/list), not just an open port.",
        control: input({ value: command, placeholder: "default: MCP call" }),
      }),
      field({ name: `${c}.interval`, label: "Interval (s)", hint: `Default ${d.container.interval}`, control: number({ value: container.interval ?? d.container.interval }) }),
      field({ name: `${c}.startPeriod`, label: "Start period (s)", hint: `Default ${d.container.startPeriod}`, control: number({ value: container.startPeriod ?? d.container.startPeriod }) }),
      field({ name: `${c}.timeout`, label: "Timeout (s)", hint: `Default ${d.container.timeout}`, control: number({ value: container.timeout ?? d.container.timeout }) }),
      field({ name: `${c}.retries`, label: "Retries", hint: `Default ${d.container.retries}`, control: number({ value: container.retries ?? d.container.retries }) }),
    ),
  ];
}

function accessFields(groups) {
  const isPublic = !groups || groups.length === 0 || groups.includes("lisa:public");
  const name = uid("access");
  const groupsInput = input({
    value: isPublic ? "" : displayGroups(groups),
    placeholder: "engineering, data-science",
    disabled: isPublic,
  });
  const radio = (value, label, checked) =>
    h(
      "label.check",
      {},
      h("input", {
        type: "radio",
        name,
        value,
        checked,
        onchange: () => {
          groupsInput.disabled = value === "public";
          if (!groupsInput.disabled) groupsInput.focus();
        },
      }),
      label,
    );
  const el = h(
    "fieldset.access",
    {},
    h("legend", "Who may use it"),
    radio("public", "Everyone signed in (public)", isPublic),
    radio("groups", "Only members of these identity-provider groups", !isPublic),
    field({ name: "groups", label: "Groups (comma-separated)", control: groupsInput }),
  );
  el.collect = () =>
    groupsInput.disabled
      ? []
      : groupsInput.value
          .split(",")
          .map((g) => g.trim())
          .filter(Boolean);
  return el;
}

/** Read a control's value as the API expects it: numbers as numbers, empty optional fields left out. */
function valueOf(control) {
  const raw = control.value;
  if (raw === "") return undefined;
  if (control.type === "number" || ["cpu", "memoryLimitMiB"].includes(control.name)) {
    const n = Number(raw);
    return Number.isNaN(n) ? raw : n;
  }
  if (control.name === "containerHealthCheckConfig.command" && raw.trim().startsWith("[")) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) node = node[key] ??= {};
  node[keys.at(-1)] = value;
}

/** Collect a container's named controls into a nested body, skipping blanks and disabled controls. */
function collectInto(body, container, skip = []) {
  for (const control of container.querySelectorAll("[data-field]")) {
    if (control.disabled || skip.includes(control.name)) continue;
    const value = valueOf(control);
    if (value !== undefined) setPath(body, control.name, value);
  }
  return body;
}

function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  form.querySelector(".form-error")?.setAttribute("hidden", "");
}

/** Put each of the API's field errors next to its field (or the nearest enclosing one); returns the first. */
function showErrors(form, error) {
  clearErrors(form);
  const places = [...form.querySelectorAll("[data-error-for]")];
  const unplaced = [];
  let first = null;
  for (const problem of error.errors?.length ? error.errors : [{ field: error.field, message: error.message }]) {
    const path = problem.field || "";
    const place = places
      .filter((p) => path === p.dataset.errorFor || path.startsWith(`${p.dataset.errorFor}.`))
      .sort((a, b) => b.dataset.errorFor.length - a.dataset.errorFor.length)[0];
    if (!place) {
      unplaced.push(problem.field && problem.field !== "body" ? `${problem.field}: ${problem.message}` : problem.message);
      continue;
    }
    place.textContent = place.hidden ? problem.message : `${place.textContent} ${problem.message}`;
    place.hidden = false;
    const control = form.querySelector(`[data-field="${CSS.escape(place.dataset.errorFor)}"]`);
    control?.setAttribute("aria-invalid", "true");
    first ??= control || place;
  }
  const general = form.querySelector(".form-error");
  if (unplaced.length || !first) {
    general.textContent = unplaced.length ? unplaced.join(" ") : error.message;
    general.hidden = false;
    first ??= general;
  }
  return first;
}

// -- create wizard ----------------------------------------------------------------------------------------

export function renderCreateWizard(main, { navigate }) {
  const typeSelect = select([["stdio", "stdio (wrapped by mcp-proxy)"], ["http", "Streamable HTTP"], ["sse", "SSE"]], "stdio");
  const portInput = number({ min: 1, max: 65535, placeholder: String(DEFAULT_HTTP_PORT) });
  const portField = field({ name: "port", label: "Port", hint: `HTTP and SSE servers default to ${DEFAULT_HTTP_PORT}.`, control: portInput });
  const stdioNote = h("p.hint.stdio-note", `stdio servers listen on ${STDIO_PORT} behind mcp-proxy; no port to choose.`);
  const syncType = () => {
    const stdio = typeSelect.value === "stdio";
    portField.hidden = stdio;
    portInput.disabled = stdio;
    stdioNote.hidden = !stdio;
  };
  typeSelect.addEventListener("change", syncType);
  const access = accessFields(null);
  const env = envEditor({});
  const policy = policyFields(null, field);

  const steps = [
    {
      title: "Server details",
      body: [
        field({ name: "name", label: "Name", hint: "Normalised to lower-case letters and digits for URLs; must be unique.", control: input({ required: true, autocomplete: "off", maxlength: 100 }) }),
        field({ name: "description", label: "Description (optional)", control: h("textarea", { rows: 2 }) }),
        access,
        policy,
        field({ name: "serverType", label: "Server type", control: typeSelect }),
        stdioNote,
        portField,
        field({ name: "startCommand", label: "Start command", hint: "Run from the server's working directory, where the artifacts are copied.", control: input({ required: true, autocomplete: "off", placeholder: "python server.py" }) }),
        field({ name: "s3Path", label: "Artifact path (optional)", hint: "bucket/path of files copied into the working directory.", control: input({ autocomplete: "off" }) }),
        field({ name: "image", label: "Container image (optional)", control: input({ autocomplete: "off" }) }),
        env,
      ],
    },
    { title: "Scaling", body: [...sizeFields(256, 512), ...scalingFields()] },
    { title: "Health checks", body: healthFields() },
    { title: "Review and launch", body: [h("div.review")] },
  ];

  let current = 0;
  const stepNav = h("ol.steps", { "aria-label": "Wizard steps" });
  const sections = steps.map((step, i) =>
    h(`section.step`, { dataset: { step: String(i) }, "aria-labelledby": `step-title-${i}`, hidden: i !== 0 }, h("h2", { id: `step-title-${i}`, tabindex: "-1" }, `Step ${i + 1} of ${steps.length}: ${step.title}`), step.body),
  );
  const back = h("button.secondary", { type: "button", onclick: () => go(current - 1) }, "Back");
  const next = h("button.primary", { type: "button", onclick: () => validStep() && go(current + 1) }, "Next");
  const launch = h("button.primary", { type: "submit" }, "Launch server");
  const cancel = h("button.link", { type: "button", onclick: () => navigate("#/") }, "Cancel");
  const form = h(
    "form.wizard",
    { novalidate: true, "aria-labelledby": "wizard-title", onsubmit: (e) => (e.preventDefault(), submit()) },
    stepNav,
    h("p.form-error.error-box", { role: "alert", hidden: true }),
    sections,
    h("div.form-actions", {}, back, next, launch, cancel),
  );
  setChildren(main, h("div.page-head", {}, h("h1#wizard-title", "Create hosted MCP server")), form);
  syncType();

  function body() {
    const data = collectInto({}, form, ["groups"]);
    const groups = access.collect();
    if (groups.length) data.groups = groups;
    const environment = env.collect();
    if (Object.keys(environment).length) data.environment = environment;
    const { toolPolicy, auditCalls } = policy.collect();
    if (Object.keys(toolPolicy).length) data.toolPolicy = toolPolicy;
    if (!auditCalls) data.auditCalls = false;
    return data;
  }

  function validStep() {
    for (const control of sections[current].querySelectorAll("input, select, textarea")) {
      if (!control.disabled && !control.checkValidity()) {
        control.reportValidity();
        control.focus();
        return false;
      }
    }
    return true;
  }

  function go(index) {
    current = Math.max(0, Math.min(steps.length - 1, index));
    sections.forEach((s, i) => (s.hidden = i !== current));
    stepNav.replaceChildren(
      ...steps.map((s, i) =>
        h(
          "li",
          { "aria-current": i === current ? "step" : null, class: i < current ? "done" : "" },
          h("button.link", { type: "button", onclick: () => go(i), disabled: i > current }, `${i + 1}. ${s.title}`),
        ),
      ),
    );
    back.hidden = current === 0;
    next.hidden = current === steps.length - 1;
    launch.hidden = current !== steps.length - 1;
    if (current === steps.length - 1) renderReview();
    sections[current].querySelector("h2").focus();
  }

  function renderReview() {
    const data = body();
    const rows = [
      ["Name", data.name],
      ["Type", data.serverType],
      ["Start command", data.startCommand],
      ["Access", data.groups ? data.groups.join(", ") : "public"],
      ["CPU / memory", `${data.cpu} / ${data.memoryLimitMiB} MiB`],
      ["Tasks", `${data.autoScalingConfig?.minCapacity} to ${data.autoScalingConfig?.maxCapacity}`],
      ["Tool policy", describePolicy(data.toolPolicy)],
      ["Call limits", describeLimits(data.callLimits)],
      ["Call audit", data.auditCalls === false ? "off" : "every call recorded"],
    ];
    sections.at(-1).querySelector(".review").replaceChildren(
      h("dl.summary", {}, rows.map(([k, v]) => [h("dt", k), h("dd", v ?? "")])),
      h("details", {}, h("summary", "Request body"), h("pre.code", JSON.stringify(data, null, 2))),
    );
  }

  async function submit() {
    launch.disabled = true;
    clearErrors(form);
    try {
      const accepted = await create(body());
      navigate(`#/servers/${accepted.id}`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const first = showErrors(form, error);
      const section = first.closest("section.step");
      if (section) go(Number(section.dataset.step));
      first.focus?.();
    } finally {
      launch.disabled = false;
    }
  }

  go(0);
}

// -- edit form -----------------------------------------------------------------------------------------------

export function renderEditForm(main, server, { navigate }) {
  const editable = allows("update", server.status);
  const access = accessFields(server.groups);
  const env = envEditor(server.environment);
  const policy = policyFields(server, field);
  const form = h(
    "form.edit",
    { novalidate: true, "aria-labelledby": "edit-title", onsubmit: (e) => (e.preventDefault(), submit()) },
    h("p.form-error.error-box", { role: "alert", hidden: true }),
    h(
      "p.hint",
      `Changes are applied in ${allowedFrom("update")}. Name, type, start command, image and artifacts are fixed once created. `,
      "Start and stop are separate actions, not part of an edit.",
    ),
    h("section", { "aria-labelledby": "edit-general" }, h("h2#edit-general", "General"),
      field({ name: "description", label: "Description", control: h("textarea", { rows: 2, value: server.description ?? "" }) }),
      access,
      env,
    ),
    h("section", { "aria-labelledby": "edit-policy" }, h("h2#edit-policy", "Tools and limits"),
      h("p.hint", "Changing only these applies at once: the server keeps running."),
      policy,
    ),
    h("section", { "aria-labelledby": "edit-scaling" }, h("h2#edit-scaling", "Scaling"), ...sizeFields(server.cpu, server.memoryLimitMiB), ...scalingFields(server.autoScalingConfig)),
    h("section", { "aria-labelledby": "edit-health" }, h("h2#edit-health", "Health checks"), ...healthFields(server.loadBalancerConfig?.healthCheckConfig, server.containerHealthCheckConfig)),
    h(
      "div.form-actions",
      {},
      h("button.primary#save", { type: "submit", disabled: !editable }, "Save changes"),
      h("button.link", { type: "button", onclick: () => navigate(`#/servers/${server.id}`) }, "Cancel"),
    ),
  );
  setChildren(main,
    h("div.page-head", {}, h("h1#edit-title", `Edit ${server.name}`), h("p.muted", `Status: ${server.status}`)),
    editable ? null : h("p.error-box", { role: "alert" }, `${server.name} is ${server.status}: edits are possible in ${allowedFrom("update")}.`),
    form,
  );

  /** Only what changed: the API applies each field present, so untouched fields stay as they are. */
  function changes() {
    const wanted = collectInto({}, form, ["groups"]);
    wanted.groups = access.collect();
    wanted.environment = env.collect();
    Object.assign(wanted, policy.collect());
    wanted.callLimits ??= {};
    const currentGroups = server.groups.includes("lisa:public") ? [] : server.groups.map((g) => g.replace(/^group:/, ""));
    const before = {
      description: server.description ?? undefined,
      groups: currentGroups,
      environment: server.environment,
      cpu: server.cpu,
      memoryLimitMiB: server.memoryLimitMiB,
      autoScalingConfig: server.autoScalingConfig,
      loadBalancerConfig: server.loadBalancerConfig,
      containerHealthCheckConfig: server.containerHealthCheckConfig,
      toolPolicy: policyAsWritten(server.toolPolicy),
      callLimits: server.callLimits || {},
      auditCalls: server.auditCalls !== false,
    };
    const same = (a, b) => JSON.stringify(normal(a)) === JSON.stringify(normal(b));
    const body = {};
    for (const key of Object.keys(before)) {
      if (key === "description" && wanted.description === undefined && before.description) body.description = "";
      else if (wanted[key] !== undefined && !same(wanted[key], before[key])) body[key] = wanted[key];
    }
    return body;
  }

  async function submit() {
    clearErrors(form);
    const body = changes();
    if (!Object.keys(body).length) {
      const general = form.querySelector(".form-error");
      general.textContent = "Nothing changed: there is no update to send.";
      general.hidden = false;
      general.focus?.();
      return;
    }
    const save = form.querySelector("#save");
    save.disabled = true;
    try {
      await update(server, body);
      navigate(`#/servers/${server.id}`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, error).focus?.();
    } finally {
      save.disabled = !editable;
    }
  }
}

/** Drop nulls and sort keys so two configurations compare by content. */
function normal(value) {
  if (Array.isArray(value)) return value.map(normal);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((k) => value[k] !== null && value[k] !== undefined)
        .map((k) => [k, normal(value[k])]),
    );
  }
  return value;
}

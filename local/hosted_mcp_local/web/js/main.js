// Boot and routing: configuration, sign-in, then the admin views or the non-admin view.

import { ApiError, getServer, request, setApiBase } from "./api.js";
import { beginSignIn, completeSignIn, credential, onSignedOut, signOut, useSecret } from "./auth.js";
import { renderDetails, renderMyServers } from "./details.js";
import { h, setChildren } from "./dom.js";
import { forgetServers, loadRules, startPolling, stopPolling } from "./state.js";
import { renderServersView } from "./table.js";
import { renderCreateWizard, renderEditForm } from "./wizard.js";

const main = document.getElementById("main");
let config = {};
let role = null; // "admin" | "user"
let teardown = null;

async function loadConfig() {
  try {
    const response = await fetch("config.json", { cache: "no-cache" });
    if (response.ok) return await response.json();
  } catch {
    // No configuration: the page talks to the API on its own origin with a pasted credential.
  }
  return {};
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function showSignIn(message = "") {
  stopPolling();
  forgetServers();
  document.getElementById("banners").replaceChildren();
  teardown?.();
  teardown = null;
  role = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  const secret = h("textarea#credential", { rows: 4, required: true, autocomplete: "off", spellcheck: false, "aria-describedby": "credential-help" });
  const remember = h("input#remember", { type: "checkbox" });
  const error = h("p.error-box", { role: "alert", hidden: !message }, message);
  const idp = config.oidc
    ? h(
        "section.card",
        { "aria-labelledby": "idp-title" },
        h("h2#idp-title", "Sign in with your organisation"),
        h("button.primary", { type: "button", onclick: () => beginSignIn(config.oidc).catch((e) => ((error.textContent = e.message), (error.hidden = false))) }, "Sign in"),
      )
    : null;
  setChildren(main,
    h("div.page-head", {}, h("h1", "Sign in to Hosted MCP")),
    error,
    idp,
    h(
      "form.card.signin",
      {
        "aria-labelledby": "paste-title",
        onsubmit: (e) => {
          e.preventDefault();
          try {
            useSecret(secret.value, { remember: remember.checked });
            start();
          } catch (err) {
            error.textContent = err.message;
            error.hidden = false;
          }
        },
      },
      h("h2#paste-title", config.oidc ? "Or use a token or API key" : "Use a token or API key"),
      h("label", { for: "credential" }, "Bearer token or API key"),
      secret,
      h(
        "div#credential-help.hint",
        {},
        h("p", "On the machine running the platform, mint a token for yourself:"),
        h("pre.code", "hosted-mcp token --user alice --groups engineering --admin"),
        h("p", "Leave out --admin for a user who only uses servers. An API key (hmk_…) works too. The credential stays in this browser tab unless you tick the box below."),
      ),
      h("label.check", {}, remember, "Remember on this device"),
      h("div.form-actions", {}, h("button.primary", { type: "submit" }, "Continue")),
    ),
  );
  secret.focus();
}

async function detectRole() {
  try {
    await request("GET", "/mcp?limit=1");
    return "admin";
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return "user";
    throw error;
  }
}

async function start() {
  const cred = credential();
  if (!cred) return showSignIn();
  setChildren(main, h("p.loading", "Loading…"));
  try {
    role = await detectRole();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // signOut already showed the sign-in form
    setChildren(main, h("p.error-box", { role: "alert" }, `The API could not be reached: ${error.message}`));
    return;
  }
  document.getElementById("who-name").textContent = `${cred.label}${role === "admin" ? " (admin)" : ""}`;
  document.getElementById("who").hidden = false;
  document.getElementById("nav").hidden = false;
  document.getElementById("nav-servers").textContent = role === "admin" ? "MCP Management" : "My MCP servers";
  if (role === "admin") startPolling();
  route();
}

async function route() {
  if (!role) return;
  teardown?.();
  teardown = null;
  const hash = location.hash || "#/";
  const ctx = { navigate, username: credential()?.label };
  let match;
  if (role !== "admin") {
    await renderMyServers(main, ctx);
  } else if (hash === "#/create") {
    document.title = "Create server · Hosted MCP";
    renderCreateWizard(main, ctx);
  } else if ((match = hash.match(/^#\/servers\/([^/]+)\/edit$/))) {
    document.title = "Edit server · Hosted MCP";
    setChildren(main, h("p.loading", "Loading…"));
    try {
      renderEditForm(main, await getServer(decodeURIComponent(match[1])), ctx);
    } catch (error) {
      setChildren(main, h("p.error-box", { role: "alert" }, error.message));
    }
  } else if ((match = hash.match(/^#\/servers\/([^/]+)$/))) {
    document.title = "Server details · Hosted MCP";
    teardown = renderDetails(main, decodeURIComponent(match[1]), ctx);
  } else {
    document.title = "MCP Management · Hosted MCP";
    teardown = renderServersView(main, ctx);
  }
  main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
document.getElementById("sign-out").addEventListener("click", () => signOut());
onSignedOut((reason) => showSignIn(reason));

(async function boot() {
  config = await loadConfig();
  setApiBase(config.apiBaseUrl || "");
  await loadRules();
  if (config.oidc) {
    try {
      await completeSignIn(config.oidc);
    } catch (error) {
      return showSignIn(`Sign-in failed: ${error.message}`);
    }
  }
  await start();
})();

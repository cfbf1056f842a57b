/* The key management page. It calls the service's REST API with the session cookie and the CSRF
 * token, like any other client: no API token is ever put in a URL or in storage. The DOM is built with
 * elements and textContent only (never innerHTML), and nothing secret is put back into the page after
 * a key is saved: secret inputs are cleared and answers only carry last4. */
"use strict";

(function () {
  const ME = document.getElementById("app").dataset.username;
  const state = { providers: [], byId: {}, overview: null, groups: [], details: {}, stats: null, tokens: [] };

  // ---- DOM helpers ---------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else if (value === true) node.setAttribute(name, "");
      else node.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function $(id) { return document.getElementById(id); }
  function when(iso) {
    if (!iso) return "never";
    const date = new Date(iso);
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }
  function say(text) { $("page-status").textContent = text; }
  function showError(node, error) { node.textContent = error ? error.message || String(error) : ""; }
  const STATUS_LABELS = {
    valid: "valid", restricted: "restricted", no_credit: "no credit", unverified: "unverified",
    invalid: "invalid", revoked: "revoked", undecryptable: "undecryptable",
  };
  function badge(status) {
    return el("span", { className: "badge badge-" + status, text: STATUS_LABELS[status] || status });
  }

  // ---- the API -------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) {
      const error = body && (body.error && typeof body.error === "object" ? body.error : body);
      super((error && (error.error || error.message)) || "The request failed (HTTP " + status + ").");
      this.status = status;
      this.code = error && error.code;
      this.field = error && (error.field || error.param);
    }
  }
  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  async function api(method, path, body) {
    const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") options.headers["X-CSRFToken"] = csrfToken();
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (response.status === 401 || response.status === 403 && data && data.code === "not_authenticated") {
      window.location.assign("/accounts/login/?next=/byok-interface.html");
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }
  const enc = encodeURIComponent;

  // ---- loading -------------------------------------------------------------------------------------
  async function loadAll() {
    say("Loading…");
    try {
      const providers = await api("GET", "/api/byok/providers");
      state.providers = providers.providers;
      state.byId = Object.fromEntries(state.providers.map((p) => [p.id, p]));
      await refresh();
      say("");
    } catch (error) {
      say("Could not load your keys: " + error.message);
    }
  }
  async function loadGroupDetails() {
    const managed = state.groups.filter((g) => g.status === "active");
    const details = await Promise.all(managed.map((g) => api("GET", "/api/byok/groups/" + enc(g.id))));
    state.details = {};
    details.forEach((d) => { state.details[d.group.id] = d.group; });
  }
  async function refresh() {
    const [overview, stats, groups, tokens] = await Promise.all([
      api("GET", "/api/byok/keys"), api("GET", "/api/byok/stats"), api("GET", "/api/byok/groups"),
      api("GET", "/api/byok/tokens"),
    ]);
    state.overview = overview;
    state.stats = stats.stats;
    state.groups = groups.groups;
    state.tokens = tokens.tokens;
    await loadGroupDetails();
    renderAll();
    renderProviders();
  }
  function renderAll() {
    renderCards();
    renderKeys();
    renderGroupKeys();
    renderGroups();
    renderTokens();
    renderTryProviders();
  }

  // ---- dashboard -----------------------------------------------------------------------------------
  function renderCards() {
    const overview = state.overview;
    const stats = state.stats;
    const usable = overview.groupKeys.filter((k) => k.usableByMe).length;
    $("card-keys").textContent = String(overview.keys.length);
    $("card-keys-sub").textContent = usable + " group key" + (usable === 1 ? "" : "s") + " you may use";
    $("card-providers").textContent = String(stats.providers.length);
    $("card-providers-sub").textContent = stats.providers.join(", ") || "none yet";
    $("card-calls").textContent = String(stats.thisMonth.calls);
    $("card-calls-sub").textContent = "this month · " + stats.totalUsage + " all time";
    $("card-tokens").textContent = String(stats.thisMonth.totalTokens);
    $("card-tokens-sub").textContent = "this month · " + stats.tokens.totalTokens + " all time";
  }

  // ---- personal keys -------------------------------------------------------------------------------
  function renderKeys() {
    const body = clear($("keys-table").tBodies[0]);
    const keys = state.overview.keys;
    $("keys-empty").hidden = keys.length > 0;
    for (const key of keys) body.append(keyRow(key, { path: "/api/byok/keys/" + enc(key.provider), group: null }));
  }

  function keyRow(key, where) {
    const provider = state.byId[key.provider];
    const row = el("tr", { "data-provider": key.provider, "data-key-id": key.keyId });
    const error = el("p", { className: "error", role: "alert" });
    const statusCell = el("td", {}, badge(key.status));
    if (key.statusReason) statusCell.append(el("span", { className: "reason", text: key.statusReason }));
    const validated = el("td", { text: when(key.lastValidatedAt) });
    const testButton = el("button", {
      type: "button", text: "Test", "aria-label": "Test " + key.provider + " key",
      onclick: async () => {
        showError(error, null);
        testButton.disabled = true;
        try {
          const result = await api("POST", where.path + "/test", {});
          clear(statusCell).append(badge(result.keyStatus || result.status));
          if (result.reason) statusCell.append(el("span", { className: "reason", text: result.reason }));
          validated.textContent = when(result.lastValidatedAt);
          say("Tested the " + key.provider + " key: " + (STATUS_LABELS[result.status] || result.status) + ".");
        } catch (e) { showError(error, e); } finally { testButton.disabled = false; }
      },
    });
    const editButton = el("button", {
      type: "button", text: "Edit", "aria-label": "Rename or describe " + key.provider + " key",
      onclick: () => { editor.hidden = !editor.hidden; if (!editor.hidden) nameInput.focus(); },
    });
    const removeButton = el("button", {
      type: "button", className: "danger", text: "Remove", "aria-label": "Remove " + key.provider + " key",
      onclick: async () => {
        const label = provider ? provider.name : key.provider;
        if (!window.confirm("Remove the " + label + " key" + (where.group ? " of group " + where.group : "") + "? It cannot be undone.")) return;
        showError(error, null);
        try { await api("DELETE", where.path); say("Removed the " + key.provider + " key."); await refresh(); }
        catch (e) { showError(error, e); }
      },
    });
    const compromisedButton = el("button", {
      type: "button", className: "danger", text: "Compromised", "aria-label": "Report " + key.provider + " key as compromised",
      onclick: async () => {
        if (!window.confirm("Revoke the " + key.provider + " key now and report who used it? It is never used again.")) return;
        showError(error, null);
        try {
          const report = await api("POST", where.path + "/compromised", {});
          const r = report.blastRadius;
          const text = "Revoked " + report.revokedKeyId + ". Since " + when(r.since) + ": " + r.calls + " calls, " +
            r.totalTokens + " tokens, by " + (r.users.join(", ") || "nobody") + " (tokens: " + (r.tokens.join(", ") || "none") +
            "; addresses: " + (r.ips.join(", ") || "none") + ")." + (report.notified.length ? " Told: " + report.notified.join(", ") + "." : "");
          await refresh();
          say(text);
        } catch (e) { showError(error, e); }
      },
    });
    const nameId = "edit-name-" + key.keyId;
    const descId = "edit-desc-" + key.keyId;
    const nameInput = el("input", { id: nameId, value: key.name, maxlength: 200, required: true });
    const descInput = el("input", { id: descId, value: key.description || "", maxlength: 2000 });
    const editor = el("form", {
      className: "editor", hidden: true, "aria-label": "Edit " + key.provider + " key",
      onsubmit: async (event) => {
        event.preventDefault();
        showError(error, null);
        try {
          await api("PATCH", where.path, { name: nameInput.value, description: descInput.value });
          say("Saved the " + key.provider + " key's name.");
          await refresh();
        } catch (e) { showError(error, e); }
      },
    }, el("label", { for: nameId, text: "Name" }), nameInput, el("label", { for: descId, text: "Description" }), descInput,
      el("button", { type: "submit", text: "Save" }));
    row.append(
      el("td", {}, el("span", { className: "provider", text: provider ? provider.name : key.provider })),
      el("td", {}, el("span", { className: "key-name", text: key.name }), key.description ? el("span", { className: "reason", text: key.description }) : null),
      el("td", {}, el("code", { className: "last4", text: key.last4 ? "…" + key.last4 : "" })),
      statusCell,
      validated,
      el("td", { text: when(key.lastUsedAt) }),
      el("td", { text: String(key.usageCount) }),
      el("td", { className: "actions" }, testButton, editButton, removeButton, key.status === "revoked" ? null : compromisedButton, editor, error),
    );
    return row;
  }

  // ---- the add/replace form (used for personal and for group keys) --------------------------------
  function keyForm(form, options) {
    // options: {idPrefix, path(provider) -> url, extra() -> extra body fields, onSaved(result)}
    clear(form);
    const p = options.idPrefix;
    const select = el("select", { id: p + "-provider", name: "provider" },
      el("option", { value: "", text: "Choose a provider…" }),
      state.providers.map((prov) => el("option", {
        value: prov.id, disabled: prov.status === "discontinued",
        text: prov.name + (prov.status === "active" ? "" : " (" + prov.status + ")"),
      })));
    const fields = el("div", { className: "fields", id: p + "-fields" });
    const hint = el("p", { className: "hint", id: p + "-hint" });
    const format = el("p", { className: "format", id: p + "-format", role: "status" });
    const nameInput = el("input", { id: p + "-name", name: "name", maxlength: 200, autocomplete: "off" });
    const descInput = el("input", { id: p + "-description", name: "description", maxlength: 2000, autocomplete: "off" });
    const outcome = el("p", { className: "outcome", id: p + "-outcome", role: "status" });
    const error = el("p", { className: "error", id: p + "-error", role: "alert" });
    const testButton = el("button", { type: "button", id: p + "-test", text: "Test" });
    const saveButton = el("button", { type: "submit", id: p + "-save", text: "Save" });
    form.append(...[
      el("div", { className: "field" }, el("label", { for: p + "-provider", text: "Provider" }), select),
      hint, fields, format,
      el("div", { className: "field" }, el("label", { for: p + "-name", text: "Name (optional)" }), nameInput),
      el("div", { className: "field" }, el("label", { for: p + "-description", text: "Description (optional)" }), descInput),
      options.extraFields ? options.extraFields() : null,
      el("div", { className: "buttons" }, testButton, saveButton), outcome, error].filter(Boolean));

    let inputs = [];
    function current() { return state.byId[select.value]; }
    function drawFields() {
      clear(fields); inputs = [];
      const prov = current();
      hint.textContent = prov ? prov.keyHint : "";
      format.textContent = "";
      if (!prov) return;
      const specs = prov.requiresConfig ? prov.configFields : [{ name: "apiKey", label: "API key", kind: "secret", required: true, pattern: prov.keyPattern, hint: "" }];
      for (const spec of specs) {
        const id = p + "-field-" + spec.name;
        const type = spec.kind === "secret" ? "password" : spec.kind === "url" ? "url" : "text";
        const input = el("input", {
          id, name: spec.name, type, autocomplete: spec.kind === "secret" ? "new-password" : "off",
          spellcheck: "false", required: spec.required, "aria-describedby": id + "-hint",
          placeholder: spec.kind === "region" ? "us-east-1" : spec.kind === "url" ? "https://" : null,
        });
        input.addEventListener("input", checkFormat);
        inputs.push({ spec, input });
        fields.append(el("div", { className: "field" },
          el("label", { for: id, text: spec.label + (spec.required ? "" : " (optional)") }), input,
          el("span", { className: "field-hint", id: id + "-hint", text: spec.hint || "" })));
      }
    }
    function checkFormat() {
      const problems = [];
      for (const { spec, input } of inputs) {
        const value = input.value.trim();
        if (!value) { if (spec.required) problems.push(spec.label + " is needed"); continue; }
        if (/\s/.test(value)) problems.push(spec.label + " contains spaces");
        else if (spec.pattern && !(new RegExp(spec.pattern)).test(value)) problems.push(spec.label + " does not look right");
        input.setAttribute("aria-invalid", problems.length ? "true" : "false");
      }
      format.textContent = problems.length ? problems.join("; ") + "." : (inputs.length ? "The format looks right." : "");
      format.className = "format " + (problems.length ? "bad" : "good");
      return problems.length === 0;
    }
    function credential() {
      const prov = current();
      if (!prov.requiresConfig) return inputs[0].input.value.trim();
      const value = {};
      for (const { spec, input } of inputs) if (input.value.trim()) value[spec.name] = input.value.trim();
      return value;
    }
    function forget() { for (const { input } of inputs) input.value = ""; }
    function describe(result) {
      const label = STATUS_LABELS[result.status] || result.status;
      return label.charAt(0).toUpperCase() + label.slice(1) + (result.reason ? ": " + result.reason : "") + (result.warning ? " " + result.warning : "");
    }
    select.addEventListener("change", drawFields);
    testButton.addEventListener("click", async () => {
      showError(error, null); outcome.textContent = "";
      if (!current()) { showError(error, { message: "Choose a provider first." }); return; }
      testButton.disabled = true;
      try {
        const result = await api("POST", options.path(select.value) + "/test", { apiKey: credential() });
        outcome.textContent = "Test: " + describe(result);
      } catch (e) { showError(error, e); } finally { testButton.disabled = false; }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError(error, null); outcome.textContent = "";
      if (!current()) { showError(error, { message: "Choose a provider first." }); return; }
      saveButton.disabled = true;
      try {
        const body = { apiKey: credential(), name: nameInput.value, description: descInput.value, ...(options.extra ? options.extra() : {}) };
        const result = await api("POST", options.path(select.value), body);
        forget();  // nothing secret stays in the page
        outcome.textContent = "Saved (…" + result.last4 + "). " + describe(result);
        await options.onSaved(result);
      } catch (e) {
        showError(error, e);
        if (e.field) { const bad = inputs.find((i) => i.spec.name === e.field); if (bad) bad.input.focus(); }
      } finally { saveButton.disabled = false; }
    });
    drawFields();
  }

  // ---- group keys visible to me ---------------------------------------------------------------------
  function renderGroupKeys() {
    const body = clear($("group-keys-table").tBodies[0]);
    const keys = state.overview.groupKeys;
    $("group-keys-empty").hidden = keys.length > 0;
    for (const key of keys) {
      const provider = state.byId[key.provider];
      body.append(el("tr", { "data-group": key.groupId, "data-provider": key.provider },
        el("td", { text: key.groupId }), el("td", { text: provider ? provider.name : key.provider }),
        el("td", { text: key.name }), el("td", {}, badge(key.status)),
        el("td", { text: key.usableByMe ? "yes" : "no" })));
    }
  }

  // ---- providers grid -------------------------------------------------------------------------------
  function renderProviders() {
    const grid = clear($("providers-grid"));
    for (const prov of state.providers) {
      const serving = el("span", { className: "serving", text: prov.status === "discontinued" ? "not available" : "checking…" });
      grid.append(el("li", { className: "provider-card status-" + prov.status, "data-provider": prov.id },
        el("strong", { text: prov.name }), el("span", { className: "badge badge-" + prov.status, text: prov.status }), serving));
      if (prov.status === "discontinued") continue;
      api("GET", "/api/byok/resolve?provider=" + enc(prov.id)).then((r) => {
        serving.textContent = r.keySource === "group" ? "group key (" + r.groupId + ")" : r.keySource + " key";
        serving.className = "serving ok";
      }).catch(() => { serving.textContent = "no key"; serving.className = "serving none"; });
    }
  }

  // ---- groups ---------------------------------------------------------------------------------------
  function renderGroups() {
    const list = clear($("groups-list"));
    $("groups-empty").hidden = state.groups.length > 0;
    for (const group of state.groups) {
      const error = el("p", { className: "error", role: "alert" });
      const item = el("li", { "data-group": group.id },
        el("strong", { text: group.name }), " ", el("code", { text: group.id }), " — ", group.role,
        group.status === "invited" ? el("span", { className: "badge badge-unverified", text: "invited" }) : null,
        group.isDefault ? el("span", { className: "muted", text: " (default)" }) : null, " ");
      if (group.status === "invited") {
        item.append(
          el("button", { type: "button", text: "Accept", "aria-label": "Accept the invitation to " + group.id, onclick: () => act(error, "POST", "/api/byok/groups/" + enc(group.id) + "/join", "Joined " + group.id + ".") }),
          el("button", { type: "button", text: "Decline", "aria-label": "Decline the invitation to " + group.id, onclick: () => act(error, "DELETE", "/api/byok/groups/" + enc(group.id) + "/users/" + enc(ME), "Declined " + group.id + ".") }));
      } else {
        item.append(el("button", {
          type: "button", text: "Leave", "aria-label": "Leave " + group.id,
          onclick: () => { if (window.confirm("Leave group " + group.id + "?")) act(error, "DELETE", "/api/byok/groups/" + enc(group.id) + "/users/" + enc(ME), "Left " + group.id + "."); },
        }));
      }
      item.append(error);
      list.append(item);
    }
    const panels = clear($("group-panels"));
    for (const group of state.groups) {
      if (group.status === "active" && (group.role === "owner" || group.role === "admin") && state.details[group.id]) {
        panels.append(groupPanel(state.details[group.id], group.role));
      }
    }
  }
  async function act(errorNode, method, path, message, body) {
    showError(errorNode, null);
    try { await api(method, path, body); say(message); await refresh(); } catch (e) { showError(errorNode, e); }
  }

  function groupPanel(detail, myRole) {
    const gid = detail.id;
    const base = "/api/byok/groups/" + enc(gid);
    const panel = el("section", { className: "group-panel", id: "group-" + gid, "aria-label": "Manage group " + gid },
      el("h3", { text: "Manage " + detail.name + " (" + gid + ")" }));

    // members
    const membersError = el("p", { className: "error", role: "alert" });
    const memberRows = detail.members.map((m) => {
      const roleId = "role-" + gid + "-" + m.userId;
      const roleSelect = el("select", { id: roleId, "aria-label": "Role of " + m.userId },
        ["member", "admin", "owner"].map((r) => el("option", { value: r, text: r, selected: r === m.role })));
      roleSelect.addEventListener("change", () => act(membersError, "POST", base + "/users/" + enc(m.userId), "Changed " + m.userId + "'s role.", { role: roleSelect.value }));
      return el("tr", { "data-user": m.userId },
        el("td", { text: m.userId }), el("td", {}, roleSelect), el("td", { text: m.status }),
        el("td", {}, m.userId === ME ? null : el("button", {
          type: "button", className: "danger", text: "Remove", "aria-label": "Remove " + m.userId + " from " + gid,
          onclick: () => { if (window.confirm("Remove " + m.userId + " from " + gid + "?")) act(membersError, "DELETE", base + "/users/" + enc(m.userId), "Removed " + m.userId + "."); },
        })));
    });
    const inviteUser = el("input", { id: "invite-user-" + gid, name: "user", required: true, autocomplete: "off" });
    const inviteRole = el("select", { id: "invite-role-" + gid, name: "role" },
      ["member", "admin"].concat(myRole === "owner" ? ["owner"] : []).map((r) => el("option", { value: r, text: r })));
    const invite = el("form", {
      className: "row-form", "aria-label": "Invite a member to " + gid,
      onsubmit: (event) => { event.preventDefault(); act(membersError, "POST", base + "/users/" + enc(inviteUser.value.trim()), "Invited " + inviteUser.value.trim() + ".", { role: inviteRole.value }); },
    }, el("label", { for: inviteUser.id, text: "Invite user" }), inviteUser, el("label", { for: inviteRole.id, text: "as" }), inviteRole, el("button", { type: "submit", text: "Invite" }));
    panel.append(el("h4", { text: "Members" }),
      el("div", { className: "table-wrap" }, el("table", { className: "members" },
        el("thead", {}, el("tr", {}, ["User", "Role", "Status", ""].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, memberRows))), invite, membersError);

    // keys
    const keysBody = el("tbody");
    for (const key of detail.keys) {
      const row = keyRow(key, { path: base + "/keys/" + enc(key.provider), group: gid });
      row.insertBefore(el("td", { text: key.allowedUsers === "all" ? "all members" : key.allowedUsers.join(", ") || "nobody" }), row.lastChild);
      keysBody.append(row);
    }
    panel.append(el("h4", { text: "Group keys" }), el("div", { className: "table-wrap" }, el("table", { className: "group-keys" },
      el("thead", {}, el("tr", {}, ["Provider", "Name", "Last 4", "Status", "Last validated", "Last used", "Usage", "Allowed", "Actions"].map((h) => el("th", { scope: "col", text: h })))),
      keysBody)));

    const active = detail.members.filter((m) => m.status === "active");
    const form = el("form", { className: "key-form", id: "group-key-form-" + gid, "aria-label": "Add or replace a key of " + gid, novalidate: true });
    let allBox; const boxes = [];
    keyForm(form, {
      idPrefix: "gk-" + gid,
      path: (provider) => base + "/keys/" + enc(provider),
      extraFields: () => {
        allBox = el("input", { type: "checkbox", id: "gk-" + gid + "-all", checked: true });
        const list = el("div", { className: "allowed", hidden: true });
        for (const m of active) {
          const box = el("input", { type: "checkbox", id: "gk-" + gid + "-allow-" + m.userId, value: m.userId });
          boxes.push(box);
          list.append(el("label", { for: box.id }, box, " " + m.userId));
        }
        allBox.addEventListener("change", () => { list.hidden = allBox.checked; });
        return el("fieldset", { className: "allowed-users" }, el("legend", { text: "Who may use it" }),
          el("label", { for: allBox.id }, allBox, " All members"), list);
      },
      extra: () => ({ allowedUsers: allBox.checked ? "all" : boxes.filter((b) => b.checked).map((b) => b.value) }),
      onSaved: refresh,
    });
    panel.append(el("h4", { text: "Add or replace a group key" }), form);

    // usage
    const usage = el("div", { className: "usage", id: "usage-" + gid }, el("p", { className: "muted", text: "Loading usage…" }));
    api("GET", base + "/usage").then((u) => {
      clear(usage).append(el("p", { text: u.totalCalls + " calls, " + u.totalTokens + " tokens on the group's keys." }),
        el("table", { className: "usage-table" },
          el("thead", {}, el("tr", {}, ["Member", "Calls", "Tokens"].map((h) => el("th", { scope: "col", text: h })))),
          el("tbody", {}, u.members.map((m) => el("tr", {}, el("td", { text: m.userId }), el("td", { text: String(m.calls) }), el("td", { text: String(m.totalTokens) }))))));
    }).catch((e) => { clear(usage).append(el("p", { className: "error", text: e.message })); });
    panel.append(el("h4", { text: "Usage per member" }), usage);
    return panel;
  }

  $("group-create-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("group-create-error");
    showError(error, null);
    try {
      await api("POST", "/api/byok/groups", { id: $("group-create-id").value.trim(), name: $("group-create-name").value.trim() });
      say("Created group " + $("group-create-id").value.trim() + ".");
      event.target.reset();
      await refresh();
    } catch (e) { showError(error, e); }
  });

  // ---- API tokens -----------------------------------------------------------------------------------
  function renderTokens() {
    const body = clear($("tokens-table").tBodies[0]);
    for (const token of state.tokens) {
      const error = el("p", { className: "error", role: "alert" });
      body.append(el("tr", { "data-token": token.tokenId },
        el("td", {}, el("code", { text: token.tokenId + "…" })), el("td", { text: token.name }),
        el("td", { text: when(token.createdAt) }), el("td", { text: when(token.lastUsedAt) }),
        el("td", { text: token.expiresAt ? when(token.expiresAt) : "never" }), el("td", {}, badge(token.status === "active" ? "valid" : "revoked")),
        el("td", {}, token.status === "active" ? el("button", {
          type: "button", className: "danger", text: "Revoke", "aria-label": "Revoke token " + token.name,
          onclick: () => { if (window.confirm("Revoke the token " + token.name + "? Scripts using it stop working.")) act(error, "DELETE", "/api/byok/tokens/" + enc(token.tokenId), "Revoked the token " + token.name + "."); },
        }) : token.status, error)));
    }
  }
  $("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("token-error");
    showError(error, null);
    const expiry = $("token-expiry").value;
    try {
      const created = await api("POST", "/api/byok/tokens", {
        name: $("token-name").value.trim(),
        ...(expiry ? { expiresAt: new Date(expiry + "T23:59:59").toISOString() } : {}),
      });
      $("token-value").textContent = created.token;
      $("token-copied").textContent = "";
      $("token-created").hidden = false;
      event.target.reset();
      await refresh();
    } catch (e) { showError(error, e); }
  });
  $("token-copy").addEventListener("click", async () => {
    const text = $("token-value").textContent;
    try { await navigator.clipboard.writeText(text); $("token-copied").textContent = "Copied."; }
    catch (_) {
      const range = document.createRange(); range.selectNodeContents($("token-value"));
      const selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
      $("token-copied").textContent = "Selected: press Ctrl+C to copy.";
    }
  });

  // ---- try it ---------------------------------------------------------------------------------------
  function renderTryProviders() {
    const select = $("try-provider");
    const chosen = select.value;
    const usable = new Set([
      ...state.overview.keys.filter((k) => k.status !== "invalid" && k.status !== "revoked").map((k) => k.provider),
      ...state.overview.groupKeys.filter((k) => k.usableByMe).map((k) => k.provider),
    ]);
    clear(select);
    const list = state.providers.filter((p) => p.status !== "discontinued");
    list.sort((a, b) => (usable.has(b.id) ? 1 : 0) - (usable.has(a.id) ? 1 : 0));
    for (const prov of list) select.append(el("option", { value: prov.id, text: prov.name + (usable.has(prov.id) ? "" : " (no key of yours)") }));
    if (chosen) select.value = chosen;
    fillModel();
  }
  function fillModel() {
    const prov = state.byId[$("try-provider").value];
    if (prov && (!$("try-model").value || $("try-model").dataset.auto === "1")) {
      $("try-model").value = prov.exampleModels[0] || "";
      $("try-model").dataset.auto = "1";
    }
  }
  $("try-provider").addEventListener("change", () => { $("try-model").dataset.auto = "1"; $("try-model").value = ""; fillModel(); });
  $("try-model").addEventListener("input", () => { $("try-model").dataset.auto = "0"; });
  $("try-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("try-error");
    showError(error, null);
    $("try-result").hidden = true;
    $("try-send").disabled = true;
    try {
      const answer = await api("POST", "/api/inference", {
        provider: $("try-provider").value, model: $("try-model").value.trim(), prompt: $("try-message").value,
      });
      $("try-answer").textContent = answer.text;
      $("try-source").textContent = answer.keySource + (answer.groupId ? " (" + answer.groupId + ")" : "");
      $("try-key").textContent = answer.keyId;
      $("try-tokens").textContent = answer.usage.totalTokens !== null ? " · " + answer.usage.totalTokens + " tokens" : "";
      $("try-result").hidden = false;
      refresh();
    } catch (e) { showError(error, e); } finally { $("try-send").disabled = false; }
  });

  // ---- activity (the audit log): yours, or a group's you own or administer --------------------------
  function activity() {
    const scope = $("activity-scope");
    const body = $("activity-table").tBodies[0];
    let next = null;
    async function load(older) {
      showError($("activity-error"), null);
      const query = new URLSearchParams({ limit: "25" });
      if (scope.value) query.set("group", scope.value);
      if (older && next) query.set("cursor", next);
      try {
        const page = await api("GET", "/api/byok/audit?" + query);
        if (!older) clear(body);
        for (const event of page.events) {
          const details = Object.entries(event.details || {}).map(([k, v]) => k + ": " + (typeof v === "object" ? JSON.stringify(v) : v));
          body.append(el("tr", { "data-action": event.action },
            el("td", { text: when(event.time) }), el("td", { text: event.actor || "system" }),
            el("td", {}, el("code", { text: event.action })),
            el("td", { text: event.targetType + " " + event.targetId + (event.groupId && !scope.value ? " (" + event.groupId + ")" : "") }),
            el("td", { className: "reason", text: details.join(", ") }), el("td", { text: event.ip || "" })));
        }
        next = page.next;
        $("activity-more").hidden = !next;
        $("activity-empty").hidden = body.rows.length > 0;
      } catch (e) { showError($("activity-error"), e); }
    }
    api("GET", "/api/byok/groups").then((answer) => {
      for (const group of answer.groups) {
        if (group.status === "active" && (group.role === "owner" || group.role === "admin")) {
          scope.append(el("option", { value: group.id, text: "Group " + group.name + " (" + group.id + ")" }));
        }
      }
    }).catch(() => {});
    $("activity-form").addEventListener("submit", (event) => { event.preventDefault(); load(false); });
    scope.addEventListener("change", () => load(false));
    $("activity-more").addEventListener("click", () => load(true));
    load(false);
  }

  // ---- start ----------------------------------------------------------------------------------------
  loadAll().then(() => {
    keyForm($("key-form"), { idPrefix: "key", path: (provider) => "/api/byok/keys/" + enc(provider), onSaved: refresh });
  });
  activity();
})();

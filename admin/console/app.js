// tenantproxy console: plain JavaScript over the /api/v1 endpoints. The
// access token from the login lives in sessionStorage; every number on the
// page is fetched from the API and refreshed every few seconds.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("tp_token") || "", claims: null, operator: false,
  history: { qps: [], p99: [] }, last: null, timer: null };

function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch (e) { return null; }
}

async function api(method, path, body) {
  const opts = { method, headers: { "Content-Type": "application/json" } };
  if (state.token) opts.headers.Authorization = "Bearer " + state.token;
  if (body !== undefined) opts.body = JSON.stringify(body);
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) {
    const msg = data && data.error ? data.error.message : resp.status + " " + resp.statusText;
    const err = new Error(msg);
    err.status = resp.status;
    throw err;
  }
  return data;
}

function text(v) { return v === null || v === undefined ? "" : String(v); }
function cell(tr, v, num) {
  const td = document.createElement("td");
  td.textContent = text(v);
  if (num) td.className = "num";
  tr.appendChild(td);
  return td;
}
function fill(tbody, rows, render) {
  tbody.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    render(tr, r);
    tbody.appendChild(tr);
  }
}
const fmt = (n) => (typeof n === "number" ? (Math.round(n * 100) / 100).toString() : text(n));

// spark draws a polyline of values into an SVG element by hand.
function spark(svg, values) {
  const w = 300, h = 80, pad = 12;
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  const max = Math.max(1e-9, ...values);
  const pts = values.map((v, i) => {
    const x = values.length < 2 ? w / 2 : pad + (i * (w - 2 * pad)) / (values.length - 1);
    const y = h - pad - (v / max) * (h - 2 * pad);
    return x.toFixed(1) + "," + y.toFixed(1);
  });
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.join(" "));
  svg.appendChild(line);
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", 2); label.setAttribute("y", 10);
  label.textContent = "max " + fmt(max) + (values.length ? "  now " + fmt(values[values.length - 1]) : "");
  svg.appendChild(label);
}

function show(view) {
  for (const v of ["login", "tenant", "fleet", "provision"]) $(v + "-view").hidden = v !== view;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.id === "nav-" + view);
}

async function route() {
  if (!state.token) { $("nav").hidden = true; show("login"); return; }
  state.claims = claimsOf(state.token);
  $("nav").hidden = false;
  $("who").textContent = state.claims ? state.claims.user + " @ " + state.claims.tenant + " (" + state.claims.role + ")" : "";
  const view = (location.hash || "#tenant").slice(1);
  show(["tenant", "fleet", "provision"].includes(view) ? view : "tenant");
  $("nav-fleet").hidden = $("nav-provision").hidden = !state.operator;
  await refresh();
}

async function refresh() {
  const view = (location.hash || "#tenant").slice(1);
  try {
    if (view === "fleet") await loadFleet();
    else if (view === "provision") await checkOperator("provision-error");
    else await loadTenant();
  } catch (e) {
    if (e.status === 401) { logout(); }
  }
}

async function checkOperator(errId) {
  try {
    await api("GET", "/api/v1/admin/tenants");
    state.operator = true;
    $(errId).textContent = "";
    $("provision-form").hidden = false;
    return true;
  } catch (e) {
    state.operator = false;
    $(errId).textContent = e.status === 403 ? "Forbidden: this page needs an operator. " + e.message : e.message;
    $("provision-form").hidden = view() === "provision";
    return false;
  }
}
const view = () => (location.hash || "#tenant").slice(1);

async function loadTenant() {
  const [acc, health, stm] = await Promise.all([
    api("GET", "/api/v1/tenant/accessible"),
    api("GET", "/api/v1/tenant/health").catch((e) => ({ status: "unhealthy: " + e.message })),
    api("GET", "/api/v1/tenant/statements?sort=" + encodeURIComponent($("stmt-sort").value) + "&limit=20"),
  ]);
  const now = Date.now(), tot = stm.totals || { calls: 0, errors: 0, p99_ms: 0 };
  let qps = 0;
  if (state.last && now > state.last.at) qps = Math.max(0, (tot.calls - state.last.calls) * 1000 / (now - state.last.at));
  state.last = { at: now, calls: tot.calls };
  state.history.qps = state.history.qps.concat([qps]).slice(-60);
  state.history.p99 = state.history.p99.concat([tot.p99_ms]).slice(-60);
  spark($("chart-qps"), state.history.qps);
  spark($("chart-p99"), state.history.p99);
  const current = state.claims ? state.claims.tenant : "";
  fill($("tenant-list").tBodies[0], acc.tenants || [], (tr, t) => {
    tr.dataset.tenant = t.tenant_id;
    cell(tr, t.tenant_id + (t.current ? " (current)" : ""));
    cell(tr, t.engine); cell(tr, t.role);
    if (t.tenant_id === current) {
      cell(tr, health.status);
      cell(tr, health.backend ? health.backend.breaker : "");
      cell(tr, health.pool ? health.pool.InUse + " / " + health.pool.Size : "", true);
      cell(tr, fmt(qps), true); cell(tr, fmt(tot.p99_ms), true); cell(tr, tot.errors, true);
    } else {
      for (let i = 0; i < 6; i++) cell(tr, "");
    }
  });
  fill($("statements").tBodies[0], stm.statements || [], (tr, r) => {
    const td = cell(tr, "");
    const code = document.createElement("code");
    code.textContent = r.example;
    td.appendChild(code);
    cell(tr, r.calls, true); cell(tr, r.rows, true); cell(tr, fmt(r.total_ms), true);
    cell(tr, fmt(r.mean_ms), true); cell(tr, fmt(r.p99_ms), true); cell(tr, r.errors, true);
    cell(tr, r.rewritten ? "yes" : "");
  });
  if (!$("schema").dataset.loaded) {
    const sc = await api("GET", "/api/v1/tenant/schema").catch(() => null);
    if (sc) {
      $("schema").dataset.loaded = "1";
      $("schema").replaceChildren();
      for (const t of sc.tables || []) {
        const p = document.createElement("p");
        const b = document.createElement("b");
        b.textContent = t.name;
        p.appendChild(b);
        p.appendChild(document.createTextNode(" (" + (t.columns || []).map((c) => c.name + " " + c.type).join(", ") + ")"));
        $("schema").appendChild(p);
      }
    }
  }
  if (!state.operatorKnown) { state.operatorKnown = true; await checkOperator("fleet-error"); $("nav-fleet").hidden = $("nav-provision").hidden = !state.operator; }
}

async function loadFleet() {
  let data;
  try {
    data = await api("GET", "/api/v1/admin/tenants");
  } catch (e) {
    $("fleet-error").textContent = e.status === 403 ? "Forbidden: the fleet needs an operator. " + e.message : e.message;
    $("fleet").tBodies[0].replaceChildren();
    return;
  }
  $("fleet-error").textContent = "";
  state.fleetLast = state.fleetLast || {};
  const now = Date.now();
  fill($("fleet").tBodies[0], data.tenants || [], (tr, t) => {
    tr.dataset.tenant = t.id;
    const st = t.statements || { calls: 0, errors: 0, p99_ms: 0 };
    const prev = state.fleetLast[t.id];
    const qps = prev && now > prev.at ? Math.max(0, (st.calls - prev.calls) * 1000 / (now - prev.at)) : 0;
    state.fleetLast[t.id] = { at: now, calls: st.calls };
    cell(tr, t.id); cell(tr, t.engine); cell(tr, t.database);
    cell(tr, t.health ? t.health.state : "unused");
    cell(tr, t.health ? t.health.breaker : "");
    cell(tr, t.pool ? t.pool.InUse + " / " + t.pool.Size : "", true);
    cell(tr, t.clients, true); cell(tr, fmt(qps), true); cell(tr, fmt(st.p99_ms), true); cell(tr, st.errors, true);
    cell(tr, t.provisioned ? "yes" : "");
  });
}

function logout() {
  state.token = ""; state.operator = false; state.operatorKnown = false;
  sessionStorage.removeItem("tp_token");
  location.hash = "";
  route();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  const body = { username: $("login-user").value, password: $("login-password").value };
  if ($("login-tenant").value) body.tenant_id = $("login-tenant").value;
  try {
    const t = await api("POST", "/api/v1/auth/login", body);
    state.token = t.access_token;
    sessionStorage.setItem("tp_token", state.token);
    location.hash = "#tenant";
    await route();
  } catch (e) {
    $("login-error").textContent = e.message;
  }
});

$("ask-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("ask-error").textContent = ""; $("ask-sql").textContent = "";
  const table = $("ask-rows");
  table.tHead.replaceChildren(); table.tBodies[0].replaceChildren();
  try {
    const r = await api("POST", "/api/v1/tenant/query", { query: $("ask-question").value, max_results: 200 });
    $("ask-sql").textContent = r.generated_sql;
    const tr = document.createElement("tr");
    for (const c of r.columns || []) { const th = document.createElement("th"); th.textContent = c; tr.appendChild(th); }
    table.tHead.appendChild(tr);
    fill(table.tBodies[0], r.rows || [], (tr, row) => { for (const v of row) cell(tr, v); });
  } catch (e) {
    $("ask-error").textContent = e.message;
  }
});

$("explain-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = $("explain-result");
  out.replaceChildren();
  try {
    const x = await api("POST", "/api/v1/tenant/policy/explain", { sql: $("explain-sql").value });
    const head = document.createElement("p");
    head.id = "explain-verdict";
    head.className = x.allowed ? "ok" : "bad";
    head.textContent = x.allowed ? "allowed (" + x.class + ")" : "refused: " + x.error.code + " " + x.error.message;
    out.appendChild(head);
    if (x.allowed) { const pre = document.createElement("pre"); pre.id = "explain-sql-out"; pre.textContent = x.sql; out.appendChild(pre); }
    const ul = document.createElement("ul");
    ul.className = "reasons";
    for (const r of x.reasons || []) { const li = document.createElement("li"); li.textContent = r; ul.appendChild(li); }
    out.appendChild(ul);
  } catch (e) {
    const p = document.createElement("p"); p.className = "error"; p.textContent = e.message; out.appendChild(p);
  }
});

$("provision-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("provision-error").textContent = ""; $("provision-result").textContent = "";
  try {
    const r = await api("POST", "/api/v1/admin/tenants", {
      id: $("prov-id").value, engine: $("prov-engine").value, template: $("prov-template").value,
      users: [{ name: $("prov-user").value, password: $("prov-password").value, role: $("prov-role").value }],
    });
    $("provision-result").textContent = "created tenant " + r.id + " (database " + r.database + ", " + fmt(r.clone_ms) + " ms)";
  } catch (e) {
    $("provision-error").textContent = e.message;
  }
});

$("stmt-sort").addEventListener("change", refresh);
$("logout").addEventListener("click", logout);
window.addEventListener("hashchange", route);
state.timer = setInterval(() => { if (state.token) refresh(); }, 2000);
route();

// mockgun's web page. Plain JavaScript, no build step: it reads the inspection API
// (/mockgun/messages, /mockgun/handshakes, /mockgun/stream) like any other client.
// Message data is only ever put in the page as text (textContent), never as markup;
// HTML bodies are shown by mockgun's sanitized, sandboxed preview in an iframe.
"use strict";

const MESSAGE_LIMIT = 200;
const HANDSHAKE_LIMIT = 500;
const SERIES_COLOURS = {
  "TLSv1.3": "#1a7f37", "TLSv1.2": "#0969da", refused: "#cf222e", failed: "#8c6c00",
};
const OTHER_COLOURS = ["#8250df", "#57606a", "#bc4c00"];

const state = {
  view: "messages", messageId: null, q: "", domain: "", outcome: "", health: false,
};
const $ = (id) => document.getElementById(id);

// el("td", {class: "x"}, "text", child) -> an element; strings become text nodes.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    const error = new Error(`${path}: HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

function when(ts) {
  const date = new Date(ts);
  return Number.isNaN(date.getTime()) ? String(ts || "") : date.toLocaleTimeString();
}

function timeCell(ts) {
  return el("td", {}, el("time", { datetime: ts, title: ts }, when(ts)));
}

function badge(text, kind) {
  return el("span", { class: `badge ${kind}` }, text);
}

function outcomeBadge(outcome) {
  const kind = outcome === "ok" ? "good" : outcome === "rejected" || outcome === "insecure" ? "bad" : "warn";
  return badge(outcome, kind);
}

function replaceRows(tbody, rows, columns, empty) {
  tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: columns, class: "muted" }, empty))]));
}

// ---- messages -----------------------------------------------------------------

function address(box) {
  return box.name ? `${box.name} <${box.address}>` : box.address;
}

async function loadMessages() {
  const query = new URLSearchParams({ order: "newest", limit: MESSAGE_LIMIT });
  if (state.q) query.set("q", state.q);
  if (state.domain) query.set("domain", state.domain);
  const data = await api(`/mockgun/messages?${query}`);
  const rows = data.items.map((m) => {
    const link = el("a", { href: `#/messages/${encodeURIComponent(m.id.replace(/^<|>$/g, ""))}` },
      m.subject || "(no subject)");
    return el("tr", { "data-id": m.id },
      timeCell(m.received_at),
      el("td", {}, link),
      el("td", {}, m.from || ""),
      el("td", {}, m.to.map(address).join(", ")),
      el("td", {}, m.tags.map((t) => badge(t, "tag"))),
      el("td", {}, m.domain),
      el("td", {}, m.tls.version || "—"));
  });
  replaceRows($("messages").tBodies[0], rows, 7, state.q || state.domain ? "No message matches." : "No messages yet.");
  const shown = data.items.length < data.total ? `the newest ${data.items.length} of ` : "";
  $("messages-summary").textContent = `Showing ${shown}${data.total} message${data.total === 1 ? "" : "s"}` +
    (data.evicted ? ` (${data.evicted} older evicted)` : "") + ".";
  if (!state.q && !state.domain) $("count-messages").textContent = data.total;
  // The domains stored now (a cleared store has none); a chosen one stays choosable.
  const domains = new Set(data.domains);
  if (state.domain) domains.add(state.domain);
  const select = $("domain");
  const shownDomains = [...select.options].slice(1).map((o) => o.value);
  const wanted = [...domains].sort();
  if (wanted.join("\n") !== shownDomains.join("\n")) {
    select.replaceChildren(el("option", { value: "" }, "All domains"),
      ...wanted.map((d) => el("option", { value: d }, d)));
    select.value = state.domain;
  }
}

function metaRow(term, value) {
  return [el("dt", {}, term), el("dd", {}, value)];
}

async function loadMessage(id) {
  let m;
  try {
    m = await api(`/mockgun/messages/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error.status !== 404 || state.messageId !== id) throw error;
    // Cleared (DELETE /mockgun/messages, a new test) or evicted while it was open.
    $("h-message").textContent = "This message is no longer stored";
    for (const section of document.querySelectorAll("#view-message > section")) section.hidden = true;
    $("message-meta").replaceChildren();
    return;
  }
  if (state.messageId !== id) return; // the reader moved on meanwhile
  for (const section of document.querySelectorAll("#view-message > section")) section.hidden = false;
  $("h-message").textContent = m.subject || "(no subject)";
  const tls = m.tls.version ? `${m.tls.version}, ${m.tls.cipher} (connection ${m.tls.conn_id})` : "unknown";
  $("message-meta").replaceChildren(
    ...metaRow("From", m.from || ""),
    ...metaRow("To", m.to.map(address).join(", ")),
    ...(m.cc.length ? metaRow("Cc", m.cc.map(address).join(", ")) : []),
    ...(m.bcc.length ? metaRow("Bcc", m.bcc.map(address).join(", ")) : []),
    ...metaRow("Received", `${new Date(m.received_at).toLocaleString()} (${m.received_at})`),
    ...metaRow("Domain", m.domain),
    ...metaRow("Message-Id", m.id),
    ...metaRow("Tags", m.tags.length ? m.tags.map((t) => badge(t, "tag")) : "none"),
    ...metaRow("Arrived over", tls),
    ...(m.test_mode ? metaRow("Test mode", "yes (not delivered)") : []),
  );
  const hasHtml = m.html !== null || m.endpoint === "messages.mime";
  $("message-html-section").hidden = !hasHtml;
  const frame = $("message-html");
  // A batch, or built-in variables: each recipient's rendered copy, chosen here.
  const copies = (m.copies || []).map((c) => c.recipient);
  const picker = $("message-recipient");
  $("message-recipient-row").hidden = copies.length === 0;
  if (picker.dataset.message !== id) {
    picker.dataset.message = id;
    picker.replaceChildren(...copies.map((r) => el("option", { value: r }, r)));
  }
  const preview = () => {
    const base = `/mockgun/messages/${encodeURIComponent(id)}/html`;
    const src = copies.length ? `${base}?recipient=${encodeURIComponent(picker.value)}` : base;
    if (frame.getAttribute("src") !== src) frame.setAttribute("src", src);
  };
  picker.onchange = preview;
  if (hasHtml) preview();
  if (!hasHtml) frame.removeAttribute("src");
  $("message-text-section").hidden = m.text === null;
  $("message-text").textContent = m.text || "";
  $("message-attachments").replaceChildren(...(m.attachments.length ? m.attachments.map((a) =>
    el("li", {}, el("a", { href: a.download, download: a.filename || "attachment" }, a.filename || "(no name)"),
      ` ${a.content_type}, ${a.size} bytes${a.field === "inline" ? ", inline" : ""}`)) : [el("li", { class: "muted" }, "None")]));
  replaceRows($("message-events").tBodies[0], m.events.map((e) => el("tr", {},
    el("td", {}, el("time", { title: String(e.timestamp) }, new Date(e.timestamp * 1000).toLocaleTimeString())),
    el("td", {}, badge(e.event, e.event === "failed" ? "bad" : e.event === "delivered" || e.event === "accepted" ? "good" : "tag")),
    el("td", {}, e.recipient || ""),
    el("td", {}, e["delivery-status"] ? `${e["delivery-status"].code || ""} ${e["delivery-status"].message || ""}`.trim() : e.severity || e.url || ""),
  )), 4, "No events.");
  $("message-headers").tBodies[0].replaceChildren(...(m.headers || []).map(([name, value]) =>
    el("tr", {}, el("th", { scope: "row" }, name), el("td", {}, value))));
  $("message-eml").setAttribute("href", `/mockgun/messages/${encodeURIComponent(id)}.eml`);
  $("message-raw").textContent = m.mime !== undefined ? m.mime : "Too large to show here: download the .eml instead.";
}

// ---- handshakes ---------------------------------------------------------------

async function loadHandshakes() {
  const query = new URLSearchParams({ order: "newest", limit: HANDSHAKE_LIMIT });
  if (state.outcome) query.set("outcome", state.outcome);
  if (!state.health) query.set("healthchecks", "0");
  const [list, report] = await Promise.all([api(`/mockgun/handshakes?${query}`), api("/mockgun/handshakes/report")]);
  replaceRows($("handshakes").tBodies[0], list.items.map((h) => el("tr", { "data-outcome": h.outcome },
    timeCell(h.ts),
    el("td", {}, h.peer || ""),
    el("td", {}, outcomeBadge(h.outcome), h.healthcheck ? " health check" : null),
    el("td", { class: "nowrap" }, h.tls_version || (h.client_max_version ? `offered ≤ ${h.client_max_version}` : "")),
    el("td", {}, h.cipher || ""),
    el("td", {}, h.sni || h.client_sni || ""),
    el("td", { class: "mono" }, h.ja4 || ""),
    el("td", {}, h.error || ""),
  )), 8, state.outcome ? `No ${state.outcome} handshakes.` : "No handshakes yet.");
  const outcomes = Object.entries(report.outcomes).map(([k, v]) => `${v} ${k}`).join(", ");
  $("handshakes-summary").textContent = `${report.attempts} attempt${report.attempts === 1 ? "" : "s"}` +
    (outcomes ? `: ${outcomes}` : "") + (report.healthchecks_left_out ? ` (and ${report.healthchecks_left_out} health checks)` : "") + ".";
  $("count-handshakes").textContent = report.attempts;
  replaceRows($("clients").tBodies[0], report.clients.map((c) => el("tr", { class: c.legacy ? "legacy" : null },
    el("td", {}, c.client, c.legacy ? [" ", badge("legacy TLS", "bad")] : null),
    el("td", { class: "mono" }, c.ja4),
    el("td", {}, c.sni || ""),
    el("td", {}, c.offered.join(", ")),
    el("td", {}, c.got.join(", ") || "—"),
    el("td", {}, Object.entries(c.outcomes).map(([k, v]) => `${k} ${v}`).join(", ")),
    el("td", {}, c.count),
    timeCell(c.last),
  )), 8, "No client has sent a ClientHello yet.");
  drawChart(report.timeline);
}

function colour(series, index) {
  return SERIES_COLOURS[series] || OTHER_COLOURS[index % OTHER_COLOURS.length];
}

function drawChart(timeline) {
  const width = 800, height = 180, left = 36, bottom = 22, top = 8;
  const buckets = timeline.buckets;
  const totals = buckets.map((b) => Object.values(b.counts).reduce((a, n) => a + n, 0));
  const max = Math.max(1, ...totals);
  const plot = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart" });
  const sum = (name) => buckets.reduce((a, b) => a + (b.counts[name] || 0), 0);
  plot.setAttribute("aria-label", timeline.series.length
    ? `Handshakes per ${timeline.bucket_seconds} s: ` + timeline.series.map((s) => `${sum(s)} ${s}`).join(", ")
    : "No handshakes yet");
  const barWidth = (width - left) / Math.max(buckets.length, 1);
  const scale = (height - bottom - top) / max;
  plot.append(svg("line", { x1: left, x2: width, y1: height - bottom, y2: height - bottom, stroke: "#57606a" }));
  plot.append(svg("text", { x: left - 6, y: top + 10, "text-anchor": "end", class: "axis" }, String(max)));
  plot.append(svg("text", { x: left - 6, y: height - bottom, "text-anchor": "end", class: "axis" }, "0"));
  buckets.forEach((bucket, i) => {
    let y = height - bottom;
    timeline.series.forEach((name, s) => {
      const count = bucket.counts[name] || 0;
      if (!count) return;
      const h = Math.max(count * scale, 2); // one refusal among thousands must still show
      y -= h;
      plot.append(svg("rect", {
        x: left + i * barWidth + 1, y, width: Math.max(barWidth - 2, 1), height: h,
        fill: colour(name, s), "data-series": name, "data-count": count,
      }, svg("title", {}, `${when(bucket.start)}: ${count} ${name}`)));
    });
  });
  if (buckets.length) {
    plot.append(svg("text", { x: left, y: height - 6, class: "axis" }, when(buckets[0].start)));
    plot.append(svg("text", { x: width, y: height - 6, "text-anchor": "end", class: "axis" },
      when(buckets[buckets.length - 1].start)));
  }
  $("chart-plot").replaceChildren(plot);
  $("chart-legend").replaceChildren(...timeline.series.map((name, s) => el("li", {},
    el("span", { class: `swatch swatch-${s}`, "aria-hidden": "true", "data-colour": colour(name, s) }), `${name}: ${sum(name)}`)));
  for (const swatch of $("chart-legend").querySelectorAll(".swatch")) swatch.style.background = swatch.dataset.colour;
}

// ---- views, refreshing and live updates ---------------------------------------

const timers = {}, running = {}, again = {};
const stale = new Set();
// Nothing is fetched before the live stream is open (or has failed to open for a while):
// whatever happens after that first fetch then reaches the page as an update.
let started = false;

function refresh(what, delay = 150) {
  if (!started) return;
  // A hidden tab fetches nothing: it catches up when it is shown again.
  if (document.hidden) { stale.add(what); return; }
  // An update that arrives while a fetch is under way may not be in its answer: fetch again.
  if (running[what]) { again[what] = true; return; }
  // Coalesce bursts (a load test makes hundreds of updates a second) into one fetch.
  if (timers[what]) return;
  timers[what] = setTimeout(() => load(what), delay);
}

async function load(what) {
  timers[what] = null;
  running[what] = true;
  try {
    if (what === "messages") await loadMessages();
    if (what === "message" && state.messageId) await loadMessage(state.messageId);
    if (what === "handshakes") await loadHandshakes();
    $("notice").hidden = true;
  } catch (error) {
    $("notice").textContent = `Could not load the ${what}: ${error.message}`;
    $("notice").hidden = false;
  } finally {
    running[what] = false;
    if (again[what]) { again[what] = false; refresh(what); }
  }
}

function catchUp() {
  started = true;
  refresh("messages", 0);
  refresh("handshakes", 0);
  if (state.messageId) refresh("message", 0);
}

function show(view) {
  for (const name of ["messages", "message", "handshakes"]) $(`view-${name}`).hidden = name !== view;
  const onHandshakes = view === "handshakes";
  for (const [link, current] of [[$("nav-messages"), !onHandshakes], [$("nav-handshakes"), onHandshakes]]) {
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function route() {
  const hash = decodeURIComponent(location.hash.slice(1));
  const previous = state.view;
  if (hash.startsWith("/messages/")) {
    state.view = "message";
    state.messageId = hash.slice("/messages/".length);
    show("message");
    refresh("message", 0);
    $("h-message").focus();
  } else if (hash === "/handshakes") {
    state.view = "handshakes";
    show("handshakes");
    refresh("handshakes", 0);
  } else {
    state.view = "messages";
    state.messageId = null;
    show("messages");
    refresh("messages", 0);
    if (previous === "message") $("q").focus();
  }
}

function setStatus(text, kind) {
  const live = $("live");
  live.textContent = text;
  live.className = `live ${kind}`;
}

function connect() {
  const stream = new EventSource("/mockgun/stream");
  stream.addEventListener("open", () => {
    setStatus("Live", "good");
    // The first load, or after a reconnect whatever happened while the stream was down.
    catchUp();
  });
  stream.addEventListener("error", () => setStatus("Reconnecting…", "warn"));
  stream.addEventListener("message", () => refresh("messages"));
  stream.addEventListener("cleared", () => {
    refresh("messages");
    if (state.messageId) refresh("message");
  });
  stream.addEventListener("event", (e) => {
    const data = JSON.parse(e.data);
    if (state.messageId && data.message_id === state.messageId) refresh("message");
  });
  stream.addEventListener("handshake", () => refresh("handshakes", 400));
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

document.addEventListener("DOMContentLoaded", () => {
  $("q").addEventListener("input", debounce(() => { state.q = $("q").value.trim(); refresh("messages", 0); }, 200));
  $("domain").addEventListener("change", () => { state.domain = $("domain").value; refresh("messages", 0); });
  $("outcome").addEventListener("change", () => { state.outcome = $("outcome").value; refresh("handshakes", 0); });
  $("show-health").addEventListener("change", () => { state.health = $("show-health").checked; refresh("handshakes", 0); });
  $("delete-all").addEventListener("click", async () => {
    // Asked first: this is everything mockgun holds for every test that shares it.
    if (!window.confirm("Delete every stored message and its events?")) return;
    const response = await fetch("/mockgun/messages", { method: "DELETE" });
    if (!response.ok) {
      $("notice").textContent = `Could not delete the messages: HTTP ${response.status}`;
      $("notice").hidden = false;
    } // the list empties through the live "cleared" update
  });
  window.addEventListener("hashchange", route);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) return;
    for (const what of stale) refresh(what, 0);
    stale.clear();
  });
  route();
  connect();
  // Behind a proxy that holds server-sent events back, show the data anyway.
  setTimeout(() => { if (!started) catchUp(); }, 3000);
});

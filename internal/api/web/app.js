// The Messenger web inbox. Every piece of message text goes into the page
// through textContent, never as HTML.
"use strict";

const state = { messages: new Map(), selected: 0, lastID: 0, source: null };

function $(id) { return document.getElementById(id); }

// visible is the daemon's display rule (popup.Printable), so that the page
// shows what the terminal and the desktop show: newline and tab stay; other
// C0 controls and DEL become ^X (^?); C1 controls (U+009B is CSI to many
// terminals), the line and paragraph separators and every format character
// (Unicode category Cf: bidi overrides and isolates, zero-width characters,
// U+061C, the BOM) become <U+XXXX>, legible and inert — a bidi override
// would otherwise reorder the text around it, here as anywhere.
function visible(s) {
  return String(s).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]|\p{Cf}/gu, (c) => {
    const n = c.codePointAt(0);
    if (n < 0x20 || n === 0x7f) return "^" + String.fromCharCode(n ^ 0x40);
    return "<U+" + n.toString(16).toUpperCase().padStart(4, "0") + ">";
  });
}

// oneLine is visible for what must stay on one line (a header, a name, a
// title), as popup.OneLine: every line break (CR LF, CR, LF, NEL, U+2028,
// U+2029) and tab becomes a space, so that no name adds a line.
function oneLine(s) {
  return visible(String(s).replace(/\r\n|[\r\n\t\u0085\u2028\u2029]/g, " "));
}

// el makes an element; its text, if any, is shown on one line.
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = oneLine(text);
  return e;
}

// api calls the daemon's API on this same origin. Changes carry the header
// the daemon demands of them (a cross-site form cannot send it).
async function api(method, path, body) {
  const opts = { method, headers: { "X-Messenger-Request": "1" } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  // The session ended (signed out elsewhere, expired, the daemon
  // restarted): the sign-in page says how to get a new one.
  if (r.status === 401) { location.href = "/signin"; throw new Error("signed out"); }
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) throw new Error((data && data.error) || r.statusText);
  return data;
}

function when(t) {
  const d = new Date(t);
  return isNaN(d) ? "" : d.toLocaleString();
}

// verifiedHost is the host the hub proved sent m, or "" when it came any
// other way: only the hub proves a sender, so the field counts on hub
// messages alone.
function verifiedHost(m) {
  return m.transport === "hub" && m.verified ? String(m.verified) : "";
}

// senderName is m.from as headers show it: quoted when it spells the
// verified mark, so that no sender can pass for verified.
function senderName(from) {
  const low = String(from).toLowerCase();
  return low.includes("(verified") || low.includes("(local user") ? JSON.stringify(String(from)) : from;
}

// localUser is the local account that sent m through the daemon, or ""
// for a message from the network: the daemon sets it from the caller's
// credentials.
function localUser(m) {
  return m.transport === "api" && m.local_user ? String(m.local_user) : "";
}

// verifiedBadge marks a sender the hub verified: "verified HOST".
function verifiedBadge(host) {
  const b = el("span", "badge verified", "verified " + host);
  b.title = "the hub proved host " + host + " sent this message";
  return b;
}

// header is the pop-up's header line, on one line and visible, as the
// other sinks print it: a message through the hub names its verified host
// after the sender; an alert says so, with its source, severity and status.
function header(m) {
  const a = m.alert;
  if (!a) {
    const host = verifiedHost(m);
    const user = localUser(m);
    return oneLine("Message from " + senderName(m.from) + (host ? " (verified " + host + ")" : "") +
      (user ? " (local user " + user + ")" : "") + " to " + m.to + " on " + when(m.time));
  }
  const marks = [];
  if (a.severity) marks.push(a.severity);
  if (a.status) marks.push(a.status === "resolved" ? "RESOLVED" : a.status);
  return oneLine("Alert from " + a.source + (marks.length ? " (" + marks.join(", ") + ")" : "") +
    " to " + m.to + " on " + when(m.time));
}

const severities = ["info", "warning", "critical"];

// badges are an alert's marks: its severity, coloured by a class chosen
// from the known severities only, and "resolved" once it is.
function badges(a) {
  const sev = severities.includes(a.severity) ? a.severity : "unknown";
  const out = [el("span", "badge sev-" + sev, a.severity || "alert")];
  if (a.status === "resolved") out.push(el("span", "badge resolved", "resolved"));
  return out;
}

// matches reports whether m contains the search text q.
function matches(m, q) {
  const a = m.alert || {};
  return [m.from, m.to, m.text, a.source, a.title, verifiedHost(m)].join("\n").toLowerCase().includes(q);
}

// rows keeps each listed message's element, so that a re-render (a new
// message, a read mark) changes only the rows whose content changed and
// never swaps out a row under the reader's pointer.
const rows = new Map();

function rowFor(m) {
  const a = m.alert;
  const host = verifiedHost(m);
  const sig = JSON.stringify([m.state, m.id === state.selected, m.from, m.to, m.text, m.time, a || null, host]);
  const old = rows.get(m.id);
  if (old && old.sig === sig) return old.li;
  const li = old ? old.li : el("li");
  li.className = m.state === "unread" ? "unread" : "read";
  if (m.id === state.selected) li.classList.add("selected");
  li.dataset.id = String(m.id);
  const who = el("div", "who");
  if (a) {
    li.classList.add("alert", "sev-" + (severities.includes(a.severity) ? a.severity : "unknown"));
    if (a.status === "resolved") li.classList.add("resolved");
    who.append(...badges(a), el("span", "", " " + a.source + " \u2192 " + m.to));
    li.replaceChildren(el("span", "when", when(m.time)), who,
      el("div", "snippet", ((a.title ? a.title + " \u2014 " : "") + m.text).slice(0, 200)));
  } else {
    if (host) {
      li.classList.add("verified");
      who.append(verifiedBadge(host));
    }
    who.append(el("span", "", senderName(m.from) + " \u2192 " + m.to));
    li.replaceChildren(el("span", "when", when(m.time)), who, el("div", "snippet", m.text.slice(0, 200)));
  }
  if (!old) li.addEventListener("click", () => openMessage(m.id));
  rows.set(m.id, { li, sig });
  return li;
}

function renderList() {
  const ul = $("messages");
  const q = $("search").value.trim().toLowerCase();
  const onlyUnread = $("only-unread").checked;
  const items = [...state.messages.values()].sort((a, b) => b.id - a.id);
  for (const id of rows.keys()) if (!state.messages.has(id)) rows.delete(id);
  const shown = [];
  let unread = 0;
  for (const m of items) {
    if (m.state === "unread") unread++;
    if (onlyUnread && m.state !== "unread") continue;
    if (q && !matches(m, q)) continue;
    shown.push(rowFor(m));
  }
  // Rows already in place stay where they are; only the others move.
  let at = ul.firstChild;
  for (const li of shown) {
    if (at === li) { at = at.nextSibling; continue; }
    ul.insertBefore(li, at);
  }
  while (at) { const next = at.nextSibling; at.remove(); at = next; }
  $("unread-count").textContent = unread ? "(" + unread + ")" : "";
}

function renderReader() {
  const m = state.messages.get(state.selected);
  $("reader").hidden = !m;
  if (!m) return;
  $("reader-header").textContent = header(m);
  const a = m.alert;
  $("reader-title").hidden = !(a && a.title);
  $("reader-title").textContent = a && a.title ? oneLine(a.title) : "";
  for (const e of document.querySelectorAll("#reader .alert-only")) e.hidden = !a;
  $("reader-alert").replaceChildren(...(a ? [...badges(a), el("span", "", " from " + a.source + (a.status ? ", " + a.status : ""))] : []));
  const host = verifiedHost(m);
  for (const e of document.querySelectorAll("#reader .verified-only")) e.hidden = !host;
  $("reader-verified").replaceChildren(...(host ? [verifiedBadge(host)] : []));
  $("reader-transport").textContent = oneLine(m.transport);
  $("reader-source").textContent = oneLine(m.source || "");
  $("reader-text").textContent = visible(m.text);
}

async function openMessage(id) {
  state.selected = id;
  renderReader();
  renderList();
  const m = state.messages.get(id);
  if (m && m.state === "unread") {
    try {
      const updated = await api("POST", "/v1/messages/" + id + "/read");
      state.messages.set(id, updated);
    } catch (e) { console.error(e); }
    renderList();
  }
}

async function deleteSelected() {
  const id = state.selected;
  if (!id) return;
  await api("DELETE", "/v1/messages/" + id);
  state.messages.delete(id);
  state.selected = 0;
  renderReader();
  renderList();
}

// receive takes in a message the event stream delivered.
function receive(m) {
  state.messages.set(m.id, m);
  state.lastID = Math.max(state.lastID, m.id);
  renderList();
}

function connect() {
  // The first page load reads the inbox; the stream then replays what came
  // after it and follows. EventSource resumes with Last-Event-ID itself.
  const src = new EventSource("/v1/events?after=" + state.lastID);
  state.source = src;
  src.addEventListener("open", () => { $("live").className = "on"; $("live").textContent = "live"; });
  src.addEventListener("error", () => { $("live").className = "off"; $("live").textContent = "reconnecting"; });
  src.addEventListener("message", (ev) => receive(JSON.parse(ev.data)));
  src.addEventListener("read", (ev) => {
    const { id } = JSON.parse(ev.data);
    const m = state.messages.get(id);
    if (m) { m.state = "read"; renderList(); }
  });
  src.addEventListener("delete", (ev) => {
    const { id } = JSON.parse(ev.data);
    state.messages.delete(id);
    if (state.selected === id) { state.selected = 0; renderReader(); }
    renderList();
  });
  // The page fell behind the stream: the messages it missed follow, but
  // read and delete changes in between are lost, so read the inbox again.
  src.addEventListener("lagged", () => reloadInbox().catch(() => {}));
}

// reloadInbox replaces the inbox with the daemon's, keeping messages the
// stream delivered after the list was read.
async function reloadInbox() {
  const msgs = await api("GET", "/v1/messages");
  const fresh = new Map();
  let top = 0;
  for (const m of msgs) { fresh.set(m.id, m); top = Math.max(top, m.id); }
  for (const [id, m] of state.messages) if (id > top) fresh.set(id, m);
  state.messages = fresh;
  if (state.selected && !fresh.has(state.selected)) { state.selected = 0; renderReader(); }
  renderList();
}

async function loadInbox() {
  const msgs = await api("GET", "/v1/messages");
  for (const m of msgs) {
    state.messages.set(m.id, m);
    state.lastID = Math.max(state.lastID, m.id);
  }
  renderList();
}

async function loadNames() {
  const names = await api("GET", "/v1/names");
  const tb = $("names");
  tb.replaceChildren();
  for (const n of names) {
    const tr = el("tr");
    tr.append(el("td", "", n.name), el("td", "", "<" + n.suffix + ">" + (n.group ? " group" : "")),
      el("td", "", n.source), el("td", "", n.state));
    const td = el("td");
    if (n.source === "alias") {
      const b = el("button", "danger", "Delete");
      b.type = "button";
      b.addEventListener("click", async () => {
        try { await api("DELETE", "/v1/names/" + encodeURIComponent(n.name)); } catch (e) { $("name-result").textContent = e.message; }
        loadNames();
      });
      td.append(b);
    }
    tr.append(td);
    tb.append(tr);
  }
}

async function loadSpam() {
  let list;
  try { list = await api("GET", "/v1/spam"); } catch (e) { $("spam-result").textContent = e.message; return; }
  const tb = $("spam");
  tb.replaceChildren();
  for (const m of list || []) {
    const tr = el("tr");
    tr.append(el("td", "", String(m.id)), el("td", "", m.from), el("td", "", m.to), el("td", "", m.rule || ""),
      el("td", "", m.text.slice(0, 120)));
    const td = el("td");
    const explain = el("button", "", "Explain");
    explain.type = "button";
    explain.addEventListener("click", () => {
      $("spam-explain").hidden = false;
      $("spam-explain").textContent = visible(header(m) + "\nrule: " + (m.rule || "") + "\n" + (m.explanation || ""));
    });
    const release = el("button", "", "Release");
    release.type = "button";
    release.addEventListener("click", async () => {
      try { await api("POST", "/v1/spam/" + m.id + "/release"); $("spam-result").textContent = "released " + m.id; }
      catch (e) { $("spam-result").textContent = e.message; }
      loadSpam();
    });
    td.append(explain, release);
    tr.append(td);
    tb.append(tr);
  }
}

function showTab(name) {
  for (const b of document.querySelectorAll("nav button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== "tab-" + name;
  if (name === "names") loadNames();
  if (name === "spam") loadSpam();
}

document.addEventListener("DOMContentLoaded", async () => {
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("search").addEventListener("input", renderList);
  $("only-unread").addEventListener("change", renderList);
  $("reader-delete").addEventListener("click", () => deleteSelected().catch((e) => alert(e.message)));
  $("compose").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const out = $("compose-result");
    out.className = "";
    out.textContent = "sending\u2026";
    const req = { to: f.elements.to.value, text: f.elements.text.value };
    if (f.elements.from.value) req.from = f.elements.from.value;
    try {
      const res = await api("POST", "/v1/send", req);
      const failed = res.deliveries.filter((d) => d.code);
      if (failed.length) { out.className = "error"; out.textContent = failed.map((d) => d.to + ": " + d.error).join("; "); }
      else { out.textContent = "sent to " + res.deliveries.map((d) => d.to + " (" + d.via + ")").join(", "); f.elements.text.value = ""; }
    } catch (e) { out.className = "error"; out.textContent = e.message; }
  });
  $("add-name").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try { await api("POST", "/v1/names", { name: ev.target.elements.name.value }); ev.target.elements.name.value = ""; $("name-result").textContent = ""; }
    catch (e) { $("name-result").textContent = e.message; }
    loadNames();
  });
  try { $("whoami").textContent = (await api("GET", "/v1/whoami")).login; } catch (e) { console.error(e); }
  try { await loadInbox(); } catch (e) { console.error(e); }
  connect();
});

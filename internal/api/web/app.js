// The Messenger web inbox. Every piece of message text goes into the page
// through textContent, never as HTML.
"use strict";

// messages holds the pages loaded so far (newest first, PAGE at a time);
// unread is every unread message's id the caller may read, loaded apart
// from the pages, so that the count, the title and the favicon badge are
// right however little of the inbox is on the page.
const state = { messages: new Map(), selected: 0, lastID: 0, oldest: 0, more: false, source: null,
  unread: new Set(), unreadCapped: false, admin: false };

// PAGE is how many messages one request lists; UNREAD_MAX bounds the
// unread ids read for the count ("999+" past it).
const PAGE = 50;
const UNREAD_MAX = 999;

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
  for (const m of items) {
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
  $("more").hidden = !state.more;
  $("list-empty").hidden = shown.length > 0 || state.more;
  renderCount();
}

// renderCount shows the unread count in the tab, the title and the
// favicon, where a glance at the browser's tab strip finds it.
function renderCount() {
  const n = state.unread.size;
  const label = n === 0 ? "" : (state.unreadCapped ? UNREAD_MAX + "+" : String(n));
  $("unread-count").textContent = label ? "(" + label + ")" : "";
  document.title = label ? "(" + label + ") Messenger" : "Messenger";
  drawFavicon(label);
}

// The favicon's badge is drawn on a canvas over the app icon and set as a
// data: URL (the CSP allows data: images for this); without a count the
// plain icon comes back.
const faviconBase = new Image();
faviconBase.src = "/icon-192.png";
let faviconShown = "";

function drawFavicon(label) {
  if (label === faviconShown) return;
  const link = $("favicon");
  if (!link) return;
  if (!label) { faviconShown = ""; link.href = "/icon-192.png"; return; }
  if (!faviconBase.complete || !faviconBase.naturalWidth) {
    faviconBase.addEventListener("load", () => { faviconShown = null; drawFavicon(state.unread.size ? label : ""); }, { once: true });
    return;
  }
  const c = document.createElement("canvas");
  c.width = c.height = 64;
  const g = c.getContext("2d");
  g.drawImage(faviconBase, 0, 0, 64, 64);
  const text = label.length > 2 ? "99+" : label;
  g.fillStyle = "#d00000";
  g.beginPath();
  g.arc(44, 20, 20, 0, 2 * Math.PI);
  g.fill();
  g.fillStyle = "#fff";
  g.font = "bold " + (text.length > 2 ? 18 : 26) + "px sans-serif";
  g.textAlign = "center";
  g.textBaseline = "middle";
  g.fillText(text, 44, 21);
  link.href = c.toDataURL("image/png");
  faviconShown = label;
}

function renderReader() {
  const m = state.messages.get(state.selected);
  $("reader").hidden = !m;
  // On a narrow screen the list and the message take turns (style.css).
  document.body.classList.toggle("reading", !!m);
  if (!m) return;
  $("reader-unread").hidden = m.state !== "read";
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
      state.unread.delete(id);
    } catch (e) { console.error(e); }
    renderList();
    if (state.selected === id) renderReader();
  }
}

// closeMessage goes back to the list: on a phone the message fills the
// screen until then.
function closeMessage() {
  state.selected = 0;
  renderReader();
  renderList();
}

async function markUnread() {
  const id = state.selected;
  if (!id) return;
  const updated = await api("POST", "/v1/messages/" + id + "/unread");
  state.messages.set(id, updated);
  state.unread.add(id);
  closeMessage();
}

// markAllRead marks what the page knows of, up to the newest id it has:
// a message arriving meanwhile stays unread.
async function markAllRead() {
  const res = await api("POST", "/v1/messages/read-all", { through: state.lastID });
  for (const id of res.read) {
    const m = state.messages.get(id);
    if (m) m.state = "read";
    state.unread.delete(id);
  }
  renderList();
}

// reply opens the send form addressed to the message's sender.
function reply() {
  const m = state.messages.get(state.selected);
  if (!m) return;
  showTab("compose");
  const f = $("compose");
  f.elements.to.value = m.from;
  $("compose-result").textContent = "";
  f.elements.text.focus();
}

async function deleteSelected() {
  const id = state.selected;
  if (!id) return;
  await api("DELETE", "/v1/messages/" + id);
  state.messages.delete(id);
  state.unread.delete(id);
  state.selected = 0;
  renderReader();
  renderList();
}

// receive takes in a message the event stream delivered.
function receive(m) {
  state.messages.set(m.id, m);
  state.lastID = Math.max(state.lastID, m.id);
  if (m.state === "unread") {
    state.unread.add(m.id);
    notify(m);
  }
  renderList();
}

// Notifications are the user's choice, made with the button (a browser
// asks for permission only on a click) and kept in localStorage; a
// permission granted elsewhere counts as on until the button turns it off.
const NOTIFY_KEY = "messenger.notify";

function notifySupported() { return "Notification" in window; }

function notifyOn() {
  return notifySupported() && Notification.permission === "granted" && localStorage.getItem(NOTIFY_KEY) !== "off";
}

function renderNotify() {
  const b = $("notify");
  if (!notifySupported()) { b.hidden = true; return; }
  const on = notifyOn();
  b.setAttribute("aria-pressed", String(on));
  b.textContent = on ? "Notifications on" : Notification.permission === "denied" ? "Notifications blocked" : "Notifications off";
}

async function toggleNotify() {
  if (notifyOn()) {
    localStorage.setItem(NOTIFY_KEY, "off");
  } else {
    if (Notification.permission === "default") await Notification.requestPermission();
    if (Notification.permission === "granted") localStorage.setItem(NOTIFY_KEY, "on");
  }
  renderNotify();
}

// notify shows a new unread message as a system notification. An alert's
// severity sets its urgency: a critical one stays until dismissed, an
// info or resolved one makes no sound.
function notify(m) {
  if (!notifyOn()) return;
  const a = m.alert;
  const title = a ? oneLine("Alert from " + a.source + (a.severity ? " (" + a.severity + ")" : "") + (a.title ? ": " + a.title : ""))
    : oneLine("Message from " + senderName(m.from) + " to " + m.to);
  const opts = { body: visible(m.text).slice(0, 300), tag: "messenger-" + m.id, icon: "/icon-192.png",
    requireInteraction: !!a && a.severity === "critical" && a.status !== "resolved",
    silent: !!a && (a.severity === "info" || a.status === "resolved"), data: { id: m.id } };
  try {
    const n = new Notification(title, opts);
    n.addEventListener("click", () => { window.focus(); showTab("inbox"); openMessage(m.id); n.close(); });
  } catch (e) {
    // Chrome on Android makes notifications only through a service
    // worker; it opens the inbox when one is clicked (sw.js).
    if (navigator.serviceWorker) navigator.serviceWorker.ready.then((r) => r.showNotification(title, opts)).catch(console.error);
  }
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
    if (m) m.state = "read";
    state.unread.delete(id);
    renderList();
    if (state.selected === id) renderReader();
  });
  src.addEventListener("unread", (ev) => {
    const { id } = JSON.parse(ev.data);
    const m = state.messages.get(id);
    if (m) m.state = "unread";
    state.unread.add(id);
    renderList();
    if (state.selected === id) renderReader();
  });
  src.addEventListener("delete", (ev) => {
    const { id } = JSON.parse(ev.data);
    state.messages.delete(id);
    state.unread.delete(id);
    if (state.selected === id) { state.selected = 0; renderReader(); }
    renderList();
  });
  // The page fell behind the stream: the messages it missed follow, but
  // read and delete changes in between are lost, so read the inbox again.
  src.addEventListener("lagged", () => reloadInbox().catch(() => {}));
}

// listPath is the GET /v1/messages request for a page: newest first, the
// search and the unread filter done by the daemon, and before the oldest
// message loaded when more is asked for.
function listPath(before) {
  const q = new URLSearchParams({ order: "newest", limit: String(PAGE) });
  const text = $("search").value.trim();
  if (text) q.set("q", text);
  if ($("only-unread").checked) q.set("state", "unread");
  if (before) q.set("before", String(before));
  return "/v1/messages?" + q;
}

// loadPage reads the next page, or the first one again (fresh), which
// replaces the list but keeps messages the stream delivered since.
let pageSeq = 0;
async function loadPage(fresh) {
  const seq = ++pageSeq;
  const msgs = await api("GET", listPath(fresh ? 0 : state.oldest));
  // A newer search answered first: this one is stale.
  if (seq !== pageSeq) return;
  if (fresh) {
    const top = msgs.length ? msgs[0].id : 0;
    const kept = new Map();
    for (const [id, m] of state.messages) if (id > top && top) kept.set(id, m);
    state.messages = kept;
    state.oldest = 0;
  }
  for (const m of msgs) {
    state.messages.set(m.id, m);
    state.lastID = Math.max(state.lastID, m.id);
    state.oldest = state.oldest ? Math.min(state.oldest, m.id) : m.id;
  }
  state.more = msgs.length === PAGE;
  if (state.selected && !state.messages.has(state.selected)) { state.selected = 0; renderReader(); }
  renderList();
}

// loadUnread reads the ids of the unread messages, for the count.
async function loadUnread() {
  const msgs = await api("GET", "/v1/messages?state=unread&order=newest&limit=" + UNREAD_MAX);
  state.unread = new Set(msgs.map((m) => m.id));
  state.unreadCapped = msgs.length === UNREAD_MAX;
  for (const m of msgs) state.lastID = Math.max(state.lastID, m.id);
  renderCount();
}

// reloadInbox reads the first page and the unread count again: the page
// fell behind the stream and missed reads and deletions.
async function reloadInbox() {
  await Promise.all([loadPage(true), loadUnread()]);
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
    // The sender's name goes on the block or trust list: its next
    // message is dropped, or let through, by the policy.
    const policy = (list) => {
      const b = el("button", list === "block" ? "danger" : "", list === "block" ? "Block sender" : "Trust sender");
      b.type = "button";
      b.addEventListener("click", async () => {
        try {
          const res = await api("POST", "/v1/spam/" + list, { value: m.from });
          $("spam-result").textContent = (list === "block" ? "blocked " : "trusted ") + oneLine(res.value);
        } catch (e) { $("spam-result").textContent = e.message; }
      });
      return b;
    };
    const del = el("button", "danger", "Delete");
    del.type = "button";
    del.addEventListener("click", async () => {
      try { await api("DELETE", "/v1/messages/" + m.id); $("spam-result").textContent = "deleted " + m.id; }
      catch (e) { $("spam-result").textContent = e.message; }
      loadSpam();
    });
    td.append(explain, release, policy("block"), policy("trust"), del);
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
  // The daemon searches: the list shows at once what it has that
  // matches, then the daemon's answer, a moment after the typing stops.
  let typing = 0;
  $("search").addEventListener("input", () => {
    renderList();
    clearTimeout(typing);
    typing = setTimeout(() => loadPage(true).catch(console.error), 250);
  });
  $("only-unread").addEventListener("change", () => { renderList(); loadPage(true).catch(console.error); });
  $("more").addEventListener("click", () => loadPage(false).catch((e) => alert(e.message)));
  $("read-all").addEventListener("click", () => markAllRead().catch((e) => alert(e.message)));
  $("reader-back").addEventListener("click", closeMessage);
  $("reader-reply").addEventListener("click", reply);
  $("reader-unread").addEventListener("click", () => markUnread().catch((e) => alert(e.message)));
  $("reader-delete").addEventListener("click", () => deleteSelected().catch((e) => alert(e.message)));
  $("notify").addEventListener("click", () => toggleNotify().catch(console.error));
  renderNotify();
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
  try {
    const me = await api("GET", "/v1/whoami");
    $("whoami").textContent = me.login;
    // The quarantine is the admins' alone; the daemon refuses others.
    state.admin = !!me.admin;
    document.querySelector('nav button[data-tab="spam"]').hidden = !state.admin;
  } catch (e) { console.error(e); }
  try { await Promise.all([loadPage(true), loadUnread()]); } catch (e) { console.error(e); }
  connect();
  // The service worker keeps the page's shell for the installed app; it
  // needs a secure context, which loopback http is.
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/sw.js").catch((e) => console.error("service worker:", e));
  }
});

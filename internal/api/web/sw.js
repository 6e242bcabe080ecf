// The web inbox's service worker: it keeps the page's shell (the page,
// its script, style and icons) so that the installed app opens even when
// the daemon is away, and it never keeps an API answer. Messages are a
// user's and change every moment; /v1/ always goes to the daemon.
"use strict";

const CACHE = "messenger-shell-v1";
const SHELL = ["/", "/app.js", "/style.css", "/manifest.webmanifest", "/icon.svg", "/icon-192.png", "/icon-512.png"];

self.addEventListener("install", (ev) => {
  // A shell file the daemon will not give (signed out: a redirect to the
  // sign-in page) is left out rather than failing the install.
  ev.waitUntil(caches.open(CACHE).then((c) => Promise.all(SHELL.map((p) =>
    fetch(p, { redirect: "manual" }).then((r) => (keepable(r) ? c.put(p, r) : null)).catch(() => null)))));
  self.skipWaiting();
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// keepable is a whole answer from this origin: no error, no redirect (the
// sign-in page), nothing opaque.
function keepable(r) {
  return r && r.ok && r.type === "basic" && !r.redirected;
}

self.addEventListener("fetch", (ev) => {
  const req = ev.request;
  const url = new URL(req.url);
  // Only the shell is ours to answer; everything else, the API and the
  // sign-in pages above all, goes to the network untouched.
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  const path = req.mode === "navigate" && (url.pathname === "/" || url.pathname === "/index.html") ? "/" : url.pathname;
  if (!SHELL.includes(path) || url.pathname.startsWith("/v1/")) return;
  // Network first: the daemon's copy is the current one, and a page that
  // needs a sign-in must get the redirect; the cache serves only when the
  // daemon cannot be reached.
  ev.respondWith(fetch(req).then((r) => {
    if (keepable(r)) {
      const copy = r.clone();
      caches.open(CACHE).then((c) => c.put(path, copy));
    }
    return r;
  }).catch(() => caches.match(path).then((r) => r || Response.error())));
});

// A notification the page had the worker show (Chrome on Android) opens
// the inbox when clicked.
self.addEventListener("notificationclick", (ev) => {
  ev.notification.close();
  ev.waitUntil(self.clients.matchAll({ type: "window" }).then((list) => {
    for (const c of list) if ("focus" in c) return c.focus();
    return self.clients.openWindow("/");
  }));
});

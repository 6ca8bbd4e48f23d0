/* Service worker of the phone form (/m/): the form and its files work without a connection.
 *
 * Pages under /m/ are one shell: network first (a fresh shell when online), else the cached
 * one. The script, style, icon and manifest are cached when the worker installs. API reads
 * (/api/v1 GET) are network first with the last good answer as fallback, so the user's
 * shelters show offline. Reports (POST) are never touched here: the page keeps unsent ones in
 * IndexedDB and sends them itself, each with its Idempotency-Key. */
"use strict";
const CACHE = "dx-phone-__VERSION__";
const ASSETS = __ASSETS__;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("dx-phone-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim())
  );
});

function keep(request, response) {
  // Only real answers: never a redirect to the login page or an error.
  if (response && response.ok && response.type === "basic" && !response.redirected) {
    const copy = response.clone();
    caches.open(CACHE).then((cache) => cache.put(request, copy));
  }
  return response;
}

async function networkFirst(request, fallbackUrl) {
  try {
    return keep(request, await fetch(request));
  } catch (error) {
    const cached = (await caches.match(request, {ignoreVary: true})) ||
      (fallbackUrl ? await caches.match(fallbackUrl) : undefined);
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname.startsWith("/m/")) {
    event.respondWith(networkFirst(request, "/m/"));
  } else if (url.pathname.startsWith("/api/v1/")) {
    event.respondWith(networkFirst(request));
  } else if (url.pathname.startsWith("/m/")) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request).then((r) => keep(request, r))));
  }
});

/*! analytics.js: browser SDK of the analytics service (/v1) */
(() => {
  "use strict";
  const VERSION = "1.0.0";
  if (window.analytics?.version) return; // included twice: the first copy wins

  const INGEST = "/v1/ingest";
  const KEEPALIVE_BUDGET = 64000; // Chrome: 64 KiB for all in-flight keepalive requests
  const LEASE_MS = 20000; // other tabs leave a batch being sent alone this long
  const TIMEOUT_MS = 15000;
  const MAX_IN_FLIGHT = 4;
  const FLUSH_AT_ITEMS = 200;
  const PREFIX = "_an_";
  const script = document.currentScript;
  const defaults = {
    endpoint: script?.src ? new URL(script.src).origin : "",
    persistence: "localStorage",
    autoPageViews: true,
    movement: true,
    flushInterval: 5000,
    maxBatchBytes: 60000,
    moveInterval: 250,
    sessionTimeout: 30 * 60 * 1000,
    maxQueue: 50,
    maxAttempts: 10,
    retryBase: 2000,
    retryMax: 300000,
    respectDnt: false,
  };

  let cfg = null;
  let store = null;
  let anonId = null;
  let session = null;
  let sessionSavedAt = 0;
  let lastPath = null;
  const empty = () => ({ events: [], movement: [] });
  let buffer = empty();
  let drainTimer = 0;
  let inFlight = 0;
  let keepaliveBytes = 0;
  const assigning = {};
  const waiters = {};

  const warn = (...args) => console.warn("[analytics]", ...args);
  const none = () => Promise.resolve(null);
  const encoder = new TextEncoder();
  const byteLength = (text) => encoder.encode(text).length;
  const post = (url, body, extra) => fetch(cfg.endpoint + url, { method: "POST", body, credentials: "omit", ...extra });

  const uuid = () => {
    if (crypto.randomUUID) return crypto.randomUUID(); // secure contexts only
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    const hex = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join("");
    return hex.replace(/^(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");
  };

  let local = null;
  try {
    localStorage.getItem(PREFIX);
    local = localStorage;
  } catch {} // disabled storage throws

  const pageMemory = () => {
    const map = new Map();
    return { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, v), removeItem: (k) => map.delete(k) };
  };

  const makeStore = (storage) => ({
    get(key) {
      try {
        return JSON.parse(storage.getItem(PREFIX + key));
      } catch {
        return null;
      }
    },
    set(key, value) {
      try {
        storage.setItem(PREFIX + key, JSON.stringify(value));
        return true;
      } catch {
        return false; // quota exceeded
      }
    },
    del: (key) => storage.removeItem(PREFIX + key),
  });

  // Kept even with persistence "memory": an opt-out must never be forgotten.
  const optedOut = () => local?.getItem(PREFIX + "optout") === "1";
  const heatmapOverlay = location.hash.includes("analytics-heatmap=");
  if (heatmapOverlay) import(defaults.endpoint + "/overlay/heatmap.js");
  const blocked = () =>
    heatmapOverlay || optedOut() || (cfg.respectDnt && (navigator.doNotTrack === "1" || window.doNotTrack === "1"));
  const active = () => !!cfg && !!anonId && !blocked();

  const start = () => {
    anonId = store.get("anon") || uuid();
    store.set("anon", anonId);
    if (cfg.autoPageViews) pageView();
    drain();
  };

  const saveSession = () => {
    sessionSavedAt = session.last;
    store.set("session", session);
  };

  // Idle for sessionTimeout ends a session; activity in any tab keeps it alive.
  const touch = (now) => {
    if (!session || now - session.last > cfg.sessionTimeout) {
      const saved = store.get("session");
      const fresh = saved?.id && now - saved.last <= cfg.sessionTimeout;
      const next = fresh
        ? saved
        : { id: uuid(), last: now, ref: document.referrer.slice(0, 2048), url: location.href.slice(0, 2048) };
      if (session && next.id !== session.id) flush(); // the buffer belongs to the old session
      session = next;
    }
    session.last = now;
    if (now - sessionSavedAt > 5000) saveSession();
  };

  const add = (kind, item) => {
    buffer[kind].push(item);
    if (buffer.events.length + buffer.movement.length >= FLUSH_AT_ITEMS) flush();
  };

  const track = (type, props) => {
    if (!active()) return false;
    let copy;
    try {
      copy = JSON.parse(JSON.stringify(props ?? {}));
    } catch {}
    if (typeof type !== "string" || !type || type.length > 64 || copy?.constructor !== Object) {
      warn("track: bad type or props");
      return false;
    }
    const now = Date.now();
    touch(now);
    add("events", { id: now.toString(36) + uuid(), type, path: location.pathname, ts: now, props: copy });
    return true;
  };

  const page = (props) => track("page_view", { title: document.title, ...props });

  // Routers call replaceState for state alone too: only a new path is a new page.
  const pageView = () => {
    if (location.pathname === lastPath || !active()) return;
    lastPath = location.pathname;
    page();
  };

  const sample = (kind, x, y) => {
    if (!active()) return;
    const now = Date.now();
    touch(now);
    const { innerWidth: vw, innerHeight: vh } = window;
    add("movement", { ts: now, x: Math.round(x), y: Math.round(y), kind, path: location.pathname, vw, vh });
  };

  const pack = () => {
    const items = buffer;
    buffer = empty();
    const head = {
      apiKey: cfg.apiKey,
      sentAt: 0,
      session: {
        sessionId: session?.id,
        anonId,
        referrer: session?.ref || undefined,
        landingUrl: session?.url,
        language: navigator.language,
        screen: { w: screen.width, h: screen.height },
      },
    };
    const base = byteLength(JSON.stringify(head)) + 100; // brackets, sentAt's digits, batchId
    const batches = [];
    let batch = null;
    let used = 0;
    for (const kind of ["events", "movement"]) {
      for (const item of items[kind]) {
        const size = byteLength(JSON.stringify(item)) + 1;
        if (base + size > cfg.maxBatchBytes) warn("item over maxBatchBytes dropped");
        else {
          if (!batch || used + size > cfg.maxBatchBytes) {
            // One batchId for every retry: the service stores a batch once.
            batches.push((batch = { ...head, batchId: uuid(), ...empty() }));
            used = base;
          }
          batch[kind].push(item);
          used += size;
        }
      }
    }
    return batches;
  };

  const readQueue = () => store.get("queue") || [];
  const writeQueue = (queue) => {
    queue.splice(0, queue.length - cfg.maxQueue);
    while (!store.set("queue", queue) && queue.length) queue.shift(); // storage full: oldest go
  };

  const enqueue = (url, payload) => {
    const id = uuid();
    const queue = readQueue();
    queue.push({ id, url, payload, attempts: 0, due: 0, lease: 0 });
    writeQueue(queue);
    return id;
  };

  const flush = () => {
    if (!active()) return;
    for (const batch of pack()) enqueue(INGEST, batch);
    drain();
  };

  const drain = () => {
    clearTimeout(drainTimer);
    if (!active() || navigator.onLine === false) return; // "online" drains again
    const now = Date.now();
    const queue = readQueue();
    let next = Infinity;
    let leased = false;
    for (const entry of queue) {
      const wait = Math.max(entry.lease, entry.due);
      if (wait > now) next = Math.min(next, wait);
      else if (inFlight < MAX_IN_FLIGHT) {
        entry.lease = now + LEASE_MS;
        leased = true;
        send(entry);
      }
    }
    if (leased) writeQueue(queue);
    if (next < Infinity) drainTimer = setTimeout(drain, next - now + 10);
  };

  const send = (entry) => {
    const { payload } = entry;
    if ("sentAt" in payload) payload.sentAt = Date.now(); // fresh on each attempt, for skew correction
    // A string body goes as text/plain;charset=UTF-8: CORS-safelisted, so no preflight.
    const body = JSON.stringify(payload);
    const size = byteLength(body);
    const keepalive = keepaliveBytes + size <= KEEPALIVE_BUDGET;
    if (keepalive) keepaliveBytes += size;
    inFlight++;
    const signal = AbortSignal.timeout(TIMEOUT_MS);
    post(entry.url, body, { keepalive, signal })
      .catch(() => null)
      .then((response) => settle(entry, response))
      .finally(() => {
        inFlight--;
        if (keepalive) keepaliveBytes -= size;
        drain();
      });
  };

  // 2xx: done; other 4xx: dropped; no answer, 408, 429, 5xx: retried with exponential backoff
  // and jitter (or after a longer Retry-After), maxAttempts in all.
  const settle = (entry, response) => {
    const status = response?.status || 0;
    const queue = readQueue();
    const index = queue.findIndex((e) => e.id === entry.id);
    const kept = queue[index];
    if (kept && (!status || status === 408 || status === 429 || status >= 500)) {
      kept.lease = 0;
      if (++kept.attempts >= cfg.maxAttempts) {
        queue.splice(index, 1);
        warn(`gave up on ${entry.url} after ${kept.attempts} attempts`);
      } else {
        const backoff = Math.min(cfg.retryMax, cfg.retryBase * 2 ** (kept.attempts - 1));
        const after = response?.headers.get("Retry-After") * 1000 || 0;
        kept.due = Date.now() + Math.max(backoff / 2 + (Math.random() * backoff) / 2, after);
      }
    } else if (kept) {
      queue.splice(index, 1);
      if (status >= 300) warn(`${entry.url} refused (${status}), dropped`);
    }
    writeQueue(queue);
    const waiter = waiters[entry.id];
    delete waiters[entry.id];
    waiter?.(response?.ok ? response.json().catch(none) : null);
  };

  // Leaving: beacons outlive the page; a refused one is queued (keepalive fetch, or the next page).
  const onHide = () => {
    if (!active() || !session) return;
    saveSession();
    for (const batch of pack()) {
      batch.sentAt = Date.now();
      if (!navigator.sendBeacon?.(cfg.endpoint + INGEST, JSON.stringify(batch))) enqueue(INGEST, batch);
    }
    drain();
  };

  const experimentUrl = (key, action) => `/v1/experiments/${encodeURIComponent(key)}/${action}`;

  // Kept per anonId: the same variant on every page, without asking again.
  const assign = (key) => {
    if (!active()) return none();
    const owner = anonId + " " + cfg.apiKey;
    const cached = store.get("exp");
    if (cached?.owner === owner && cached.variants[key]) return Promise.resolve(cached.variants[key]);
    return (assigning[key] ??= post(experimentUrl(key, "assign"), JSON.stringify({ apiKey: cfg.apiKey, anonId }))
      .then((response) => (response.ok ? response.json() : null))
      .catch(none)
      .then((answer) => {
        delete assigning[key];
        const variant = answer?.variantKey || null;
        if (variant) {
          const exp = store.get("exp");
          store.set("exp", { owner, variants: { ...(exp?.owner === owner && exp.variants), [key]: variant } });
        }
        return variant;
      }));
  };

  // Through the retry queue: the service counts each (experiment, anonId, goal) once.
  const convert = (key, goal) => {
    if (!active() || typeof goal !== "string" || !goal) return none();
    const payload = { apiKey: cfg.apiKey, anonId, goal };
    return Promise.resolve(assigning[key]).then(
      () =>
        new Promise((resolve) => {
          waiters[enqueue(experimentUrl(key, "convert"), payload)] = resolve;
          drain();
        }),
    );
  };

  const optOut = () => {
    local?.setItem(PREFIX + "optout", "1");
    buffer = empty();
    if (store) for (const key of ["queue", "anon", "session", "exp"]) store.del(key);
    anonId = session = lastPath = null;
  };

  const optIn = () => {
    local?.removeItem(PREFIX + "optout");
    if (cfg && !anonId && !blocked()) start();
  };

  const init = (options) => {
    if (cfg) return warn("init: already initialised");
    if (!options?.apiKey) return warn("init: apiKey is required");
    cfg = { ...defaults, ...options };
    cfg.endpoint = (options.endpoint || defaults.endpoint).replace(/\/+$/, "");
    store = makeStore((cfg.persistence !== "memory" && local) || pageMemory());

    const onNavigation = () => cfg.autoPageViews && pageView();
    for (const name of ["pushState", "replaceState"]) {
      const original = history[name];
      history[name] = function (...args) {
        const result = original.apply(this, args);
        setTimeout(onNavigation); // once the router has set the title
        return result;
      };
    }
    addEventListener("popstate", onNavigation);
    // Restored from the back/forward cache: a page view without a load.
    addEventListener("pageshow", (e) => e.persisted && ((lastPath = null), onNavigation()));
    addEventListener("pagehide", onHide);
    document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && onHide());
    addEventListener("online", drain);
    setInterval(flush, cfg.flushInterval);

    if (cfg.movement) {
      let lastMove = -Infinity;
      let scrollTimer = 0;
      const opts = { passive: true, capture: true };
      const onMove = (e) => {
        if (e.timeStamp - lastMove < cfg.moveInterval) return;
        lastMove = e.timeStamp;
        sample("move", e.pageX, e.pageY);
      };
      // Scroll depth: the viewport's bottom edge on the page, once scrolling settles.
      const onScroll = () => {
        scrollTimer ||= setTimeout(() => {
          scrollTimer = 0;
          sample("scroll", scrollX, scrollY + innerHeight);
        }, cfg.moveInterval);
      };
      addEventListener("pointermove", onMove, opts);
      addEventListener("click", (e) => sample("click", e.pageX, e.pageY), opts);
      addEventListener("scroll", onScroll, opts);
    }
    if (!blocked()) start();
  };

  window.analytics = {
    version: VERSION,
    init,
    track,
    page,
    assign,
    convert,
    flush,
    optOut,
    optIn,
    ids: () => ({ anonId, sessionId: session?.id ?? null }),
  };
})();

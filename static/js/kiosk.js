// The kiosk page: asks the console for a session of its own, plays it, speaks the attract script
// when nobody has driven the avatar for a while, heartbeats so the console keeps the session only
// while this page is open, and starts over by itself when the session ends underneath it.
import { Captions, Stage, csrfTokenOf, staticRootOf } from "./audience.js";
import { hourMinute } from "./when.js";

const root = document.getElementById("kiosk");
const config = JSON.parse(document.getElementById("kiosk-config").textContent);
const stateEl = document.getElementById("kiosk-state");
const csrfToken = csrfTokenOf();
const HEARTBEAT_MS = 10000;
const RETRY_MS = { ended: 1500, starting: 3000, busy: 15000, error: 10000, disabled: 30000, after_hours: 60000 };
const OVER = new Set(["done", "interrupted", "failed"]);
const ENDED = new Set(["closing", "closed", "failed"]);

const pageKey = `tcadh-kiosk-page-${config.slug}`;
const pageId = sessionStorage.getItem(pageKey) || crypto.randomUUID().replaceAll("-", "");
sessionStorage.setItem(pageKey, pageId);

let sessionId = null;
let retryTimer = null;
let lastActivity = Date.now();
let attract = null; // {cancelled} while the attract script is being spoken
const waiters = new Set();

const stage = new Stage({
  video: document.getElementById("video"),
  note: document.getElementById("player-note"),
  captions: new Captions(document.getElementById("captions")),
  soundButton: document.getElementById("sound-button"),
  staticRoot: staticRootOf(), csrfToken,
  onMessage: receive,
});

function showState(text) { stateEl.textContent = text; stateEl.hidden = !text; }

async function post(url, fields = {}) {
  const body = new FormData();
  body.append("page", pageId);
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  const response = await fetch(url, { method: "POST", body, headers: { "X-CSRFToken": csrfToken } });
  if (response.status === 403 || response.redirected) throw new Error(gettext("log in as an operator to run this kiosk"));
  if (!response.ok) throw new Error(interpolate(gettext("the console answered %(status)s"), { status: response.status }, true));
  return response.json();
}

function retry(delay) {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(openSession, delay);
}

async function openSession() {
  clearTimeout(retryTimer);
  try {
    handle(await post(root.dataset.sessionUrl));
  } catch (error) {
    showState(interpolate(gettext("The kiosk cannot start: %(error)s."), { error: error.message }, true));
    retry(RETRY_MS.error);
  }
}

async function heartbeat() {
  if (!sessionId) return;
  try {
    handle(await post(root.dataset.heartbeatUrl, { session: sessionId }));
  } catch (error) {
    showState(interpolate(gettext("The console is unreachable (%(error)s); retrying…"), { error: error.message }, true));
  }
}

function leave() {
  stopAttract();
  stage.stop();
  sessionId = null;
  delete root.dataset.session;
  delete root.dataset.cloudSession;
  delete root.dataset.status;
}

function handle(reply) {
  if (reply.state === "live") {
    showState("");
    if (reply.session.summary.id !== sessionId) {
      stopAttract();
      sessionId = reply.session.summary.id;
      root.dataset.session = sessionId;
      root.dataset.cloudSession = reply.session.summary.session_id;
      root.dataset.status = reply.session.summary.status;
      stage.follow(reply.session);
      if (reply.session.summary.status === "started") startAttract();
    }
    return;
  }
  leave();
  if (reply.state === "ended") showState(gettext("Getting the avatar back…"));
  else if (reply.state === "after_hours") showState(reply.opens_at
    ? interpolate(gettext("Closed for now. Back at %(time)s."), { time: hourMinute(reply.opens_at) }, true)
    : gettext("Closed for now."));
  else showState(reply.message);
  retry(RETRY_MS[reply.state] ?? RETRY_MS.error);
}

function receive(msg) {
  if (msg.type === "session" && msg.session.id === sessionId) {
    const status = msg.session.status;
    if (status === "started" && root.dataset.status !== "started") {
      // Rejoin as a driver now that it can be driven: the console then holds the command channel
      // (and its heartbeats to the cloud) open for as long as this page is connected.
      stage.reconnect();
      startAttract();
    }
    root.dataset.status = status;
    if (ENDED.has(status)) heartbeat();
  } else if (msg.type === "relay" && msg.state === "closed") {
    // The command channel gave up: ask the console to check with the cloud right away.
    heartbeat();
  } else if (msg.type === "utterance") {
    lastActivity = Date.now();
    for (const waiter of waiters) waiter(msg);
  }
}

// -- attract script -----------------------------------------------------------------------------

function sleep(ms, run) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    run.stop = () => { clearTimeout(timer); resolve(); };
  });
}

function spoken(text, run) {
  // Resolves when the avatar finished (or gave up on) this text; a long timeout covers lost events.
  const limit = 15000 + text.length * 300;
  return new Promise((resolve) => {
    const finish = () => { waiters.delete(waiter); clearTimeout(timer); resolve(); };
    const waiter = (u) => { if (u.text === text && OVER.has(u.state)) finish(); };
    const timer = setTimeout(finish, limit);
    waiters.add(waiter);
    run.stop = finish;
  });
}

async function speakAttract(run) {
  for (const cue of config.cues) {
    if (run.cancelled) return;
    if (cue.kind === "pause") { await sleep(cue.pause_seconds * 1000, run); continue; }
    const text = cue.text.trim();
    if (!text) continue;
    const done = spoken(text, run);
    if (!stage.send({ type: "say", text, use_bot: false })) { run.stop(); await sleep(2000, run); return; }
    await done;
  }
}

function startAttract() {
  if (attract || !config.cues.length) return;
  const run = { cancelled: false, stop() {} };
  attract = run;
  // Give the command channel a moment to open before the first cue.
  sleep(1500, run).then(() => speakAttract(run)).finally(() => {
    if (attract === run) attract = null;
    lastActivity = Date.now();
  });
}

function stopAttract() {
  if (!attract) return;
  attract.cancelled = true;
  attract.stop();
  attract = null;
}

setInterval(() => {
  const idleMs = config.attract_every_minutes * 60000;
  if (sessionId && root.dataset.status === "started" && !attract && Date.now() - lastActivity >= idleMs) startAttract();
}, 5000);

setInterval(heartbeat, HEARTBEAT_MS);

// The page is going away: close the session now instead of waiting for the heartbeat to go stale.
window.addEventListener("pagehide", () => {
  if (!sessionId) return;
  const body = new FormData();
  body.append("page", pageId);
  body.append("session", sessionId);
  body.append("csrfmiddlewaretoken", csrfToken);
  navigator.sendBeacon(root.dataset.closeUrl, body);
});

openSession();

import { h } from "./dom.js";
import { connectLive, sinceText } from "./live.js";
import { SessionPlayer } from "./player.js";
import { consoleWords, format, statusLabel } from "./labels.js";
import { SoundControl } from "./sound.js";
import { clockTime } from "./when.js";

const root = document.getElementById("session");
const statusEl = document.getElementById("session-status");
const elapsedEl = document.getElementById("elapsed");
const errorEl = document.getElementById("session-error");
const eventsEl = document.getElementById("events");
const startButton = document.getElementById("start-button");
const closeButton = document.getElementById("close-button");
const LIVE = new Set(["preparing", "ready", "started"]);
const PLAYABLE = new Set(["ready", "started"]);
const READY_CEILING_S = 120;

let summary = JSON.parse(document.getElementById("session-summary").textContent);
const csrfToken = document.querySelector("[name=csrfmiddlewaretoken]")?.value ?? "";
const staticRoot = document.querySelector("link[rel=stylesheet]").getAttribute("href").replace(/css\/console\.css.*$/, "");

const video = document.getElementById("video");
const player = new SessionPlayer({
  video, note: document.getElementById("player-note"),
  staticRoot, trtcUrl: root.dataset.trtcUrl, csrfToken,
  sound: new SoundControl({ video, button: document.getElementById("sound-button") }),
  reportUrl: document.getElementById("player").dataset.reportUrl,
});

async function refreshPlayer() {
  if (!PLAYABLE.has(summary.status)) {
    player.stop();
    player.say(summary.status === "preparing" ? gettext("The avatar is getting ready…")
      : format(gettext("The session is %(status)s."), { status: statusLabel(summary.status) }));
    return;
  }
  const response = await fetch(root.dataset.playerUrl, { headers: { Accept: "application/json" } });
  if (!response.ok) { player.say(gettext("Could not get the video address.")); return; }
  const { source } = await response.json();
  if (source) player.play(source);
}

function render() {
  statusEl.textContent = statusLabel(summary.status);
  statusEl.className = `badge large status-${summary.status}`;
  if (startButton) startButton.disabled = summary.status !== "ready";
  if (closeButton) closeButton.disabled = !LIVE.has(summary.status);
  errorEl.hidden = !summary.error;
  errorEl.textContent = summary.error ? consoleWords(summary.error) : "";
  tickElapsed();
}

function tickElapsed() {
  const preparing = summary.status === "preparing";
  elapsedEl.hidden = !preparing;
  if (preparing) elapsedEl.textContent = format(gettext("preparing for %(elapsed)s (usually under %(minutes)s min)"),
    { elapsed: sinceText(summary.created_at), minutes: READY_CEILING_S / 60 });
}

// The avatar's statuses and words are shown beside each utterance in the transcript (transcript.js);
// the history keeps the session's own course readable. Its events arrive with their ids.
const TRANSCRIPT_KINDS = new Set(["speak", "llm"]);

function addEvent(event) {
  if (TRANSCRIPT_KINDS.has(event.kind) || eventsEl.querySelector(`[data-event="${CSS.escape(String(event.id))}"]`)) return;
  eventsEl.append(h("li", { "data-event": event.id, class: `event kind-${event.kind}` },
    h("time", { datetime: event.at }, clockTime(event.at)), " ", h("span", { class: "message" }, consoleWords(event.message))));
  eventsEl.scrollTop = eventsEl.scrollHeight;
}

const handlers = {
  onMessage(msg) {
    if (msg.type === "session") {
      const changed = msg.session.status !== summary.status;
      summary = msg.session;
      render();
      if (changed) refreshPlayer();
    } else if (msg.type === "event") {
      addEvent(msg.event);
    } else if (msg.type === "events") {
      msg.events.forEach(addEvent);
    }
    document.dispatchEvent(new CustomEvent("session-message", { detail: msg }));
  },
  onState(state) {
    document.dispatchEvent(new CustomEvent("session-connection", { detail: state }));
    // Catch up with anything missed while disconnected.
    if (state === "connected") refreshPlayer();
  },
};

// The page's other modules (the transcript, the chat box) listen for what the socket says; it
// opens once they all run (deferred module scripts run before DOMContentLoaded), so none of them
// misses its first messages, whichever module the browser had to fetch last.
let live = null;
document.addEventListener("DOMContentLoaded", () => { live = connectLive(root.dataset.wsPath, handlers); });

// Send a command over the session's socket; false when it is not connected.
export function send(message) {
  return live !== null && live.send(message);
}

eventsEl.querySelectorAll(".message").forEach((el) => { el.textContent = consoleWords(el.textContent); });
render();
setInterval(tickElapsed, 1000);

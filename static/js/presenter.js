// The presenter view: step through a script's cues on one session, from the keyboard or a clicker.
import { h } from "./dom.js";
import { connectLive } from "./live.js";
import { spokenText } from "./audience.js";
import { Microphone } from "./microphone.js";
import { format, statusLabel, utteranceStateLabel } from "./labels.js";
import { CapNotice } from "./cap-notice.js";
import { clockTime } from "./when.js";

const stage = JSON.parse(document.getElementById("stage").textContent);
const script = JSON.parse(document.getElementById("script-data").textContent);
const cues = script.cues;
const listEl = document.getElementById("cue-list");
const notesEl = document.getElementById("notes");
const countdownEl = document.getElementById("pause-countdown");
const transcriptEl = document.getElementById("transcript");
const errorEl = document.getElementById("presenter-error");
const statusEl = document.getElementById("presenter-status");
const speakEl = document.getElementById("speak-state");
const idleEl = document.getElementById("idle-timer");
const clockEl = document.getElementById("clock");
const micButton = document.getElementById("mic");
const SPEAKING = new Set(["TextStart", "AudioStart", "SentenceStart"]);
const SILENT = new Set(["TextOver", "AudioOver", "Error"]);

let current = -1;
let status = stage.summary.status;
let idleSince = Date.parse(stage.idle.since);
let pause = null;
let errorTimer = null;
const capNotice = new CapNotice(document.getElementById("cap-notice"));
if (stage.cap_warning) capNotice.show(stage.cap_warning);

const live = connectLive(stage.ws_path, {
  onMessage(msg) {
    capNotice.follow(msg);
    if (msg.type === "session") {
      status = msg.session.status;
      statusEl.textContent = statusLabel(status);
      statusEl.className = `badge large status-${status}`;
    } else if (msg.type === "utterance") {
      idleSince = Date.now();
      showUtterance(msg);
    } else if (msg.type === "event" && msg.event.kind === "speak") {
      const speak = msg.event.data.speak_status;
      if (SPEAKING.has(speak)) speakEl.textContent = pgettext("avatar speech", "speaking");
      else if (SILENT.has(speak)) speakEl.textContent = pgettext("avatar speech", "idle");
    } else if (msg.type === "error") {
      showError(msg.message);
    }
  },
  onState(state) {
    if (state === "reconnecting") showError(gettext("Connection to the console lost; reconnecting…"));
    else if (state === "connected") hideError();
  },
});

function showError(message) {
  errorEl.textContent = message;
  errorEl.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(hideError, 8000);
}

function hideError() { errorEl.hidden = true; }

function cueLabel(cue) {
  return cue.kind === "pause" ? format(gettext("Pause %(seconds)s s"), { seconds: cue.pause_seconds })
    : (cue.spoken || gettext("(note only)"));
}

function renderCues() {
  listEl.replaceChildren(...cues.map((cue, index) => {
    const label = cueLabel(cue);
    const button = h("button", { type: "button", class: "cue-button", "aria-label": format(gettext("Speak cue %(number)s: %(label)s"), { number: index + 1, label }) },
      h("span", { class: "cue-number" }, index + 1), " ", h("span", { class: "cue-text" }, label));
    button.addEventListener("click", () => go(index, { speak: true }));
    const problems = cue.problems.map((p) => h("li", { class: `problem-${p.severity}` }, p.message));
    return h("li", { class: `cue kind-${cue.kind}`, "data-index": index }, button,
      cue.note ? h("p", { class: "cue-note" }, cue.note) : null,
      problems.length ? h("ul", { class: "cue-problems" }, problems) : null);
  }));
}

function highlight() {
  listEl.querySelectorAll("li.cue").forEach((li) => {
    const index = Number(li.dataset.index);
    li.classList.toggle("current", index === current);
    li.classList.toggle("past", index < current);
    if (index === current) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
  });
  listEl.querySelector("li.current")?.scrollIntoView({ block: "nearest", behavior: "smooth" });
  const cue = cues[current];
  const next = cues[current + 1];
  const parts = [];
  if (cue?.note) parts.push(h("p", { class: "note-now" }, cue.note));
  if (next) parts.push(h("p", { class: "muted" }, format(gettext("Next: %(cue)s"), { cue: cueLabel(next) })));
  else if (current >= 0) parts.push(h("p", { class: "muted" }, gettext("That was the last cue.")));
  if (!parts.length) parts.push(h("p", { class: "muted" }, gettext("Press Space to speak the first cue.")));
  notesEl.replaceChildren(...parts);
}

function cancelPause() {
  if (!pause) return;
  clearInterval(pause.timer);
  pause = null;
  countdownEl.hidden = true;
}

function startPause(cue) {
  const ends = Date.now() + cue.pause_seconds * 1000;
  const tick = () => {
    const left = Math.max(0, Math.ceil((ends - Date.now()) / 1000));
    countdownEl.textContent = left > 0 ? format(gettext("Pause: %(seconds)s s"), { seconds: left })
      : gettext("Pause over: press Space for the next cue.");
    if (left === 0) { clearInterval(pause.timer); pause = null; }
  };
  pause = { timer: setInterval(tick, 250) };
  countdownEl.hidden = false;
  tick();
}

function go(index, { speak }) {
  if (index < 0 || index >= cues.length) return;
  cancelPause();
  current = index;
  highlight();
  if (!speak) return;
  const cue = cues[index];
  if (cue.kind === "pause") { startPause(cue); return; }
  if (!cue.text.trim()) return;
  if (!live.send({ type: "say", text: cue.text, use_bot: false })) {
    showError(gettext("Not connected to the console; the cue was not spoken. Try again in a moment."));
  }
}

function next() {
  if (current + 1 >= cues.length) { showError(gettext("That was the last cue.")); return; }
  go(current + 1, { speak: true });
}

function previous() { if (current > 0) go(current - 1, { speak: false }); }

function interrupt() {
  cancelPause();
  // Interrupting ends the audio being spoken too: the microphone is let go with it.
  microphone.stop();
  renderMic();
  live.send({ type: "interrupt" });
}

function showUtterance(utterance) {
  let li = transcriptEl.querySelector(`[data-req="${CSS.escape(utterance.req_id)}"]`);
  if (!li) {
    li = document.createElement("li");
    li.dataset.req = utterance.req_id;
    transcriptEl.append(li);
  }
  const text = utterance.kind === "audio" ? gettext("(microphone)") : spokenText(utterance.text);
  li.replaceChildren(h("span", { class: "who" }, utterance.by || "console"), " ", h("span", { class: "text" }, text), " ",
    h("span", { class: `badge state-${utterance.state}` }, utteranceStateLabel(utterance.state)));
  transcriptEl.scrollTop = transcriptEl.scrollHeight;
}

// -- microphone ----------------------------------------------------------------------------------

const microphone = new Microphone({
  onPacket: (pcm, final) => live.send(final ? { type: "audio", pcm, final: true } : { type: "audio", pcm }),
});

function renderMic() {
  micButton.setAttribute("aria-pressed", String(microphone.active));
  micButton.classList.toggle("on", microphone.active);
}

async function toggleMic() {
  if (micButton.disabled) return;
  if (microphone.active) {
    microphone.stop();
  } else {
    const starting = microphone.start();
    renderMic();
    try {
      await starting;
    } catch (error) {
      showError(error.message);
    }
  }
  renderMic();
}

// -- clock and idle timer ------------------------------------------------------------------------

function pad(n) { return String(n).padStart(2, "0"); }

function tick() {
  clockEl.textContent = clockTime(Date.now());
  if (status !== "started") { idleEl.textContent = "--:--"; idleEl.classList.remove("warn"); return; }
  const left = Math.max(0, stage.idle.limit_seconds - Math.floor((Date.now() - idleSince) / 1000));
  idleEl.textContent = `${pad(Math.floor(left / 60))}:${pad(left % 60)}`;
  idleEl.classList.toggle("warn", left <= 60);
}

// -- keyboard: Space/→/PageDown next, ←/PageUp back, Esc interrupt, M microphone ----------------

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.target.closest("input, textarea, select, [contenteditable]")) return;
  const key = event.key;
  if (key === " " || key === "ArrowRight" || key === "PageDown") {
    event.preventDefault();
    if (!event.repeat) next();
  } else if (key === "ArrowLeft" || key === "PageUp") {
    event.preventDefault();
    previous();
  } else if (key === "Escape") {
    event.preventDefault();
    interrupt();
  } else if (key === "m" || key === "M") {
    event.preventDefault();
    toggleMic();
  }
});
// A focused button would also "click" on Space's keyup; the keydown above already acted.
document.addEventListener("keyup", (event) => { if (event.key === " " && event.target.closest("button")) event.preventDefault(); });

document.getElementById("next-cue").addEventListener("click", next);
document.getElementById("prev-cue").addEventListener("click", previous);
document.getElementById("interrupt").addEventListener("click", interrupt);
micButton.addEventListener("click", toggleMic);

renderCues();
highlight();
tick();
setInterval(tick, 1000);

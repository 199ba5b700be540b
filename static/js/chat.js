// The chat box: text, streamed text, microphone audio and interrupt, sent over the session
// page's socket, and the connection indicator built from what comes back.
import { send as sendToConsole } from "./session.js";
import { Microphone } from "./microphone.js";
import { showProblem } from "./transcript.js";
import { codePointChunks } from "./code-points.js";
import { format, linkStateLabel } from "./labels.js";
import { clockTime } from "./when.js";

const box = document.getElementById("chat");

if (box) setUp();

function setUp() {
  const form = document.getElementById("chat-form");
  const message = document.getElementById("chat-message");
  const streamButton = document.getElementById("chat-stream");
  const interruptButton = document.getElementById("chat-interrupt");
  const useBot = document.getElementById("chat-bot");
  const micButton = document.getElementById("chat-mic");
  const micHelp = document.getElementById("chat-mic-help");
  const meter = document.getElementById("chat-level");
  const errorEl = document.getElementById("chat-error");
  const connectionEl = document.getElementById("chat-connection");
  const heartbeatEl = document.getElementById("chat-heartbeat");
  const audioDriver = box.dataset.driverType === "3";
  // The server's limits, rendered into the page (sessions_app/live/limits.py).
  const limits = JSON.parse(document.getElementById("chat-limits").textContent);
  const HOLD_MS = 350; // a press longer than this is push-to-talk; shorter is a toggle click

  let socketState = "connecting";
  let relay = { state: null, heartbeat_at: null };
  let sessionStatus = JSON.parse(document.getElementById("session-summary").textContent).status;

  // -- sending ----------------------------------------------------------------------------

  function send(obj) {
    if (!sendToConsole(obj)) { showError(gettext("Not connected to the console; the message was not sent.")); return false; }
    return true;
  }

  function showError(text) {
    errorEl.textContent = text;
    errorEl.hidden = !text;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = message.value.trim();
    if (!text) return;
    if (new TextEncoder().encode(text).length > limits.say_max_bytes) {
      showError(format(gettext("That is more than %(bytes)s bytes: use Stream for long text."), { bytes: limits.say_max_bytes }));
      return;
    }
    if (send({ type: "say", text, use_bot: useBot.checked })) { message.value = ""; showError(""); }
  });

  message.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  streamButton.addEventListener("click", () => {
    const text = message.value;
    if (!text.trim()) return;
    if (!send({ type: "stream", action: "start" })) return;
    for (const chunk of codePointChunks(text, limits.stream_chunk_chars)) send({ type: "stream", action: "chunk", text: chunk });
    send({ type: "stream", action: "end" });
    message.value = "";
    showError("");
  });

  interruptButton.addEventListener("click", () => {
    micStop();
    send({ type: "interrupt" });
  });

  // -- connection indicator ----------------------------------------------------------------

  function renderConnection() {
    let state = socketState;
    if (socketState === "connected") {
      // Before the first drive there is no cloud channel yet; a finished session has none at all.
      if (["closing", "closed", "failed"].includes(sessionStatus)) state = "closed";
      else if (relay.state) state = relay.state;
    }
    connectionEl.textContent = linkStateLabel(state);
    connectionEl.className = `conn conn-${state}`;
    heartbeatEl.textContent = relay.heartbeat_at
      ? format(gettext("last heartbeat %(time)s"), { time: clockTime(relay.heartbeat_at) })
      : gettext("no heartbeat yet");
  }

  function renderControls() {
    const drivable = sessionStatus === "started";
    for (const el of [message, streamButton, interruptButton, form.querySelector("button[type=submit]")]) el.disabled = !drivable;
    if (!audioDriver) {
      micButton.disabled = true;
      micHelp.textContent = gettext("The microphone needs a session created with driver type 3 (audio and text).");
    } else {
      micButton.disabled = !drivable;
      micHelp.textContent = drivable
        ? gettext("Hold to talk, or click once to start and again to stop.")
        : gettext("The microphone works once the session is started.");
      if (!drivable) micStop();
    }
  }

  document.addEventListener("session-connection", (event) => {
    socketState = event.detail;
    renderConnection();
  });

  document.addEventListener("session-message", (event) => {
    const msg = event.detail;
    if (msg.type === "relay") { relay = msg; renderConnection(); }
    else if (msg.type === "error") { showError(msg.message); showProblem(msg.message); }
    else if (msg.type === "session") { sessionStatus = msg.session.status; renderControls(); renderConnection(); }
  });

  // -- microphone ---------------------------------------------------------------------------

  const mic = new Microphone({
    sampleRate: limits.audio_sample_rate,
    packetBytes: limits.audio_chunk_max_bytes,
    onPacket: (pcm, final) => send(final ? { type: "audio", pcm, final: true } : { type: "audio", pcm }),
    onLevel: (level) => { meter.value = level; },
  });

  async function micStart() {
    if (mic.active) return;
    showError("");
    setMicUi(true);
    try {
      await mic.start();
    } catch (err) {
      showError(err.message);
    }
    setMicUi(mic.active);
  }

  function micStop() {
    mic.stop();
    setMicUi(false);
  }

  function setMicUi(on) {
    micButton.setAttribute("aria-pressed", String(on));
    micButton.classList.toggle("recording", on);
  }

  let pressedAt = 0;
  let startedByPress = false;
  micButton.addEventListener("pointerdown", (event) => {
    if (micButton.disabled || event.button !== 0) return;
    pressedAt = performance.now();
    startedByPress = !mic.active;
    if (startedByPress) micStart();
  });
  micButton.addEventListener("pointerup", () => {
    if (!pressedAt) return;
    const held = performance.now() - pressedAt;
    pressedAt = 0;
    // A long press was push-to-talk; a short click toggles (starts, or stops a running one).
    if (held >= HOLD_MS || !startedByPress) micStop();
  });
  micButton.addEventListener("pointerleave", () => {
    if (pressedAt && performance.now() - pressedAt >= HOLD_MS) { pressedAt = 0; micStop(); }
  });
  micButton.addEventListener("keydown", (event) => {
    if (event.key === " " || event.key === "Enter") {
      event.preventDefault();
      if (mic.active) micStop(); else micStart();
    }
  });

  renderConnection();
  renderControls();
}

// The chat box: text, streamed text, microphone audio and interrupt, sent over the session
// page's socket, and the connection indicator built from what comes back.
import { live } from "./session.js";
import { showProblem } from "./transcript.js";

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
  const STREAM_CHUNK = 2000;
  const HOLD_MS = 350; // a press longer than this is push-to-talk; shorter is a toggle click

  let socketState = "connecting";
  let relay = { state: null, heartbeat_at: null };
  let sessionStatus = JSON.parse(document.getElementById("session-summary").textContent).status;

  // -- sending ----------------------------------------------------------------------------

  function send(obj) {
    if (!live.send(obj)) { showError("Not connected to the console; the message was not sent."); return false; }
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
    if (new TextEncoder().encode(text).length > 4000) {
      showError("That is more than 4000 bytes: use Stream for long text.");
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
    for (let i = 0; i < text.length; i += STREAM_CHUNK) send({ type: "stream", action: "chunk", text: text.slice(i, i + STREAM_CHUNK) });
    send({ type: "stream", action: "end" });
    message.value = "";
    showError("");
  });

  interruptButton.addEventListener("click", () => {
    if (mic.active) mic.stop();
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
    connectionEl.textContent = state;
    connectionEl.className = `conn conn-${state}`;
    heartbeatEl.textContent = relay.heartbeat_at
      ? `last heartbeat ${new Date(relay.heartbeat_at).toLocaleTimeString([], { hour12: false })}`
      : "no heartbeat yet";
  }

  function renderControls() {
    const drivable = sessionStatus === "started";
    for (const el of [message, streamButton, interruptButton, form.querySelector("button[type=submit]")]) el.disabled = !drivable;
    if (!audioDriver) {
      micButton.disabled = true;
      micHelp.textContent = "The microphone needs a session created with driver type 3 (audio and text).";
    } else {
      micButton.disabled = !drivable;
      micHelp.textContent = drivable
        ? "Hold to talk, or click once to start and again to stop."
        : "The microphone works once the session is started.";
      if (!drivable && mic.active) mic.stop();
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

  const mic = {
    active: false,
    sentAny: false,
    stream: null,
    context: null,
    node: null,

    async start() {
      if (this.active) return;
      showError("");
      if (!navigator.mediaDevices?.getUserMedia) {
        showError("This page cannot use a microphone here (it needs HTTPS or localhost).");
        return;
      }
      this.active = true;
      this.sentAny = false;
      setMicUi(true);
      try {
        this.stream = await navigator.mediaDevices.getUserMedia({
          audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
        });
      } catch (err) {
        this.active = false;
        setMicUi(false);
        showError(micProblem(err));
        return;
      }
      this.context = new AudioContext();
      await this.context.audioWorklet.addModule(new URL("./pcm-worklet.js", import.meta.url));
      const source = this.context.createMediaStreamSource(this.stream);
      this.node = new AudioWorkletNode(this.context, "pcm-capture", {
        processorOptions: { targetRate: 16000, packetBytes: 5120 },
      });
      this.node.port.onmessage = ({ data }) => {
        if (data.level !== undefined) meter.value = data.level;
        if (data.pcm) {
          const pcm = toBase64(data.pcm);
          if (data.final) {
            // A press too short to fill one packet sent nothing: there is nothing to finish.
            if (pcm || this.sentAny) send({ type: "audio", pcm, final: true });
            this.release();
          } else if (pcm) {
            this.sentAny = send({ type: "audio", pcm }) || this.sentAny;
          }
        }
      };
      // A silent route to the output keeps the worklet running without playing the voice back.
      const mute = this.context.createGain();
      mute.gain.value = 0;
      source.connect(this.node).connect(mute).connect(this.context.destination);
      if (!this.active) this.stop();
    },

    stop() {
      if (!this.active) return;
      this.active = false;
      setMicUi(false);
      if (this.node) this.node.port.postMessage({ flush: true });
      else this.release();
    },

    release() {
      this.stream?.getTracks().forEach((track) => track.stop());
      this.context?.close();
      this.stream = this.context = this.node = null;
      meter.value = 0;
    },
  };

  function micProblem(err) {
    if (err?.name === "NotAllowedError" || err?.name === "SecurityError") {
      return "Microphone permission was denied. Allow the microphone for this site in the browser and try again.";
    }
    if (err?.name === "NotFoundError" || err?.name === "OverconstrainedError") {
      return "No microphone was found. Connect one and try again.";
    }
    if (err?.name === "NotReadableError") return "The microphone is in use by another program or could not be opened.";
    return `The microphone could not be opened: ${err?.message ?? err}`;
  }

  function setMicUi(on) {
    micButton.setAttribute("aria-pressed", String(on));
    micButton.classList.toggle("recording", on);
  }

  function toBase64(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x2000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x2000));
    return btoa(binary);
  }

  let pressedAt = 0;
  let startedByPress = false;
  micButton.addEventListener("pointerdown", (event) => {
    if (micButton.disabled || event.button !== 0) return;
    pressedAt = performance.now();
    startedByPress = !mic.active;
    if (startedByPress) mic.start();
  });
  micButton.addEventListener("pointerup", () => {
    if (!pressedAt) return;
    const held = performance.now() - pressedAt;
    pressedAt = 0;
    // A long press was push-to-talk; a short click toggles (starts, or stops a running one).
    if (held >= HOLD_MS || !startedByPress) mic.stop();
  });
  micButton.addEventListener("pointerleave", () => {
    if (pressedAt && performance.now() - pressedAt >= HOLD_MS) { pressedAt = 0; mic.stop(); }
  });
  micButton.addEventListener("keydown", (event) => {
    if (event.key === " " || event.key === "Enter") {
      event.preventDefault();
      if (mic.active) mic.stop(); else mic.start();
    }
  });

  renderConnection();
  renderControls();
}

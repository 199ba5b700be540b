// The audience view: the avatar's video full screen with large captions of what it is saying now.
// Also exports the pieces the kiosk page reuses (Captions, Stage).
import { connectLive } from "./live.js";
import { SessionPlayer } from "./player.js";
import { SoundControl } from "./sound.js";

const PLAYABLE = new Set(["ready", "started"]);
const OVER = new Set(["done", "interrupted", "failed"]);
// A caption stays readable a moment after the avatar stops, then the screen is clean again.
const LINGER_MS = 2500;

export function spokenText(text) {
  // A tag never holds "<": stopping there keeps this one pass over any text.
  return (text || "").replace(/<[^<>]*>/g, "").replace(/\s+/g, " ").trim();
}

export class Captions {
  constructor(element) {
    this.element = element;
    this.current = null;
    this.timer = null;
  }

  // `utterance`: an {"type": "utterance"} message of the session socket.
  update(utterance) {
    if (utterance.kind === "audio") return;
    if (utterance.state === "speaking") {
      this.show(utterance.req_id, spokenText(utterance.text));
    } else if (utterance.req_id === this.current && OVER.has(utterance.state)) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.clear(), utterance.state === "done" ? LINGER_MS : 0);
    }
  }

  show(id, text) {
    clearTimeout(this.timer);
    this.current = id;
    this.element.textContent = text;
  }

  clear() {
    clearTimeout(this.timer);
    this.current = null;
    this.element.textContent = "";
  }
}

// Follows one session: plays its video (the player recovers it from stalls), keeps the socket
// open, shows captions. The page's "Tap for sound" button serves every session it follows.
export class Stage {
  constructor({ video, note, captions, soundButton, staticRoot, csrfToken, onMessage = () => {}, onConnection = () => {} }) {
    Object.assign(this, { video, note, captions, staticRoot, csrfToken, onMessage, onConnection });
    this.sound = new SoundControl({ video, button: soundButton });
    this.live = null;
    this.player = null;
    this.payload = null;
    this.status = null;
  }

  follow(payload) {
    this.stop();
    this.payload = payload;
    this.status = payload.summary.status;
    this.player = new SessionPlayer({ video: this.video, note: this.note, staticRoot: this.staticRoot,
      trtcUrl: payload.trtc_url, csrfToken: this.csrfToken, sound: this.sound, reportUrl: payload.report_url });
    this.connect();
    this.refreshPlayer();
  }

  connect() {
    this.live = connectLive(this.payload.ws_path, {
      onMessage: (msg) => this.receive(msg),
      onState: (state) => {
        this.onConnection(state);
        if (state === "connected") this.refreshPlayer();
      },
    });
  }

  // Reopen the socket (e.g. once the session started, so the console opens its command channel).
  reconnect() {
    if (!this.payload) return;
    this.live?.close();
    this.connect();
  }

  receive(msg) {
    if (msg.type === "session") {
      const changed = msg.session.status !== this.status;
      this.status = msg.session.status;
      if (changed) this.refreshPlayer();
    } else if (msg.type === "utterance") {
      this.captions.update(msg);
    }
    this.onMessage(msg);
  }

  async refreshPlayer() {
    if (!this.player) return;
    if (!PLAYABLE.has(this.status)) {
      this.player.stop();
      this.captions.clear();
      this.player.say(this.status === "preparing" ? gettext("The avatar is getting ready…")
        : gettext("The presentation will begin shortly."));
      return;
    }
    try {
      const response = await fetch(this.payload.player_url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const { source } = await response.json();
      if (source) this.player.play(source);
    } catch {
      this.player.say(gettext("Reconnecting to the video…"));
    }
  }

  send(message) { return this.live ? this.live.send(message) : false; }

  stop() {
    this.live?.close();
    this.player?.stop();
    this.captions.clear();
    this.live = null;
    this.player = null;
    this.payload = null;
  }
}

export function staticRootOf(doc = document) {
  return doc.querySelector("link[rel=stylesheet]").getAttribute("href").replace(/css\/console\.css.*$/, "");
}

export function csrfTokenOf(doc = document) {
  return doc.querySelector("[name=csrfmiddlewaretoken]")?.value ?? "";
}

function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen().catch(() => {});
}

const root = document.getElementById("audience");
if (root) {
  const stage = new Stage({
    video: document.getElementById("video"),
    note: document.getElementById("player-note"),
    captions: new Captions(document.getElementById("captions")),
    soundButton: document.getElementById("sound-button"),
    staticRoot: staticRootOf(), csrfToken: csrfTokenOf(),
  });
  stage.follow(JSON.parse(document.getElementById("stage").textContent));
  // No visible controls: double-click or F goes full screen (browsers need a gesture for it).
  root.addEventListener("dblclick", toggleFullscreen);
  document.addEventListener("keydown", (event) => { if (event.key === "f" || event.key === "F") toggleFullscreen(); });
}

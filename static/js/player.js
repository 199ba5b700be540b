// Plays a session's video with the technology its play address calls for.
// source: {kind: "flv" | "hls" | "leb" | "trtc", url?, fallback?, ...} from player.json.

const RETRY_MS = 2000;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

export class SessionPlayer {
  constructor({ video, note, staticRoot, trtcUrl, csrfToken }) {
    Object.assign(this, { video, note, staticRoot, trtcUrl, csrfToken });
    this.current = null;
    this.stopped = false;
  }

  say(text) { this.note.textContent = text; this.note.hidden = !text; }

  async play(source) {
    if (this.current && this.current.key === JSON.stringify(source)) return;
    this.stop();
    this.stopped = false;
    const key = JSON.stringify(source);
    try {
      if (source.kind === "flv") this.current = { key, ...this.playFlv(source.url) };
      else if (source.kind === "hls") this.current = { key, ...this.playHls(source.url) };
      else if (source.kind === "leb") this.current = { key, ...(await this.playLeb(source)) };
      else if (source.kind === "trtc") this.current = { key, ...(await this.playTrtc()) };
      else this.say(`This play address (${source.kind}) cannot be played in the page.`);
    } catch (error) {
      this.say(`Video unavailable: ${error.message}`);
    }
  }

  playFlv(url) {
    if (!window.mpegts || !mpegts.getFeatureList().mseLivePlayback) {
      this.say("This browser cannot play HTTP-FLV (Media Source Extensions are missing).");
      return { destroy() {} };
    }
    const player = mpegts.createPlayer({ type: "flv", isLive: true, url },
      { enableWorker: false, liveBufferLatencyChasing: true, lazyLoad: false });
    player.attachMediaElement(this.video);
    player.on(mpegts.Events.ERROR, () => {
      // Stream hiccups happen (a new keyframe, a restarted encoder): reconnect quietly.
      this.say("Reconnecting to the video…");
      player.destroy();
      this.current = null;
      if (!this.stopped) setTimeout(() => { if (!this.stopped) this.play({ kind: "flv", url }); }, RETRY_MS);
    });
    player.load();
    this.video.addEventListener("playing", () => this.say(""), { once: true });
    Promise.resolve(player.play()).catch(() => this.say("Press play to start the video."));
    return { destroy: () => player.destroy() };
  }

  playHls(url) {
    if (this.video.canPlayType("application/vnd.apple.mpegurl")) {
      this.video.src = url;
      this.video.play().catch(() => {});
      return { destroy: () => { this.video.removeAttribute("src"); this.video.load(); } };
    }
    const hls = new Hls({ lowLatencyMode: true });
    hls.loadSource(url);
    hls.attachMedia(this.video);
    hls.on(Hls.Events.MANIFEST_PARSED, () => { this.say(""); this.video.play().catch(() => {}); });
    return { destroy: () => hls.destroy() };
  }

  async playLeb(source) {
    // Tencent's LEB (WebRTC) player; if it cannot start here, fall back to the FLV twin.
    try {
      await loadScript(`${this.staticRoot}vendor/tcplayer/tcplayer.v5.3.4.min.js`);
      const id = `${this.video.id}`;
      const player = TCPlayer(id, { sources: [{ src: source.url }], autoplay: true, muted: true,
        webrtcConfig: { connectRetryCount: 3 } });
      player.on("error", () => { player.dispose(); this.current = null; this.play({ kind: "flv", url: source.fallback }); });
      this.say("");
      return { destroy: () => player.dispose() };
    } catch {
      return this.playFlv(source.fallback);
    }
  }

  async playTrtc() {
    await loadScript(`${this.staticRoot}vendor/trtc/trtc.js`);
    const response = await fetch(this.trtcUrl, { method: "POST", headers: { "X-CSRFToken": this.csrfToken } });
    const join = await response.json();
    if (!response.ok) throw new Error(join.error || "could not join the room");
    const trtc = TRTC.create();
    const view = document.createElement("div");
    view.className = "trtc-view";
    this.video.replaceWith(view);
    trtc.on(TRTC.EVENT.REMOTE_VIDEO_AVAILABLE, ({ userId, streamType }) => {
      if (userId === join.avatar_user_id || !join.avatar_user_id) trtc.startRemoteVideo({ userId, streamType, view });
    });
    const room = /^\d+$/.test(join.room) ? { roomId: Number(join.room) } : { strRoomId: join.room };
    await trtc.enterRoom({ sdkAppId: Number(join.app_id), userId: join.user_id, userSig: join.user_sig,
      scene: "live", role: "audience", ...room });
    this.say("");
    return { destroy: () => { trtc.exitRoom(); view.replaceWith(this.video); } };
  }

  stop() {
    this.stopped = true;
    if (this.current) { this.current.destroy(); this.current = null; }
  }
}

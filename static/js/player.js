// Plays a session's video with the technology its play address calls for.
// source: {kind: "flv" | "hls" | "leb" | "trtc", url?, fallback?, ...} from player.json.

const RETRY_MS = 2000;

// The HLS twin the gateway serves beside each HTTP-FLV stream: same address, .m3u8.
const hlsTwin = (flvUrl) => flvUrl.replace(/\.flv(?=$|\?)/, ".m3u8");

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
    // Without Media Source Extensions (Safari on iOS) mpegts.js cannot play: the stream's HLS
    // twin at the same address can, natively or through hls.js.
    if (!window.mpegts || !mpegts.getFeatureList().mseLivePlayback) return this.playHls(hlsTwin(url));
    const player = mpegts.createPlayer({ type: "flv", isLive: true, url },
      { enableWorker: false, liveBufferLatencyChasing: true, lazyLoad: false });
    player.attachMediaElement(this.video);
    player.on(mpegts.Events.ERROR, (type) => {
      player.destroy();
      this.current = null;
      if (this.stopped) return;
      // A media error means this browser cannot decode the FLV stream: HLS is the way in.
      if (type === mpegts.ErrorTypes.MEDIA_ERROR) { this.play({ kind: "hls", url: hlsTwin(url) }); return; }
      // Stream hiccups happen (a new keyframe, a restarted encoder): reconnect quietly.
      this.say("Reconnecting to the video…");
      setTimeout(() => { if (!this.stopped) this.play({ kind: "flv", url }); }, RETRY_MS);
    });
    player.load();
    this.video.addEventListener("playing", () => this.say(""), { once: true });
    Promise.resolve(player.play()).catch(() => this.say("Press play to start the video."));
    return { destroy: () => player.destroy() };
  }

  playHls(url) {
    // hls.js first wherever it runs: a browser's own HLS player may claim more than it can do
    // (Chromium answers "maybe", then cannot parse the stream). Native HLS is for the rest (iOS).
    if (window.Hls && Hls.isSupported()) {
      const hls = new Hls({ lowLatencyMode: true });
      hls.loadSource(url);
      hls.attachMedia(this.video);
      hls.on(Hls.Events.MANIFEST_PARSED, () => { this.say(""); this.video.play().catch(() => {}); });
      return { destroy: () => hls.destroy() };
    }
    if (this.video.canPlayType("application/vnd.apple.mpegurl")) {
      this.video.src = url;
      this.video.play().catch(() => {});
      return { destroy: () => { this.video.removeAttribute("src"); this.video.load(); } };
    }
    this.say("This browser can play neither HTTP-FLV nor HLS.");
    return { destroy() {} };
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

// Plays a session's video with the technology its play address calls for, notices when the picture
// stops and gets it back, and says what it is doing in the note (an aria-live region).
// source: {kind: "flv" | "hls" | "leb" | "trtc", url?, fallback?, ...} from player.json.
//
// Recovery, when no new frame came for STALL_MS while the session is live: seek to the live edge
// (the picture is stuck but data kept coming), then reload the stream, then try the next way of
// playing it (HTTP-FLV → its HLS twin → back), each given longer than the one before. It is over
// when frames have kept coming for RECOVERED_MS. Each stall (count and length), the first frame
// after the start and after each reload are reported to the console.
import { FrameWatch } from "./frame-watch.js";
import { playerReporter } from "./player-report.js";

const STALL_MS = 3000;
// Starting takes longer than going on: a first HLS playlist waits for a segment to exist.
const START_MS = 10000;
const RECOVERED_MS = 1000;
const TICK_MS = 500;
const RECOVERED_NOTE_MS = 4000;
const STEP_MS = [1500, 6000, 8000, 12000, 16000];
const LIVE_EDGE_MARGIN_S = 0.3;

// The HLS twin the gateway serves beside each HTTP-FLV stream: same address, .m3u8.
const hlsTwin = (flvUrl) => flvUrl.replace(/\.flv(?=$|\?)/, ".m3u8");
const mseLive = () => Boolean(window.mpegts && mpegts.getFeatureList().mseLivePlayback);

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(interpolate(gettext("could not load %(src)s"), { src }, true)));
    document.head.append(script);
  });
}

// The ways of playing a source, best first: recovery moves along them.
function waysToPlay(source) {
  if (source.kind === "flv") return mseLive() ? [source, { kind: "hls", url: hlsTwin(source.url) }] : [{ kind: "hls", url: hlsTwin(source.url) }];
  if (source.kind === "leb") return [source, ...waysToPlay({ kind: "flv", url: source.fallback })];
  return [source];
}

// A destroy that may be called by the technology's own error handler and again by the player.
function once(fn) {
  let done = false;
  return () => { if (!done) { done = true; fn(); } };
}

// Where a stuck live stream picks up again: just short of the end of what was received.
function bufferedEdge(video) {
  return video.buffered.length ? video.buffered.end(video.buffered.length - 1) - LIVE_EDGE_MARGIN_S : null;
}

export class SessionPlayer {
  constructor({ video, note, staticRoot, trtcUrl, csrfToken, sound = null, reportUrl = "" }) {
    Object.assign(this, { video, note, staticRoot, trtcUrl, csrfToken, sound });
    this.report = playerReporter(reportUrl, csrfToken);
    this.current = null; // the technology playing now: {destroy(), liveEdge()}
    this.key = null; // the source asked for
    this.ways = [];
    this.way = 0;
    this.stopped = true;
    this.started = false; // a first frame was reported for this player's first start
    this.attachedAt = 0;
    this.awaiting = null; // "start" or "reconnect" until the attached stream shows a frame
    this.lastFrameAt = 0;
    this.shown = false; // a frame was shown since play(): only then is a stop a stall
    this.stall = null; // {since, step, stepAt, recoveringSince, counts}
    this.noteTimer = null;
    this.frames = new FrameWatch(video, () => this.frame());
    this.ticker = null;
    this.onPageHide = () => this.endStall({ keepalive: true });
  }

  say(text) {
    clearTimeout(this.noteTimer);
    this.note.textContent = text;
    this.note.hidden = false;
  }

  // "reconnecting" or "playing", on the player's box: the frozen picture is dimmed while reconnecting.
  show(state) {
    this.video.closest(".player, .stage")?.setAttribute("data-video", state);
  }

  async play(source) {
    const key = JSON.stringify(source);
    if (!this.stopped && this.key === key) return;
    this.stop();
    this.stopped = false;
    this.key = key;
    this.ways = waysToPlay(source);
    this.way = 0;
    this.shown = false;
    await this.attach(this.started ? "reconnect" : "start");
  }

  async attach(cause) {
    this.current?.destroy();
    this.current = null;
    const way = this.ways[this.way];
    this.attachedAt = performance.now();
    this.lastFrameAt = this.attachedAt;
    this.awaiting = cause;
    try {
      if (way.kind === "flv") this.current = this.playFlv(way.url);
      else if (way.kind === "hls") this.current = this.playHls(way.url);
      else if (way.kind === "leb") this.current = await this.playLeb(way);
      else if (way.kind === "trtc") this.current = await this.playTrtc();
      else this.say(interpolate(gettext("This play address (%(kind)s) cannot be played in the page."), { kind: way.kind }, true));
    } catch (error) {
      this.say(interpolate(gettext("Video unavailable: %(error)s"), { error: error.message }, true));
    }
    // TRTC draws into a view of its own, which has no frames to watch.
    if (this.current && way.kind !== "trtc") this.watch();
  }

  watch() {
    this.frames.start();
    if (this.ticker !== null) return;
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    window.addEventListener("pagehide", this.onPageHide);
  }

  startPlayback() {
    if (this.sound) this.sound.play();
    else this.video.play().catch(() => {});
  }

  frame() {
    const now = performance.now();
    if (this.awaiting) {
      this.report({ event: "first_frame", ms: Math.round(now - this.attachedAt), after: this.awaiting });
      if (this.awaiting === "start") this.started = true;
      this.awaiting = null;
      if (!this.stall) this.say("");
    }
    if (this.stall) {
      // Frames must keep coming, not one: a reload may show a picture it still held, then stop.
      if (this.stall.recoveringSince === Infinity || now - this.lastFrameAt > STALL_MS / 2) this.stall.recoveringSince = now;
      else if (now - this.stall.recoveringSince >= RECOVERED_MS) this.recovered();
    }
    this.shown = true;
    this.lastFrameAt = now;
  }

  tick() {
    const now = performance.now();
    // Hidden pages paint no frames, and a video the viewer paused is not stalled.
    if (this.stopped || !this.current || document.hidden || (this.video.paused && !this.video.ended && !this.stall)) {
      if (!this.stall) this.lastFrameAt = now;
      return;
    }
    if (!this.stall) {
      const limit = this.awaiting === "start" ? START_MS : STALL_MS;
      if (now - this.lastFrameAt > limit) this.stalled(now);
      return;
    }
    const waited = now - this.stall.stepAt;
    if (now - this.lastFrameAt > STALL_MS / 2 && waited > STEP_MS[Math.min(this.stall.step, STEP_MS.length - 1)]) this.nextStep(now);
  }

  // fromStep 0 skips the seek to the live edge (after an error there is nothing left to seek in).
  stalled(now, fromStep = -1) {
    // A stream that never showed a frame is recovered the same way, but it did not stall.
    this.stall = { since: this.lastFrameAt, step: fromStep, stepAt: now, recoveringSince: Infinity, counts: this.shown };
    this.say(gettext("Reconnecting video…"));
    this.show("reconnecting");
    this.nextStep(now);
  }

  nextStep(now) {
    const stall = this.stall;
    stall.step += 1;
    stall.stepAt = now;
    stall.recoveringSince = Infinity;
    if (stall.step === 0) {
      const edge = this.current?.liveEdge();
      // Only worth it when data kept coming past the frozen picture (a gap in the stream, a
      // decoder that fell behind); otherwise reloading is the first real step.
      if (edge !== null && edge !== undefined && edge - this.video.currentTime > LIVE_EDGE_MARGIN_S) {
        this.video.currentTime = edge;
        this.startPlayback();
        return;
      }
      stall.step = 1;
    }
    // Reload the same way first, then move along the ways of playing it, round and round.
    if (stall.step > 1) this.way = (this.way + 1) % this.ways.length;
    this.attach("reconnect");
  }

  recovered() {
    const stall = this.stall;
    this.stall = null;
    const counted = this.reportStall(stall, stall.recoveringSince);
    this.show("playing");
    this.say(counted ? gettext("Video recovered.") : "");
    this.noteTimer = setTimeout(() => { if (!this.stall) this.say(""); }, RECOVERED_NOTE_MS);
  }

  // The page goes away or stops playing in the middle of a stall: it counts for as long as it lasted.
  endStall({ keepalive = false } = {}) {
    const stall = this.stall;
    this.stall = null;
    this.show("playing");
    if (stall) this.reportStall(stall, performance.now(), { keepalive });
  }

  // A stall is a picture that stopped for STALL_MS or more: an error recovered sooner was not one
  // (nor is the end of the stream when the session closes, noticed before the session's new status).
  reportStall(stall, until, options = {}) {
    const ms = Math.round(until - stall.since);
    if (!stall.counts || ms < STALL_MS) return false;
    this.report({ event: "stall", ms }, options);
    return true;
  }

  // The current way of playing cannot go on (an error it will not get past): the next step now.
  failed() {
    if (this.stopped || !this.current) return;
    const now = performance.now();
    if (!this.stall) { this.stalled(now, 0); return; }
    this.stall.step = Math.max(this.stall.step, 0);
    this.nextStep(now);
  }

  playFlv(url) {
    const player = mpegts.createPlayer({ type: "flv", isLive: true, url },
      { enableWorker: false, liveBufferLatencyChasing: true, lazyLoad: false });
    player.attachMediaElement(this.video);
    const destroy = once(() => player.destroy());
    player.on(mpegts.Events.ERROR, (type) => {
      destroy();
      if (this.current?.destroy !== destroy) return;
      // A media error means this browser cannot decode the FLV stream: move on to HLS for good.
      if (type === mpegts.ErrorTypes.MEDIA_ERROR && this.ways.length > 1) this.ways.splice(this.way, 1);
      this.failed();
    });
    player.load();
    this.startPlayback();
    return { destroy, liveEdge: () => bufferedEdge(this.video) };
  }

  playHls(url) {
    // hls.js first wherever it runs: a browser's own HLS player may claim more than it can do
    // (Chromium answers "maybe", then cannot parse the stream). Native HLS is for the rest (iOS).
    if (window.Hls && Hls.isSupported()) {
      const hls = new Hls({ lowLatencyMode: true });
      const destroy = once(() => hls.destroy());
      hls.on(Hls.Events.MEDIA_ATTACHED, () => this.startPlayback());
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (!data.fatal) return;
        destroy();
        if (this.current?.destroy === destroy) this.failed();
      });
      hls.loadSource(url);
      hls.attachMedia(this.video);
      return { destroy, liveEdge: () => hls.liveSyncPosition ?? bufferedEdge(this.video) };
    }
    if (this.video.canPlayType("application/vnd.apple.mpegurl")) {
      const onError = () => {
        // Network trouble is recovered like a stall; a stream this browser cannot read is final.
        if (this.video.error?.code === MediaError.MEDIA_ERR_NETWORK) { this.failed(); return; }
        this.stop();
        this.say(interpolate(gettext("This browser cannot play this video (%(reason)s)."),
          { reason: this.video.error?.message || gettext("unsupported stream") }, true));
      };
      const destroy = () => {
        this.video.removeEventListener("error", onError);
        this.video.removeAttribute("src");
        this.video.load();
      };
      this.video.addEventListener("error", onError);
      this.video.src = url;
      this.startPlayback();
      return { destroy, liveEdge: () => bufferedEdge(this.video) };
    }
    this.say(gettext("This browser can play neither HTTP-FLV nor HLS."));
    return null;
  }

  async playLeb(source) {
    // Tencent's LEB (WebRTC) player; if it cannot start here, the next way (the FLV twin) is tried.
    await loadScript(`${this.staticRoot}vendor/tcplayer/tcplayer.v5.3.4.min.js`);
    const player = TCPlayer(this.video.id, { sources: [{ src: source.url }], autoplay: true, muted: true,
      webrtcConfig: { connectRetryCount: 3 } });
    const destroy = once(() => player.dispose());
    player.on("error", () => { if (this.current?.destroy === destroy) this.failed(); });
    return { destroy, liveEdge: () => null };
  }

  async playTrtc() {
    await loadScript(`${this.staticRoot}vendor/trtc/trtc.js`);
    const response = await fetch(this.trtcUrl, { method: "POST", headers: { "X-CSRFToken": this.csrfToken } });
    const join = await response.json();
    if (!response.ok) throw new Error(join.error || gettext("could not join the room"));
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
    return { destroy: () => { trtc.exitRoom(); view.replaceWith(this.video); }, liveEdge: () => null };
  }

  stop() {
    this.endStall();
    this.stopped = true;
    this.key = null;
    this.awaiting = null;
    this.frames.stop();
    clearInterval(this.ticker);
    this.ticker = null;
    window.removeEventListener("pagehide", this.onPageHide);
    if (this.current) { this.current.destroy(); this.current = null; }
    this.sound?.idle();
  }
}

// Tells when a video element shows a new frame: requestVideoFrameCallback where the browser has it
// (it fires per frame actually presented, so a stream that still "plays" a frozen picture is caught),
// else the progress of currentTime, sampled a few times a second.
const POLL_MS = 250;

export class FrameWatch {
  constructor(video, onFrame) {
    this.video = video;
    this.onFrame = onFrame;
    this.handle = null;
    this.timer = null;
  }

  start() {
    if (this.handle !== null || this.timer !== null) return;
    if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
      const next = () => { this.handle = this.video.requestVideoFrameCallback(() => { next(); this.onFrame(); }); };
      next();
    } else {
      let last = this.video.currentTime;
      this.timer = setInterval(() => {
        if (this.video.currentTime !== last) { last = this.video.currentTime; this.onFrame(); }
      }, POLL_MS);
    }
  }

  stop() {
    if (this.handle !== null) this.video.cancelVideoFrameCallback(this.handle);
    clearInterval(this.timer);
    this.handle = null;
    this.timer = null;
  }
}

// Sound under the browsers' autoplay rules: the video starts with sound when the browser allows it
// and the viewer did not turn it off; otherwise it plays muted and one "Tap for sound" button says
// so (pages without controls, the audience view and the kiosk, show nothing else that would).
// The viewer's choice is remembered in this browser.
const KEY = "tcadh-video-sound";

function saved() {
  try { return localStorage.getItem(KEY); } catch { return null; }
}

function remember(choice) {
  try { localStorage.setItem(KEY, choice); } catch { /* private mode: the choice lasts this page */ }
}

export class SoundControl {
  constructor({ video, button }) {
    Object.assign(this, { video, button });
    this.muted = saved() === "off";
    button.addEventListener("click", () => this.unmute());
    // A change made here is expected; any other one is the viewer's, through the video's controls.
    video.addEventListener("volumechange", () => {
      if (video.muted === this.muted) return;
      this.muted = video.muted;
      remember(this.muted ? "off" : "on");
      this.render();
    });
  }

  // Play what the player just attached, with sound if allowed.
  async play() {
    this.video.muted = this.muted;
    try {
      await this.video.play();
    } catch (error) {
      // AbortError: a newer load replaced this one, which plays by itself.
      if (error.name !== "NotAllowedError") return;
      if (!this.video.muted) {
        this.muted = true;
        this.video.muted = true;
        this.render();
        return this.play();
      }
    }
    this.render();
  }

  unmute() {
    this.muted = false;
    this.video.muted = false;
    remember("on");
    // A tap is the gesture the browser waited for: it plays with sound from here on.
    this.video.play().catch(() => {});
    this.render();
  }

  render() {
    this.button.hidden = !this.video.muted;
  }

  // Nothing is playing: there is no sound to offer.
  idle() {
    this.button.hidden = true;
  }
}

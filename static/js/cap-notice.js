// The daily cap's warning, in view on the session page and the presenter view: the console warns a
// live session a minute before its account's or operator's cap closes it (the cap sweep's note
// event); this counts that minute down until the session closes.
const ENDED = new Set(["closing", "closed", "failed"]);

export class CapNotice {
  constructor(element) {
    this.element = element;
    this.timer = null;
    this.ended = false;
  }

  // `event`: a session event summary whose data says `cap_warning`.
  show(event) {
    const closesAt = Date.parse(event.at) + event.data.closes_in_seconds * 1000;
    const tick = () => {
      const left = Math.max(0, Math.round((closesAt - Date.now()) / 1000));
      this.element.textContent = left
        ? interpolate(gettext("The daily cap closes this session in %(seconds)s s."), { seconds: left }, true)
        : gettext("The daily cap is reached: this session closes now.");
    };
    clearInterval(this.timer);
    tick();
    this.timer = setInterval(tick, 1000);
    this.element.hidden = false;
  }

  clear() {
    clearInterval(this.timer);
    this.element.hidden = true;
  }

  // Follows a message of the session socket: a warning as it comes, or in the history a page is
  // sent when it (re)connects, which holds any warning given while it was away.
  follow(msg) {
    const warnings = msg.type === "event" ? [msg.event] : msg.type === "events" ? msg.events : [];
    const warning = warnings.filter((event) => event.data?.cap_warning).at(-1);
    if (warning && !this.ended) this.show(warning);
    if (msg.type === "session") {
      this.ended = ENDED.has(msg.session.status);
      if (this.ended) this.clear();
    }
  }
}

const standing = document.getElementById("cap-warning");
const element = document.getElementById("cap-notice");
if (standing && element) {
  const notice = new CapNotice(element);
  const warning = JSON.parse(standing.textContent);
  if (warning) notice.show(warning);
  document.addEventListener("session-message", (event) => notice.follow(event.detail));
}

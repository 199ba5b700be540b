import { cloudErrorWords } from "./cloud-words.js";

// Words for the values the console sends (session statuses, utterance states, link states) in the
// page's language, from Django's JavaScript catalog (the /jsi18n/ script every page loads first).
const STATUS = {
  preparing: pgettext("session status", "preparing"),
  ready: pgettext("session status", "ready"),
  started: pgettext("session status", "started"),
  closing: pgettext("session status", "closing"),
  closed: pgettext("session status", "closed"),
  failed: pgettext("session status", "failed"),
};

const UTTERANCE_STATE = {
  queued: pgettext("utterance state", "queued"),
  speaking: pgettext("utterance state", "speaking"),
  done: pgettext("utterance state", "done"),
  interrupted: pgettext("utterance state", "interrupted"),
  failed: pgettext("utterance state", "failed"),
};

const LINK_STATE = {
  connecting: pgettext("avatar link", "connecting"),
  connected: pgettext("avatar link", "connected"),
  reconnecting: pgettext("avatar link", "reconnecting"),
  closed: pgettext("avatar link", "closed"),
};

export const statusLabel = (status) => STATUS[status] ?? status;
export const utteranceStateLabel = (state) => UTTERANCE_STATE[state] ?? state;
export const linkStateLabel = (state) => LINK_STATE[state] ?? state;

// gettext with named %(name)s placeholders filled from `values`.
export const format = (text, values) => interpolate(text, values, true);

// What the console stores or tells every viewer of a session is in English, as it wrote it: the
// session history's events (the avatar's speak statuses too, which the admin lists), close
// reasons and errors, the chat's errors in the transcript and on utterances (a drive refused once
// the avatar link stopped says why it stopped: sessions_app/live/words.py), and audit details.
// Shown, their fixed words are in the page's language and what they quote (names, the cloud's own
// message, its wire names such as TextStart) stays as is.
const CONSOLE_WORDS = {
  ready: pgettext("session status", "ready"),
  started: pgettext("session status", "started"),
  "started (seen in the cloud)": gettext("started (seen in the cloud)"),
  "found in the cloud, not created here (orphan)": gettext("found in the cloud, not created here (orphan)"),
  "still live in the cloud after it ended here: closing it again": gettext("still live in the cloud after it ended here: closing it again"),
  "closed by operator": gettext("closed by operator"),
  "the kiosk page was closed": gettext("the kiosk page was closed"),
  idle: gettext("idle"),
  "it is started": gettext("it is started"),
  "someone drives the avatar": gettext("someone drives the avatar"),
  "the avatar could not speak it": gettext("the avatar could not speak it"),
  "the avatar's connection is backed up; wait a moment and try again": gettext("the avatar's connection is backed up; wait a moment and try again"),
  "the command channel is closed": gettext("the command channel is closed"),
  "the command channel ended": gettext("the command channel ended"),
  "the session is no longer started": gettext("the session is no longer started"),
  "no page has the session open": gettext("no page has the session open"),
  "the console is shutting down": gettext("the console is shutting down"),
  "another console process took the command channel over": gettext("another console process took the command channel over"),
  interrupted: pgettext("utterance state", "interrupted"),
  "creation failed in the cloud": gettext("creation failed in the cloud"),
  "closed in the cloud while preparing": gettext("closed in the cloud while preparing"),
  "no longer known to the cloud": gettext("no longer known to the cloud"),
  "closed in the cloud": gettext("closed in the cloud"),
  // The cloud's close types (sessions_app/sweeps.py CLOSE_TYPE_WORDS).
  "force-closed by owner": gettext("force-closed by owner"),
  "timed out with no interaction": gettext("timed out with no interaction"),
  "downstream exited": gettext("downstream exited"),
  "service restart": gettext("service restart"),
  "same UserId opened a new stream": gettext("same UserId opened a new stream"),
  "the kiosk was switched off": gettext("the kiosk was switched off"),
  "outside the kiosk's daily window": gettext("outside the kiosk's daily window"),
  "the kiosk page stopped responding": gettext("the kiosk page stopped responding"),
};

// The cloud's own message, as the chat quotes it ("no message" when it sent none).
const said = (text) => (text === "no message" ? gettext("no message") : text);

// Each pattern's words, or null when the match is not one of them after all.
const CONSOLE_PATTERNS = [
  [/^created from project (.*), (\w+)$/, (m) => format(gettext("created from project %(name)s, %(status)s"), { name: m[1], status: statusLabel(m[2]) })],
  [/^created from asset (.*), (\w+)$/, (m) => format(gettext("created from asset %(name)s, %(status)s"), { name: m[1], status: statusLabel(m[2]) })],
  [/^closing: (.*)$/s, (m) => format(gettext("closing: %(reason)s"), { reason: consoleWords(m[1]) })],
  [/^closed: (.*)$/s, (m) => format(gettext("closed: %(reason)s"), { reason: consoleWords(m[1]) })],
  [/^failed: (.*)$/s, (m) => format(gettext("failed: %(reason)s"), { reason: consoleWords(m[1]) })],
  [/^closed in the cloud: (.*)$/s, (m) => format(gettext("closed in the cloud: %(reason)s"), { reason: consoleWords(m[1]) })],
  [/^confirmed closed in the cloud: (.*)$/s, (m) => format(gettext("confirmed closed in the cloud: %(how)s"), { how: consoleWords(m[1]) })],
  [/^automatic start failed: (.*)$/s, (m) => format(gettext("automatic start failed: %(error)s"), { error: consoleWords(m[1]) })],
  [/^said over HTTP: (.*)$/s, (m) => format(gettext("said over HTTP: %(text)s"), { text: m[1] })],
  [/^layout changed: (.*)$/s, (m) => format(gettext("layout changed: %(detail)s"), { detail: consoleWords(m[1]) })],
  [/^adopted by (.*)$/s, (m) => format(gettext("adopted by %(name)s"), { name: m[1] })],
  [/^idle: closing in (\d+) s unless (.*)$/s, (m) => format(gettext("idle: closing in %(seconds)s s unless %(unless)s"), { seconds: m[1], unless: consoleWords(m[2]) })],
  [/^kiosk ([^:]*): (.*)$/s, (m) => format(gettext("kiosk %(slug)s: %(reason)s"), { slug: m[1], reason: consoleWords(m[2]) })],
  [/^not started within (\d+) s$/, (m) => format(gettext("not started within %(seconds)s s"), { seconds: m[1] })],
  [/^orphan not adopted within (\d+) minutes$/, (m) => format(gettext("orphan not adopted within %(minutes)s minutes"), { minutes: m[1] })],
  [/^daily cap reached: (.*)$/s, (m) => format(gettext("daily cap reached: %(cap)s"), { cap: consoleWords(m[1]) })],
  [/^daily cap: closing in (\d+) s, (.*)$/s, (m) => format(gettext("daily cap: closing in %(seconds)s s, %(cap)s"), { seconds: m[1], cap: consoleWords(m[2]) })],
  [/^account (.*) has used ([\d.]+) of its (\d+) session-minutes for the day$/s, (m) => format(gettext("account %(name)s has used %(used)s of its %(cap)s session-minutes for the day"), { name: m[1], used: m[2], cap: m[3] })],
  [/^operator (.*) has used ([\d.]+) of their (\d+) session-minutes for the day$/s, (m) => format(gettext("operator %(name)s has used %(used)s of their %(cap)s session-minutes for the day"), { name: m[1], used: m[2], cap: m[3] })],
  [/^the session is (\w+)$/, (m) => format(gettext("the session is %(status)s"), { status: statusLabel(m[1]) })],
  [/^the cloud refused the command channel: (.*) \(code (-?\d+)\)$/s, (m) => format(gettext("the cloud refused the command channel: %(message)s (code %(code)s)"), { message: m[1], code: m[2] })],
  [/^the cloud ended the command channel: (.*) \(code (-?\d+)\)$/s, (m) => format(gettext("the cloud ended the command channel: %(message)s (code %(code)s)"), { message: m[1], code: m[2] })],
  [/^the cloud refused: (.*) \(code (-?\d+)\)$/s, (m) => format(gettext("the cloud refused: %(said)s (code %(code)s)"), { said: said(m[1]), code: m[2] })],
  [/^unreadable frame from the cloud: (.*) \(code (-?\d+)\)$/s, (m) => format(gettext("unreadable frame from the cloud: %(said)s (code %(code)s)"), { said: said(m[1]), code: m[2] })],
  [/^closing in the cloud failed \(attempt (\d+)\), will retry: (.*)$/s, (m) => format(gettext("closing in the cloud failed (attempt %(attempt)s), will retry: %(said)s"), { attempt: m[1], said: m[2] })],
  [/^not ready after ([\d.]+) minutes$/, (m) => format(gettext("not ready after %(minutes)s minutes"), { minutes: m[1] })],
  [/^orphan closed by (.*)$/s, (m) => format(gettext("orphan closed by %(name)s"), { name: m[1] })],
  [/^absent from the cloud's list (\d+) times$/, (m) => format(gettext("absent from the cloud's list %(count)s times"), { count: m[1] })],
  [/^statsession: (.*)$/s, (m) => format(gettext("statsession: %(reason)s"), { reason: consoleWords(m[1]) })],
  [/^command channel closed: (.*)$/s, (m) => format(gettext("command channel closed: %(reason)s"), { reason: consoleWords(m[1]) })],
  [/^a (\w+) session cannot be started$/, (m) => format(gettext("a %(status)s session cannot be started"), { status: statusLabel(m[1]) })],
  [/^(.*), all of the daily cap; new sessions are refused until tomorrow unless an admin raises the cap$/s, (m) => format(gettext("%(words)s, all of the daily cap; new sessions are refused until tomorrow unless an admin raises the cap"), { words: consoleWords(m[1]) })],
  [/^session (\w+)$/, (m) => format(gettext("session %(status)s"), { status: statusLabel(m[1]) })],
  // The avatar's speak statuses (sessions_app/live/utterances.py), by their wire names.
  [/^avatar (\w+)$/, (m) => format(gettext("avatar %(status)s"), { status: m[1] })],
  [/^avatar (\w+) \(clause (\d+)\)$/, (m) => format(gettext("avatar %(status)s (clause %(clause)s)"), { status: m[1], clause: m[2] })],
  // Audit details.
  [/^code (-?\d+): (.*)$/s, (m) => format(gettext("code %(code)s: %(said)s"), { code: m[1], said: m[2] })],
  [/^position (\S+), vertical (\S+), zoom (\S+)$/, (m) => format(gettext("position %(position)s, vertical %(vertical)s, zoom %(zoom)s"), { position: m[1], vertical: m[2], zoom: m[3] })],
  [/^script (\d+) “(.*)”, (\d+) cues$/s, (m) => format(gettext("script %(id)s “%(name)s”, %(count)s cues"), { id: m[1], name: m[2], count: m[3] })],
  [/^script (\d+) “(.*)”$/s, (m) => format(gettext("script %(id)s “%(name)s”"), { id: m[1], name: m[2] })],
  [/^kiosk (\S+)$/, (m) => format(gettext("kiosk %(slug)s"), { slug: m[1] })],
  [/^viewer (.*)$/s, (m) => format(gettext("viewer %(user)s"), { user: m[1] })],
  [/^(\d+) bytes of audio$/, (m) => format(gettext("%(count)s bytes of audio"), { count: m[1] })],
  // Last: a message that quotes the cloud's words (failed: …, automatic start failed: …) is
  // matched by its own pattern first, which looks its reason up again.
  [/^.* \(the cloud said: (.*), code (-?\d+)\)$/s, (m) => cloudErrorWords(Number(m[2]), said(m[1]))],
];

export function consoleWords(message) {
  if (Object.hasOwn(CONSOLE_WORDS, message)) return CONSOLE_WORDS[message];
  for (const [pattern, words] of CONSOLE_PATTERNS) {
    const match = pattern.exec(message);
    const shown = match && words(match);
    if (shown) return shown;
  }
  return message;
}

// A session's source as the console's summaries give it ("project …", "asset …").
export function sourceLabel(source) {
  const match = /^(project|asset) (.*)$/s.exec(source || "");
  if (!match) return source === "unknown source" ? gettext("unknown source") : source;
  return format(match[1] === "project" ? gettext("project %(name)s") : gettext("asset %(name)s"), { name: match[2] });
}

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

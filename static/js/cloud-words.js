// The console's words for the cloud's error codes, as sessions_app/cloud_errors.py has them: a row
// stores them in English (why a session failed, an automatic start refused), and a page shows them
// in its language from the code the stored text ends with. tests/console/test_stored_words.py checks that
// every code of the Python table is here and reads the same in Chinese.
const BUY_CONCURRENCY = gettext("in the Digital Human console (resource management) buy or renew session-interaction concurrency");

// code -> [what happened, what to do]
const CLOUD_ERROR_WORDS = {
  [-101000]: [gettext("the cloud had an internal error"), gettext("try again in a moment")],
  [-101001]: [gettext("the cloud has no rendering capacity free right now"),
    gettext("try again in a minute; if it keeps happening, contact Tencent Cloud support")],
  [-101002]: [gettext("the cloud could not download an image (background or foreground)"),
    gettext("check that its URL is public and the file is a jpg or png under 1 MB")],
  [-111001]: [gettext("the cloud could not change the stream's layout"), gettext("try again; keep the values within their ranges")],
  [-111002]: [gettext("the cloud's connection to the session dropped"), gettext("create a new session")],
  [-111003]: [gettext("the cloud could not load the avatar model"), gettext("create the session again, or choose another avatar")],
  [-111004]: [gettext("the cloud timed out creating the stream"), gettext("create the session again")],
  [-111005]: [gettext("the cloud could not drive the avatar with that text or audio"), gettext("send it again, or shorten it")],
  100001: [gettext("the cloud rejected a parameter (format, length, type or a missing value)"), gettext("check the values in the form")],
  100005: [gettext("the cloud refused this appkey for that project or asset, or the credentials"),
    gettext("check in Admin → Accounts that the project or asset belongs to this account and that the appkey and accesstoken are right")],
  100008: [gettext("every concurrent session the account purchased is in use"),
    gettext("close a live session on the Dashboard, or {buy}").replace("{buy}", BUY_CONCURRENCY)],
  100012: [gettext("requests came too fast for the cloud"), gettext("wait a moment and try again")],
  100014: [gettext("the account has no session concurrency quota left, or it has expired"), BUY_CONCURRENCY],
  100015: [gettext("this avatar has expired"),
    gettext("renew it in the Digital Human console (asset management), or choose another avatar")],
  110013: [gettext("the session is already closed in the cloud"), gettext("create a new session")],
  110014: [gettext("the session is not ready yet"), gettext("wait until it is ready, then try again")],
  110015: [gettext("the command came at the wrong moment and was not processed"),
    gettext("wait until the avatar finishes speaking, or interrupt it first")],
  110016: [gettext("the session was never started"), gettext("start it first")],
  110018: [gettext("the cloud does not know this session (it may have expired)"), gettext("create a new session")],
  110021: [gettext("the TRTC application is in arrears or has no minutes left"),
    gettext("top up the TRTC account in the Tencent Cloud console, or use the RTMP or WebRTC protocol")],
  110022: [gettext("the session was closed because another session was created with the same UserId"),
    gettext("give each session its own UserId")],
};

// "<what>: <todo> (the cloud said: <said>, code <code>)" in the page's language, or null when the
// code is not one the console explains.
export function cloudErrorWords(code, said) {
  const known = CLOUD_ERROR_WORDS[code];
  if (!known) return null;
  return interpolate(gettext("%(what)s: %(todo)s (the cloud said: %(said)s, code %(code)s)"),
    { what: known[0], todo: known[1], said, code }, true);
}

// The session's transcript, for everyone watching: who said what when, the avatar's state and
// speak statuses per utterance, the bound bot's answers and errors. The page renders what was
// saved (its download link serves all of it); this keeps it growing from the session socket.
import { h } from "./dom.js";
import { consoleWords, format, utteranceStateLabel } from "./labels.js";
import { clockTime } from "./when.js";

const transcript = document.getElementById("transcript");
const SPEAK_TRAIL = new Set(["TextStart", "TextOver", "AudioStart", "AudioOver", "Error"]);

function follow() {
  transcript.scrollTop = transcript.scrollHeight;
}

// An utterance is known by its ReqId, from the page's first render to its last speak status.
function entryFor(reqId) {
  let li = transcript.querySelector(`li[data-req="${CSS.escape(reqId)}"]`);
  if (!li) {
    li = h("li", { "data-req": reqId }, h("span", { class: "who" }), " ", h("span", { class: "text" }), " ",
      h("span", { class: "badge" }), " ", h("span", { class: "speak muted" }));
    transcript.append(li);
  }
  return li;
}

function showUtterance(u) {
  const li = entryFor(u.req_id);
  li.querySelector(".who").textContent = u.by || pgettext("speaker", "console");
  li.title = u.at ? clockTime(u.at) : "";
  // Audio is 16 kHz 16-bit mono: 32000 bytes a second.
  li.querySelector(".text").textContent = u.text || format(gettext("(audio, %(seconds)s s)"),
    { seconds: (u.audio_bytes / 32000).toLocaleString(document.documentElement.lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) });
  const badge = li.querySelector(".badge");
  badge.textContent = utteranceStateLabel(u.state);
  badge.className = `badge state-${u.state}`;
  badge.title = u.state === "failed" ? consoleWords(u.error) : "";
  if (u.start_ms != null && !li.querySelector(".latency")) {
    li.append(" ", h("span", { class: "latency muted" },
      format(gettext("started speaking after %(ms)s ms"), { ms: u.start_ms })));
  }
  follow();
}

function showSpeak(data) {
  if (!data.req_id || !SPEAK_TRAIL.has(data.speak_status)) return;
  const li = transcript.querySelector(`li[data-req="${CSS.escape(data.req_id)}"]`);
  if (!li) return;
  const trail = li.querySelector(".speak");
  trail.textContent = trail.textContent ? `${trail.textContent} → ${data.speak_status}` : data.speak_status;
}

// The bot's answer to an utterance grows piece by piece; after a reload it is already listed.
function showBot(event) {
  const req = event.data.req_id;
  let li = transcript.querySelector(`li.bot[data-bot="${CSS.escape(req)}"]`);
  if (!li) {
    li = h("li", { class: "bot", "data-bot": req, title: clockTime(event.at) },
      h("span", { class: "who" }, gettext("avatar (bot)")), " ", h("span", { class: "text" }));
    transcript.append(li);
  }
  li.querySelector(".text").textContent += event.message;
  follow();
}

export function showProblem(text) {
  if (!transcript) return;
  transcript.append(h("li", { class: "problem", title: clockTime(Date.now()) },
    h("span", { class: "who" }, pgettext("speaker", "console")), " ", h("span", { class: "text" }, text)));
  follow();
}

if (transcript) {
  // What the page was rendered with is as the console stored it, in English.
  transcript.querySelectorAll("li.problem .text").forEach((el) => { el.textContent = consoleWords(el.textContent); });
  transcript.querySelectorAll(".badge[title]").forEach((el) => { el.title = consoleWords(el.title); });
  document.addEventListener("session-message", (event) => {
    const msg = event.detail;
    if (msg.type === "utterance") showUtterance(msg);
    else if (msg.type === "event" && msg.event.kind === "speak") showSpeak(msg.event.data);
    else if (msg.type === "event" && msg.event.kind === "llm") showBot(msg.event);
    else if (msg.type === "event" && msg.event.kind === "error") showProblem(consoleWords(msg.event.message));
  });
}

import { connectLive, escapeText, sinceText } from "./live.js";

const LIVE = new Set(["preparing", "ready", "started", "closing"]);
const liveBody = document.querySelector("#live-sessions tbody");
const recentBody = document.querySelector("#recent-sessions tbody");
const emptyNote = document.querySelector(".empty");

function rowHtml(s) {
  return `<td><a href="${s.url}">${escapeText(s.session_id)}</a></td>
    <td><span class="badge status-${s.status}" data-field="status">${s.status}</span></td>
    <td><time datetime="${s.created_at}" data-age>${sinceText(s.created_at)}</time></td>
    <td>${escapeText(s.creator || "—")}</td><td>${escapeText(s.source)}</td>
    <td>${escapeText(s.protocol)}</td><td>${escapeText(s.account)}</td>`;
}

function upsert(s) {
  let row = document.querySelector(`[data-session-row="${s.id}"]`);
  if (!row) {
    row = document.createElement("tr");
    row.dataset.sessionRow = s.id;
  }
  row.innerHTML = rowHtml(s);
  const body = LIVE.has(s.status) ? liveBody : recentBody;
  if (row.parentElement !== body) body.prepend(row);
  emptyNote.hidden = liveBody.children.length > 0;
}

function tickAges() {
  document.querySelectorAll("[data-age]").forEach((el) => { el.textContent = sinceText(el.getAttribute("datetime")); });
}

connectLive("/ws/dashboard/", { onMessage: (msg) => { if (msg.type === "session") upsert(msg.session); } });
tickAges();
setInterval(tickAges, 5000);

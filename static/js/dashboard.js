import { connectLive, escapeText, sinceText } from "./live.js";

const LIVE = new Set(["preparing", "ready", "started", "closing"]);
const liveBody = document.querySelector("#live-sessions tbody");
const recentBody = document.querySelector("#recent-sessions tbody");
const emptyNote = document.querySelector(".empty");
const orphanBody = document.querySelector("#orphan-sessions tbody");
const orphansReadonly = document.querySelector("#orphans")?.hasAttribute("data-readonly");
const csrfToken = document.querySelector("#orphans input[name=csrfmiddlewaretoken]")?.value ?? "";

function rowHtml(s) {
  return `<td><a href="${s.url}">${escapeText(s.session_id)}</a></td>
    <td><span class="badge status-${s.status}" data-field="status">${s.status}</span></td>
    <td><time datetime="${s.created_at}" data-age>${sinceText(s.created_at)}</time></td>
    <td>${escapeText(s.creator || "—")}</td><td>${escapeText(s.source)}</td>
    <td>${escapeText(s.protocol)}</td><td>${escapeText(s.account)}</td>`;
}

function orphanActions(s) {
  if (orphansReadonly) return "";
  const form = (action, label, cls) => `<form method="post" action="/audit/orphans/${s.id}/${action}/">
    <input type="hidden" name="csrfmiddlewaretoken" value="${escapeText(csrfToken)}">
    <button type="submit"${cls}>${label}</button></form>`;
  return `<div class="actions">${form("adopt", "Adopt", "") + form("close", "Close", ' class="danger"')}</div>`;
}

// Orphans keep their own table with Adopt/Close while they are live and unadopted.
function upsertOrphan(s) {
  let row = orphanBody.querySelector(`[data-orphan-row="${s.id}"]`);
  if (!s.is_orphan || !LIVE.has(s.status) || s.status === "closing") { row?.remove(); return; }
  if (!row) {
    row = document.createElement("tr");
    row.dataset.orphanRow = s.id;
    orphanBody.prepend(row);
  }
  row.innerHTML = `<td><a href="${s.url}">${escapeText(s.session_id)}</a></td>
    <td><span class="badge status-${s.status}">${s.status}</span></td>
    <td><time datetime="${s.created_at}" data-age>${sinceText(s.created_at)}</time></td>
    <td>${escapeText(s.source)}</td><td>${escapeText(s.account)}</td>
    <td>${orphanActions(s)}</td>`;
}

function upsert(s) {
  if (orphanBody) upsertOrphan(s);
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
